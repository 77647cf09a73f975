// Fault: kill -9 of the streamer at random moments under pgbench load. Afterwards the repository has no gap,
// verifies clean, and a restore to the latest point matches the server's data (row counts and md5 of every
// pgbench table). 3 trials run in the default suite; the test tagged [.long] (hidden: ctest does not run it, run
// it with `walvault_integration_tests "[long]"`) does 20.
#include <catch2/catch.hpp>

#include <csignal>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "archive_fixture.hpp"

using nlohmann::json;
using walvault::test::ArchivedCluster;
using walvault::test::Background;

namespace {

constexpr const char* kTableChecksums =
    "SELECT string_agg(t || '=' || n, ' ' ORDER BY t) FROM ("
    " SELECT 'accounts' t, count(*) || ':' || md5(string_agg(aid || ',' || abalance, ';' ORDER BY aid)) n FROM pgbench_accounts"
    " UNION ALL SELECT 'branches', count(*) || ':' || md5(string_agg(bid || ',' || bbalance, ';' ORDER BY bid)) FROM pgbench_branches"
    " UNION ALL SELECT 'tellers', count(*) || ':' || md5(string_agg(tid || ',' || tbalance, ';' ORDER BY tid)) FROM pgbench_tellers"
    " UNION ALL SELECT 'history', count(*) || ':' || md5(string_agg(tid || ',' || aid || ',' || delta || ',' || mtime, ';'"
    "   ORDER BY mtime, tid, aid, delta)) FROM pgbench_history) s";

void kill_trials(int trials) {
  ArchivedCluster a;
  a.start_streamer();
  const auto init = a.pg().run_pg_program("pgbench", {"-i", "-s", "2", "-q", "postgres"});
  REQUIRE(init.exit_code == 0);
  a.backup();

  const unsigned seed = std::random_device{}();
  INFO("seed " << seed);
  std::mt19937 random(seed);
  std::uniform_int_distribution<int> run_ms(300, 2500);
  std::uniform_int_distribution<int> down_ms(0, 800);
  // pgbench runs as this process's user (a client needs no server files), so SIGINT reaches it directly.
  Background load({walvault::test::pg_program("pgbench"), "-h", "127.0.0.1", "-p", std::to_string(a.pg().port()),
                   "-U", "postgres", "-n", "-c", "4", "-j", "2", "-T", "600", "postgres"},
                  a.pg().work_dir() + "/pgbench.log");
  for (int trial = 0; trial < trials; ++trial) {
    std::this_thread::sleep_for(std::chrono::milliseconds(run_ms(random)));
    a.stop_streamer(SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(down_ms(random)));
    a.start_streamer();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(run_ms(random)));
  load.stop(SIGINT);
  REQUIRE(walvault::test::wait_until(
      [&] { return a.pg().scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgbench'") == "0"; },
      std::chrono::seconds(30)));

  const std::string expected = a.pg().scalar(kTableChecksums);
  a.switch_and_archive(std::chrono::seconds(120));
  a.wait_durable(std::chrono::seconds(120));
  a.stop_streamer(SIGTERM);

  const auto verify = a.walvault({"verify", "--repo", a.repo(), "--full", "--json"});
  INFO(verify.out);
  CHECK(verify.exit_code == 0);
  const auto list = json::parse(a.walvault({"list", "--repo", a.repo(), "--json"}).out);
  CHECK(list["gaps"].empty());

  const std::string target = a.pg().work_dir() + "/restored";
  const int port = walvault::test::free_port();
  const auto restore = a.walvault({"restore", "--repo", a.repo(), "--target-dir", target, "--latest", "--start",
                                   "--port", std::to_string(port)});
  INFO(restore.out << restore.err);
  REQUIRE(restore.exit_code == 0);
  const auto restored = walvault::test::run(
      walvault::test::as_postgres({walvault::test::pg_program("psql"), "-X", "-A", "-t", "-h", "127.0.0.1", "-p",
                                   std::to_string(port), "-U", "postgres", "-c", kTableChecksums, "postgres"}));
  walvault::test::run(walvault::test::as_postgres(
      {walvault::test::pg_bindir() + "/pg_ctl", "-D", target, "-m", "immediate", "-w", "stop"}));
  REQUIRE(restored.exit_code == 0);
  CHECK(restored.out.substr(0, restored.out.find_last_not_of('\n') + 1) == expected);
}

}  // namespace

TEST_CASE("fault: kill -9 of the streamer under pgbench load (3 trials)", "[integration][fault]") { kill_trials(3); }

TEST_CASE("fault: kill -9 of the streamer under pgbench load (20 trials)", "[.long][integration][fault]") {
  kill_trials(20);
}
