// `walvault restore --target-action promote|pause|shutdown` against a real PostgreSQL of the version under test: a
// streamed cluster with a backup, four rows committed one by one after it, and a restore to a time between the
// second and the third. Each action is checked for what the server then really does, whether it is started with a
// plain `pg_ctl start` or by `restore --start`:
//   promote   the server leaves recovery and is writable, with exactly rows 1 and 2;
//   pause     it stays in recovery, paused at the target (pg_get_wal_replay_pause_state() = 'paused'), rows 1
//             and 2 visible read-only; pg_wal_replay_resume() then ends recovery;
//   shutdown  it reaches the target and stops by itself, still a cluster in recovery (pg_control "shut down in
//             recovery", recovery.signal kept): a later start replays to the target and stops again, and with
//             the action changed to promote it comes up with rows 1 and 2.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "archive_fixture.hpp"

namespace {

using walvault::test::read_text;

namespace fs = std::filesystem;
using walvault::test::ArchivedCluster;
using walvault::test::ProcessResult;
using walvault::test::RestoredServer;
using walvault::test::wait_until;

// A streamed cluster with a backup, then rows 1..4 in table ticks, each committed on its own; target is a time
// after row 2 committed and before row 3 did. The index holds a commit after the target when this returns.
struct Scenario {
  ArchivedCluster ac;
  std::string target;

