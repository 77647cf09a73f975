// `walvault stream` keeps going: a terminated walsender and a PostgreSQL restart are reconnected, a promoted
// standby's new timeline is followed with its history file stored, and a restart the server cannot serve keeps the
// durable position.
#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "archive_fixture.hpp"
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

// The slot is moved past the tip's segment while the streamer is down, and the server removes that segment: the
// restarted streamer cannot fetch it again. What the tip holds stays the durable position (it is never rewritten
// to the segment start), and a restore to the latest point has every row committed before the stop.
TEST_CASE("a server that removed the WAL the repository needs stops the streamer, and new-chain declares the gap and "
          "a backup after it restores the rest",
          "[integration][stream][once]") {
  ArchivedCluster a;
  PgCluster& pg = a.pg();
  a.start_streamer();
  pg.exec("CREATE TABLE kept (id int)");
  const std::string old_backup = a.backup();
  for (int i = 0; i < 4; ++i) pg.exec("INSERT INTO kept SELECT generate_series(1, 100) + " + std::to_string(100 * i));
  const std::string last_xid =
      pg.scalar("WITH i AS (INSERT INTO kept SELECT generate_series(401, 500) RETURNING 1) SELECT txid_current()");
  a.wait_durable();
  const auto held = stream_state(a.repo());
  REQUIRE(held);
  a.stop_streamer(SIGTERM);
  const std::string expected = pg.scalar("SELECT count(*) || ':' || sum(id) FROM kept");

  REQUIRE(wait_until(
      [&] { return pg.scalar("SELECT active FROM pg_replication_slots WHERE slot_name = 'walvault_repo'") == "f"; },
      std::chrono::seconds(20)));
  const auto in_pg_wal = [&] {
    return pg.scalar("SELECT count(*) FROM pg_ls_waldir() WHERE name = '" + held->segment + "'") == "1";
  };
  for (int i = 0; i < 5 && in_pg_wal(); ++i) {
    pg.exec("SELECT txid_current()");  // a record, so that the switch ends the segment
    pg.exec("SELECT pg_switch_wal()");
    pg.exec("SELECT pg_replication_slot_advance('walvault_repo', pg_current_wal_lsn())");
    pg.exec("CHECKPOINT");
  }
  REQUIRE_FALSE(in_pg_wal());

  // The streamer is refused the segment, says so in the server's words with what to do, and stops: retrying
  // cannot bring the WAL back.
  a.start_streamer();
  REQUIRE(wait_until([&] { return !a.streamer_running(); }, std::chrono::seconds(30)));
  const std::string log = a.streamer_log();
  INFO(log);
  CHECK(log.find("has already been removed") != std::string::npos);
  CHECK(log.find("retrying cannot fill that gap") != std::string::npos);
  CHECK(log.find("walvault new-chain") != std::string::npos);
  CHECK(log.find("retrying in") == std::string::npos);
  // The slot was moved past what the repository holds: status says broken, and why.
  const auto status = a.walvault({"status", "--repo", a.repo(), "--json"});
  INFO(status.out);
  CHECK(status.exit_code == 11);
  CHECK(nlohmann::json::parse(status.out)["slot"]["problem"].get<std::string>().find("ahead of the repository") !=
        std::string::npos);
  const auto durable = walvault::wal::Lsn::parse(nlohmann::json::parse(status.out)["durable_lsn"].get<std::string>());
  REQUIRE(durable);
  CHECK(*durable >= held->durable_lsn);

  {
    // Everything acknowledged before the loss is restorable.
    RestoredServer server(pg.work_dir() + "/latest", free_port());
    const auto r = a.walvault({"restore", "--repo", a.repo(), "--target-dir", server.dir(), "--latest", "--start",
                               "--port", std::to_string(server.port())});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(server.scalar("SELECT count(*) || ':' || sum(id) FROM kept") == expected);
  }

  // The operator's one action: a new WAL chain on a fresh slot. A sound slot is refused afterwards.
  const auto renewed = a.walvault({"new-chain", "--repo", a.repo(), "--json"});
  INFO(renewed.out << renewed.err);
  REQUIRE(renewed.exit_code == 0);
  const auto chain = nlohmann::json::parse(renewed.out);
  CHECK(chain["previous_end_lsn"] == durable->to_string());
  const auto again = a.walvault({"new-chain", "--repo", a.repo()});
  CHECK(again.exit_code == 3);
  CHECK(again.err.find("is sound") != std::string::npos);

  a.start_streamer();
  pg.exec("CREATE TABLE after_gap AS SELECT generate_series(1, 300) AS id");
  a.wait_durable();
  // The gap is declared, not damage; the old backup's window ends before it; nothing after it is restorable yet.
  const auto list = a.walvault({"list", "--repo", a.repo(), "--json"});
  INFO(list.out);
  REQUIRE(list.exit_code == 0);
  const auto gaps = nlohmann::json::parse(list.out)["gaps"];
  REQUIRE(gaps.size() == 1);
  CHECK(gaps[0]["declared"] == true);
  CHECK(gaps[0]["from_lsn"] == durable->to_string());
  CHECK(gaps[0]["to_lsn"] == chain["start_lsn"]);
  const auto verify = a.walvault({"verify", "--repo", a.repo(), "--json"});
  INFO(verify.out << verify.err);
  CHECK(verify.exit_code == 0);
  CHECK(nlohmann::json::parse(verify.out)["declared_gaps"].size() == 1);
  const auto unbacked = a.walvault({"status", "--repo", a.repo(), "--json"});
  CHECK(unbacked.exit_code == 11);
  CHECK(unbacked.out.find("no backup since the WAL chain restarted") != std::string::npos);
  const auto check = a.walvault({"check", "--repo", a.repo(), "--json"});
  CHECK(check.exit_code == 11);
  CHECK(check.out.find("no backup since the WAL chain restarted") != std::string::npos);
  {
    RestoredServer server(pg.work_dir() + "/short", free_port());
    const auto r = a.walvault({"restore", "--repo", a.repo(), "--target-dir", server.dir(), "--latest"});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 6);
  }
  {
    // The old chain stays restorable up to its end, from the archived partial segment the streamer closed it with.
    RestoredServer server(pg.work_dir() + "/old-chain", free_port());
    const auto r = a.walvault({"restore", "--repo", a.repo(), "--target-dir", server.dir(), "--backup", old_backup,
                               "--xid", last_xid, "--start", "--port", std::to_string(server.port())});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(server.scalar("SELECT count(*) || ':' || sum(id) FROM kept") == expected);
  }

  (void)a.backup();
  pg.exec("INSERT INTO after_gap SELECT generate_series(301, 400)");
  a.wait_durable();
  const auto healthy = a.walvault({"status", "--repo", a.repo(), "--json"});
  INFO(healthy.out);
  CHECK(healthy.out.find("no backup since the WAL chain restarted") == std::string::npos);
  CHECK(nlohmann::json::parse(healthy.out)["slot"]["problem"].is_null());
  a.stop_streamer(SIGTERM);
  RestoredServer server(pg.work_dir() + "/after", free_port());
  const auto r = a.walvault({"restore", "--repo", a.repo(), "--target-dir", server.dir(), "--latest", "--start",
                             "--port", std::to_string(server.port())});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(server.scalar("SELECT count(*) || ':' || sum(id) FROM kept") == expected);
  CHECK(server.scalar("SELECT count(*) FROM after_gap") == "400");
}
