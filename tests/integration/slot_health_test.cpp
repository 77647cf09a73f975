// A replication slot the server invalidated (max_slot_wal_keep_size, with the streamer down while WAL piles up)
// is reported the day it happens, against a real PostgreSQL: `status` says broken and why (exit 11, JSON "slot",
// walvault_slot_ok 0), `check` fails, `init` refuses to paper over it with a new slot, and the streamer stops with
// the server's account of the slot instead of retrying. `walvault new-chain` is the way on: the gap is declared,
// and status stays broken until a backup is taken after it. Before that, on the sound repository, `check` passes
// every probe, a forced WAL switch reaching the repository included.
#include <catch2/catch.hpp>
#include <csignal>
#include <nlohmann/json.hpp>

#include "archive_fixture.hpp"

using nlohmann::json;
using walvault::test::ArchivedCluster;
using walvault::test::wait_until;

TEST_CASE("an invalidated slot makes status broken and stops the streamer, and new-chain starts a new WAL chain",
          "[integration][status][slot][once]") {
  ArchivedCluster ac({.settings = {"max_slot_wal_keep_size = 32MB", "wal_keep_size = 0"}});
  ac.pg().exec("CREATE TABLE t (id int, v text)");
  ac.start_streamer();
  ac.backup();
  ac.wait_durable();
  {
    const auto healthy = ac.walvault({"status", "--repo", ac.repo(), "--json"});
    INFO(healthy.out << healthy.err);
    CHECK(healthy.exit_code == 0);
    CHECK(json::parse(healthy.out)["health"] == "healthy");
    CHECK(json::parse(healthy.out)["slot"]["problem"].is_null());
    CHECK(json::parse(healthy.out)["slot"]["wal_status"] == "reserved");
    const auto metrics = ac.walvault({"status", "--repo", ac.repo(), "--prometheus"});
    CHECK(metrics.out.find("\nwalvault_slot_safe_wal_size_bytes ") != std::string::npos);
    // Without a recorded verify, check fails on that alone; after one, every probe passes.
    const auto unverified = ac.walvault({"check", "--repo", ac.repo(), "--json"});
    CHECK(unverified.exit_code == 11);
    const auto verified = ac.walvault({"verify", "--repo", ac.repo()});
    INFO(verified.out << verified.err);
    REQUIRE(verified.exit_code == 0);
    const auto checked = ac.walvault({"check", "--repo", ac.repo(), "--json"});
    INFO(checked.out << checked.err);
    CHECK(checked.exit_code == 0);
    const json c = json::parse(checked.out);
    CHECK(c["ok"] == true);
    REQUIRE(c["checks"].size() == 6);
    CHECK(c["checks"][3]["name"] == "archiving");
    CHECK(c["checks"][3]["detail"].get<std::string>().find("was archived as wal/") != std::string::npos);
  }
  ac.stop_streamer(SIGTERM);

  // With the streamer down, WAL beyond max_slot_wal_keep_size: the next checkpoint invalidates the slot.
  for (int i = 0; i < 6; ++i) {
    ac.pg().exec("INSERT INTO t SELECT g, repeat('x', 200) FROM generate_series(1, 40000) g");
    (void)ac.pg().scalar("SELECT pg_switch_wal()");
  }
  REQUIRE(wait_until(
      [&] {
        ac.pg().exec("CHECKPOINT");
        return ac.pg().scalar("SELECT wal_status FROM pg_replication_slots") == "lost";
      },
      std::chrono::seconds(60)));

  const auto status = ac.walvault({"status", "--repo", ac.repo(), "--json"});
  INFO(status.out << status.err);
  CHECK(status.exit_code == 11);
  const json j = json::parse(status.out);
  CHECK(j["health"] == "broken");
  CHECK(j["slot"]["problem"].get<std::string>().find("reserves no WAL: it was invalidated") != std::string::npos);
  const auto prom = ac.walvault({"status", "--repo", ac.repo(), "--prometheus"});
  CHECK(prom.exit_code == 11);
  CHECK(prom.out.find("\nwalvault_slot_ok 0\n") != std::string::npos);
  CHECK(prom.out.find("\nwalvault_health 2\n") != std::string::npos);

  const auto check = ac.walvault({"check", "--repo", ac.repo()});
  CHECK(check.exit_code == 11);
  CHECK(check.out.find("FAIL slot: the replication slot") != std::string::npos);
  CHECK(check.out.find("FAIL streamer: not running") != std::string::npos);
  CHECK(check.out.find("check FAILED") != std::string::npos);

  const auto init = ac.walvault({"init", "--repo", ac.repo(), "-d", ac.pg().conninfo()});
  CHECK(init.exit_code == 3);
  CHECK(init.err.find("was invalidated (it reserves no WAL)") != std::string::npos);

  // The streamer meets the lost slot at once and stops, in the server's words, with the one way on.
  ac.start_streamer();
  REQUIRE(wait_until([&] { return !ac.streamer_running(); }, std::chrono::seconds(60)));
  const std::string log = ac.streamer_log();
  INFO(log);
  CHECK(log.find("reserves no WAL: it was invalidated") != std::string::npos);
  CHECK(log.find("wal_status lost") != std::string::npos);
  CHECK(log.find("walvault new-chain") != std::string::npos);
  CHECK(log.find("retrying in") == std::string::npos);

  const auto renewed = ac.walvault({"new-chain", "--repo", ac.repo()});
  INFO(renewed.out << renewed.err);
  REQUIRE(renewed.exit_code == 0);
  CHECK(renewed.out.find("is lost: 'walvault list' shows it as a declared gap") != std::string::npos);
  ac.start_streamer();
  ac.pg().exec("INSERT INTO t VALUES (1, 'after')");
  ac.wait_durable();
  const auto unbacked = ac.walvault({"status", "--repo", ac.repo(), "--json"});
  INFO(unbacked.out);
  CHECK(unbacked.exit_code == 11);
  CHECK(json::parse(unbacked.out)["slot"]["problem"].is_null());
  CHECK(json::parse(unbacked.out)["reasons"][0].get<std::string>().find("no backup since the WAL chain restarted") !=
        std::string::npos);
  (void)ac.backup();
  const auto recovered = ac.walvault({"status", "--repo", ac.repo(), "--json"});
  INFO(recovered.out << recovered.err);
  CHECK(recovered.exit_code == 0);
  CHECK(json::parse(recovered.out)["health"] == "healthy");
}