  explicit Scenario(walvault::test::ClusterOptions options = {}) : ac(std::move(options)) {
    ac.pg().exec("CREATE TABLE ticks (id int PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())");
    ac.start_streamer();
    ac.backup();
    for (int k = 1; k <= 4; ++k) {
      ac.pg().exec("INSERT INTO ticks (id) VALUES (" + std::to_string(k) + ")");
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (k == 2) target = ac.pg().scalar("SELECT clock_timestamp()::text");
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ac.wait_durable();
    // The index is published within about a second of the WAL: wait until it places the target.
    REQUIRE(wait_until(
        [&] {
          const auto r = ac.walvault({"locate", "--repo", ac.repo(), "--time", target, "--json"});
          return r.exit_code == 0 && nlohmann::json::parse(r.out)["first_after"].is_object();
        },
        std::chrono::seconds(20)));
  }

  [[nodiscard]] ProcessResult restore(const RestoredServer& server, const std::vector<std::string>& extra) const {
    std::vector<std::string> args = {"restore",      "--repo",     ac.repo(),
                                     "--target-dir", server.dir(), "--time",
                                     target,         "--port",     std::to_string(server.port())};
    args.insert(args.end(), extra.begin(), extra.end());
    return ac.walvault(args);
  }

  [[nodiscard]] std::string dir(const std::string& name) { return ac.pg().work_dir() + "/" + name; }
};

std::string rows(const RestoredServer& s) {
  return s.scalar("SELECT string_agg(id::text, ',' ORDER BY id) FROM ticks");
}

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("restore --target-action promote (the default): writable with exactly the rows at the target",
          "[integration][restore]") {
  Scenario s;
  RestoredServer server(s.dir("promote"), walvault::test::free_port());
  const auto restored = s.restore(server, {});
  INFO(restored.out << restored.err);
  REQUIRE(restored.exit_code == 0);
  CHECK(restored.out.find("start it with: pg_ctl start -D") != std::string::npos);
  CHECK(read_text(server.dir() + "/postgresql.auto.conf").find("recovery_target_action = 'promote'") !=
        std::string::npos);

  const auto started = server.start(true);
  INFO(started.out << started.err << read_text(server.dir() + ".log"));
  REQUIRE(started.exit_code == 0);
  REQUIRE(wait_until([&] { return server.scalar("SELECT pg_is_in_recovery()") == "f"; }, std::chrono::seconds(30)));
  CHECK(rows(server) == "1,2");
  CHECK(server.scalar("SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)") == "00000002");
  CHECK(server.psql("INSERT INTO ticks (id) VALUES (100)").exit_code == 0);
  CHECK(rows(server) == "1,2,100");
  CHECK(server.cluster_state() == "in production");
  CHECK_FALSE(fs::exists(server.dir() + "/recovery.signal"));

  // restore --start reports PostgreSQL's own reason when recovery fails: here the backup's first WAL segment is
  // damaged in (a copy of) the repository, so wal-fetch refuses it and the startup process dies.
  const auto dry = s.ac.walvault(
      {"restore", "--repo", s.ac.repo(), "--target-dir", s.dir("unused"), "--time", s.target, "--dry-run", "--json"});
  REQUIRE(dry.exit_code == 0);
  const std::string first = nlohmann::json::parse(dry.out)["wal"][0]["first_segment"].get<std::string>();
  const std::string damaged = s.dir("damaged-repo");
  fs::copy(s.ac.repo(), damaged, fs::copy_options::recursive);
  walvault::test::flip_byte(damaged + "/wal/" + first + ".wvs", 200);
  walvault::test::give_to_postgres(damaged);
  RestoredServer failing(s.dir("failing"), walvault::test::free_port());
  const auto failed = s.ac.walvault({"restore", "--repo", damaged, "--target-dir", failing.dir(), "--time", s.target,
                                     "--start", "--port", std::to_string(failing.port())});
  INFO(failed.out << failed.err << read_text(failing.dir() + "/walvault-restore.log"));
  CHECK(failed.exit_code == 6);
  CHECK(failed.err.find("the restored server did not reach the target") != std::string::npos);
  CHECK(failed.err.find("could not restore file \"" + first + "\" from archive") != std::string::npos);
  CHECK_FALSE(failing.running());
}

TEST_CASE("restore --target-action pause: stays in recovery, paused at the target, read-only",
          "[integration][restore]") {
  // The backup's own configuration has hot standby off, with which PostgreSQL turns pause into shutdown: the
  // restore must switch it on for a pause to happen.
  Scenario s({.settings = {"hot_standby = off"}});
  {  // restore --start waits for the pause and reports it
    RestoredServer server(s.dir("pause-start"), walvault::test::free_port());
    const auto restored = s.restore(server, {"--target-action", "pause", "--start"});
    INFO(restored.out << restored.err << read_text(server.dir() + "/walvault-restore.log"));
    REQUIRE(restored.exit_code == 0);
    CHECK(restored.out.find("target reached: server paused at the target on port " + std::to_string(server.port())) !=
          std::string::npos);
    CHECK(restored.out.find("recovery stopping before commit of transaction") != std::string::npos);
    REQUIRE(server.running());
    CHECK(server.scalar("SELECT pg_is_in_recovery()") == "t");
    CHECK(server.scalar("SELECT pg_get_wal_replay_pause_state()") == "paused");
    CHECK(rows(server) == "1,2");
    const auto write = server.psql("INSERT INTO ticks (id) VALUES (100)");
    CHECK(write.exit_code != 0);
    CHECK(write.err.find("cannot execute INSERT in a read-only transaction") != std::string::npos);
    // Still paused a moment later: it does not go on replaying by itself.
    std::this_thread::sleep_for(std::chrono::seconds(1));
    CHECK(server.scalar("SELECT pg_get_wal_replay_pause_state()") == "paused");
    CHECK(rows(server) == "1,2");

    // Resuming at a pause target ends recovery (PostgreSQL promotes), with the same rows.
    (void)server.scalar("SELECT pg_wal_replay_resume()");
    REQUIRE(wait_until([&] { return server.scalar("SELECT pg_is_in_recovery()") == "f"; }, std::chrono::seconds(30)));
    CHECK(rows(server) == "1,2");
    CHECK(server.psql("INSERT INTO ticks (id) VALUES (100)").exit_code == 0);
  }
  {  // a plain pg_ctl start of the same settings pauses as well
    RestoredServer server(s.dir("pause-plain"), walvault::test::free_port());
    const auto restored = s.restore(server, {"--target-action", "pause"});
    INFO(restored.out << restored.err);
    REQUIRE(restored.exit_code == 0);
    const auto started = server.start(true);
    INFO(started.err << read_text(server.dir() + ".log"));
    REQUIRE(started.exit_code == 0);
    REQUIRE(wait_until([&] { return server.scalar("SELECT pg_get_wal_replay_pause_state()") == "paused"; },
                       std::chrono::seconds(30)));
    CHECK(server.scalar("SELECT pg_is_in_recovery()") == "t");
    CHECK(rows(server) == "1,2");
  }
}

TEST_CASE("restore --target-action shutdown: stops by itself at the target, still in recovery",
          "[integration][restore]") {
  Scenario s;
  RestoredServer server(s.dir("shutdown"), walvault::test::free_port());
  const auto restored = s.restore(server, {"--target-action", "shutdown", "--start"});
  const std::string start_log = server.dir() + "/walvault-restore.log";
  INFO(restored.out << restored.err << read_text(start_log));
  REQUIRE(restored.exit_code == 0);
  CHECK(restored.out.find("target reached: server shut down at the target") != std::string::npos);
  CHECK(restored.out.find("recovery stopping before commit of transaction") != std::string::npos);
  CHECK_FALSE(server.running());
  CHECK_FALSE(fs::exists(server.dir() + "/postmaster.pid"));
  CHECK(count_of(read_text(start_log), "shutdown at recovery target") == 1);
  // Not a cluster in production: it stopped inside recovery, and recovery.signal is still there.
  CHECK(server.cluster_state() == "shut down in recovery");
  CHECK(fs::exists(server.dir() + "/recovery.signal"));

  // A later plain start replays to the target again and stops again by itself.
  (void)server.start(false);
  const std::string plain_log = server.dir() + ".log";
  REQUIRE(wait_until([&] { return count_of(read_text(plain_log), "shutdown at recovery target") == 1; },
                     std::chrono::seconds(30)));
  REQUIRE(wait_until([&] { return !server.running(); }, std::chrono::seconds(30)));
  CHECK(server.cluster_state() == "shut down in recovery");

  // What shutdown is for: change the settings, then start it for good.
  std::ofstream(server.dir() + "/postgresql.auto.conf", std::ios::app) << "recovery_target_action = 'promote'\n";
  const auto started = server.start(true);
  INFO(started.err << read_text(plain_log));
  REQUIRE(started.exit_code == 0);
  REQUIRE(wait_until([&] { return server.scalar("SELECT pg_is_in_recovery()") == "f"; }, std::chrono::seconds(30)));
  CHECK(rows(server) == "1,2");
  CHECK(server.cluster_state() == "in production");

  // A port that is taken is refused before anything is extracted (restore_end_test has the other preconditions).
  RestoredServer busy(s.dir("busy-port"), s.ac.pg().port());
  const auto refused = s.restore(busy, {"--target-action", "shutdown", "--start"});
  INFO(refused.out << refused.err);
  CHECK(refused.exit_code == 2);
  CHECK(refused.err.find("port " + std::to_string(s.ac.pg().port()) + " is in use on 127.0.0.1") != std::string::npos);
  CHECK_FALSE(fs::exists(busy.dir()));
}

TEST_CASE("restore --start sees the server's messages when the backup's configuration has a logging collector",
          "[integration][restore]") {
  // With logging_collector = on the server writes its messages into log/ in the data directory, not to the file
  // restore --start reads: "shutdown at recovery target" and "recovery stopping" must still reach it.
  Scenario s({.settings = {"logging_collector = on"}});
  RestoredServer server(s.dir("collector"), walvault::test::free_port());
  const auto restored = s.restore(server, {"--target-action", "shutdown", "--start"});
  INFO(restored.out << restored.err << read_text(server.dir() + "/walvault-restore.log"));
  REQUIRE(restored.exit_code == 0);
  CHECK(restored.out.find("target reached: server shut down at the target") != std::string::npos);
  CHECK(restored.out.find("recovery stopping before commit of transaction") != std::string::npos);
  CHECK(server.cluster_state() == "shut down in recovery");
  // Only that start is changed: the cluster keeps the backup's logging settings.
  CHECK(read_text(server.dir() + "/postgresql.conf").find("logging_collector = on") != std::string::npos);
}
