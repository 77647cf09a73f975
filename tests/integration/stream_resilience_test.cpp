// `walvault stream` keeps going: a terminated walsender and a PostgreSQL restart are reconnected, and a promoted
// standby's new timeline is followed with its history file stored.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "format/sealed_object.hpp"
#include "stream_support.hpp"

using namespace walvault::test;
using walvault::wal::TimelineId;

namespace {

void init_repo(const std::string& conninfo, const std::string& repo) {
  const auto r = walvault_cli({"init", "--repo", repo, "-d", conninfo});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
}

void make_wal(const PgCluster& c, const std::string& table) {
  c.exec("CREATE TABLE " + table + " AS SELECT g AS id, repeat('x', 200) AS pad FROM generate_series(1, 20000) g");
}

}  // namespace

TEST_CASE("stream reconnects after pg_terminate_backend and a server restart", "[integration][stream]") {
  PgCluster cluster({.settings = {"wal_keep_size = 1GB"}});
  const std::string repo = cluster.work_dir() + "/repo";
  init_repo(cluster.conninfo(), repo);
  Background streamer(as_postgres({WALVAULT_BINARY, "stream", "--repo", repo}), cluster.work_dir() + "/stream.log");
  REQUIRE(wait_until([&] { return cluster.scalar("SELECT count(*) FROM pg_stat_replication") == "1"; },
                     std::chrono::seconds(10)));

  cluster.exec("SELECT pg_terminate_backend(pid) FROM pg_stat_replication");
  make_wal(cluster, "after_terminate");
  CHECK(wait_durable(repo, server_lsn(cluster), std::chrono::seconds(20)));
  CHECK(streamer.running());

  cluster.restart();
  make_wal(cluster, "after_restart");
  CHECK(wait_durable(repo, server_lsn(cluster), std::chrono::seconds(40)));
  CHECK(streamer.running());

  signal_streamer(repo, SIGTERM);
  CHECK(streamer.stop(0, std::chrono::seconds(20)) == 0);
  const auto check = check_segments(repo, cluster.data_dir() + "/pg_wal", TimelineId(1));
  CHECK(check.mismatches.empty());
  CHECK(tip_matches(repo, cluster.data_dir() + "/pg_wal"));
  std::ifstream log(cluster.work_dir() + "/stream.log");
  const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  CHECK(text.find("reconnecting") != std::string::npos);
}

TEST_CASE("stream follows a promoted standby onto its new timeline", "[integration][stream][pg15-tools]") {
  PgCluster primary({.settings = {"wal_keep_size = 1GB"}});
  const StreamingStandby standby(primary);
  const std::string repo = primary.work_dir() + "/repo";
  init_repo(standby.conninfo(), repo);
  Background streamer(as_postgres({WALVAULT_BINARY, "stream", "--repo", repo}), primary.work_dir() + "/stream.log");
  REQUIRE(wait_until([&] { return streamer_pid(repo).has_value(); }, std::chrono::seconds(10)));

  make_wal(primary, "before_promotion");
  primary.exec("SELECT pg_switch_wal()");
  const auto primary_end = server_lsn(primary);
  REQUIRE(wait_until([&] { return walvault::wal::Lsn::parse(standby.scalar("SELECT pg_last_wal_replay_lsn()"))
                                      .value_or(walvault::wal::Lsn()) >= primary_end; },
                     std::chrono::seconds(20)));
  REQUIRE(wait_durable(repo, primary_end, std::chrono::seconds(20)));

  standby.promote();
  REQUIRE(wait_until([&] { return standby.scalar("SELECT pg_is_in_recovery()") == "f"; }, std::chrono::seconds(20)));
  (void)standby.scalar("CREATE TABLE after_promotion AS SELECT g FROM generate_series(1, 20000) g");
  (void)standby.scalar("SELECT pg_switch_wal()");
  (void)standby.scalar("CREATE TABLE after_switch AS SELECT 1 AS x");
  const auto new_end = walvault::wal::Lsn::parse(standby.scalar("SELECT pg_current_wal_flush_lsn()")).value();

  REQUIRE(wait_until(
      [&] {
        const auto s = stream_state(repo);
        return s && s->timeline == TimelineId(2) && s->durable_lsn >= new_end;
      },
      std::chrono::seconds(30)));
  CHECK(std::filesystem::exists(repo + "/wal/00000002.history"));
  std::ifstream history(repo + "/wal/00000002.history");
  const std::string content((std::istreambuf_iterator<char>(history)), std::istreambuf_iterator<char>());
  const auto opened = walvault::format::open_sealed_text(content, walvault::format::SealRule::kRequired);
  REQUIRE(opened);
  CHECK(opened->text.rfind("1\t", 0) == 0);

  signal_streamer(repo, SIGTERM);
  CHECK(streamer.stop(0, std::chrono::seconds(20)) == 0);
  const auto tli2 = check_segments(repo, standby.data_dir() + "/pg_wal", TimelineId(2));
  INFO(tli2.mismatches.size() << " mismatches, first: " << (tli2.mismatches.empty() ? "" : tli2.mismatches[0]));
  CHECK(tli2.segments.size() >= 1);
  CHECK(tli2.mismatches.empty());
  CHECK(tip_matches(repo, standby.data_dir() + "/pg_wal"));
}
