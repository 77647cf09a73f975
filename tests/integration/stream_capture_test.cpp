// `walvault stream` under pgbench load: every archived segment is byte-identical to the server's pg_wal file,
// the tip matches up to the durable LSN, status reports it, and kill -9 during load leaves no gap.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "stream_support.hpp"

using namespace walvault::test;
using walvault::wal::TimelineId;

namespace {

std::string pgbench_log(const PgCluster& c, const std::string& name) { return c.work_dir() + "/" + name + ".log"; }

std::vector<std::string> pgbench_args(const PgCluster& c, std::vector<std::string> extra) {
  std::vector<std::string> args = {pg_program("pgbench"), "-h", "127.0.0.1", "-p", std::to_string(c.port()),
                                   "-U", "postgres"};
  args.insert(args.end(), extra.begin(), extra.end());
  args.push_back("postgres");
  return as_postgres(args);
}

void init_repo(const PgCluster& c, const std::string& repo) {
  const auto r = walvault_cli({"init", "--repo", repo, "-d", c.conninfo()});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
}

}  // namespace

TEST_CASE("stream archives segments byte for byte under pgbench load", "[integration][stream]") {
  PgCluster cluster({.settings = {"wal_keep_size = 2GB"}});
  const std::string repo = cluster.work_dir() + "/repo";
  init_repo(cluster, repo);
  REQUIRE(cluster.run_pg_program("pgbench", {"-i", "-s", "3", "postgres"}).exit_code == 0);

  Background streamer(as_postgres({WALVAULT_BINARY, "stream", "--repo", repo}), cluster.work_dir() + "/stream.log");
  REQUIRE(wait_until([&] { return streamer_pid(repo).has_value(); }, std::chrono::seconds(10)));

  // A second streamer is refused while the first runs.
  const auto second = walvault_cli({"stream", "--repo", repo});
  CHECK(second.exit_code == 3);
  CHECK(second.err.find("repository is locked by another streamer (pid ") != std::string::npos);

  const auto load = run(pgbench_args(cluster, {"-T", "6", "-c", "2"}));
  REQUIRE(load.exit_code == 0);
  const auto target = server_lsn(cluster);
  REQUIRE(wait_durable(repo, target, std::chrono::seconds(20)));

  // Streaming, but without a backup nothing can be restored: status says broken, and why (exit 11).
  const auto status = walvault_cli({"status", "--repo", repo, "--json"});
  REQUIRE(status.exit_code == 11);
  const auto j = nlohmann::json::parse(status.out);
  CHECK(j["health"] == "broken");
  REQUIRE(j["reasons"].size() == 1);
  CHECK(j["reasons"][0] == "the repository holds no backup: nothing can be restored");
  CHECK(j["backups"] == 0);
  CHECK(j["repository_bytes"].get<uint64_t>() > 0);
  CHECK(j["streamer"]["running"] == true);
  CHECK(j["streamer"]["pid"].is_number());
  CHECK(j["server"]["reachable"] == true);
  CHECK(j["durable_lsn"].is_string());
  CHECK(j["received_lsn"].is_string());
  CHECK(j["lag_bytes"].is_number());
  CHECK(j["lag_seconds"].is_number());
  CHECK(j["timeline"] == 1);
  CHECK(j["current_segment"].is_string());
  CHECK(j["last_commit_time"].is_string());
  CHECK(j["segments_archived"].get<int>() >= 2);

  CHECK(tip_matches(repo, cluster.data_dir() + "/pg_wal"));
  signal_streamer(repo, SIGTERM);
  CHECK(streamer.stop(0, std::chrono::seconds(20)) == 0);

  const auto check = check_segments(repo, cluster.data_dir() + "/pg_wal", TimelineId(1));
  INFO(check.mismatches.size() << " mismatches, first: " << (check.mismatches.empty() ? "" : check.mismatches[0]));
  CHECK(check.segments.size() >= 2);
  CHECK(check.mismatches.empty());
  CHECK(tip_matches(repo, cluster.data_dir() + "/pg_wal"));

  const auto prom = walvault_cli({"status", "--repo", repo, "--prometheus"});
  CHECK(prom.exit_code == 11);
  CHECK(prom.out.find("# TYPE walvault_streamer_running gauge\nwalvault_streamer_running 0\n") != std::string::npos);
  CHECK(prom.out.find("\nwalvault_up 1\n") != std::string::npos);
  CHECK(prom.out.find("\nwalvault_health 2\n") != std::string::npos);
  CHECK(prom.out.find("walvault_durable_lsn_bytes ") != std::string::npos);
  CHECK(prom.err.find("the streamer is not running") != std::string::npos);
  // A repository that cannot be read is not an empty textfile: walvault_up 0, and the error.
  const auto gone = walvault_cli({"status", "--repo", repo + "-missing", "--prometheus"});
  CHECK(gone.exit_code == 3);
  CHECK(gone.out == "# HELP walvault_up Whether walvault could read the repository.\n# TYPE walvault_up gauge\n"
                    "walvault_up 0\n");
}

TEST_CASE("kill -9 of the streamer three times during load leaves no gap", "[integration][stream]") {
  PgCluster cluster({.settings = {"wal_keep_size = 2GB"}});
  const std::string repo = cluster.work_dir() + "/repo";
  init_repo(cluster, repo);
  REQUIRE(cluster.run_pg_program("pgbench", {"-i", "-s", "2", "postgres"}).exit_code == 0);

  Background load(pgbench_args(cluster, {"-T", "14", "-c", "2"}), pgbench_log(cluster, "pgbench"));
  for (int i = 0; i < 3; ++i) {
    Background streamer(as_postgres({WALVAULT_BINARY, "stream", "--repo", repo}),
                        cluster.work_dir() + "/stream" + std::to_string(i) + ".log");
    REQUIRE(wait_until([&] { return streamer_pid(repo) && streamer.running(); }, std::chrono::seconds(10)));
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    signal_streamer(repo, SIGKILL);
    CHECK(streamer.stop(0, std::chrono::seconds(10)) != 0);
  }
  Background streamer(as_postgres({WALVAULT_BINARY, "stream", "--repo", repo}), cluster.work_dir() + "/stream.log");
  REQUIRE(wait_until([&] { return !load.running(); }, std::chrono::seconds(30)));
  cluster.exec("SELECT pg_switch_wal()");
  cluster.exec("CREATE TABLE after_load AS SELECT 1 AS x");
  REQUIRE(wait_durable(repo, server_lsn(cluster), std::chrono::seconds(30)));
  signal_streamer(repo, SIGTERM);
  CHECK(streamer.stop(0, std::chrono::seconds(20)) == 0);

  const auto check = check_segments(repo, cluster.data_dir() + "/pg_wal", TimelineId(1));
  INFO(check.mismatches.size() << " mismatches, first: " << (check.mismatches.empty() ? "" : check.mismatches[0]));
  CHECK(check.segments.size() >= 3);
  CHECK(check.mismatches.empty());
  CHECK(tip_matches(repo, cluster.data_dir() + "/pg_wal"));
}
