// A restore never ends early in silence, and expire never removes what a restore reads, against a real PostgreSQL:
//   - restore --latest aims PostgreSQL at the last whole record the repository holds (recovery_target_lsn), so a
//     server that cannot read all of it (the streamer's tip gone after the restore was planned: wal-fetch then
//     answers "not in the repository", which PostgreSQL takes for the end of the WAL) fails with "recovery ended
//     before configured recovery target was reached" instead of promoting with fewer rows; with the tip back,
//     the same directory comes up with every committed row;
//   - with the tip in place but tip/stream.state deleted, the durable end is unknown and planning refuses;
//   - a restore pins the backup it reads: expire keeps it (and says why) until the restored server's recovery
//     ends, and removes it at the next run after that.
#include <pwd.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "archive_fixture.hpp"

namespace {

using walvault::test::read_text;

namespace fs = std::filesystem;
using nlohmann::json;
using walvault::test::ArchivedCluster;
using walvault::test::files_under;
using walvault::test::RestoredServer;
using walvault::test::wait_until;

std::vector<std::string> tip_files(const std::string& repo) {
  std::vector<std::string> out;
  for (const auto& f : files_under(repo, "tip/")) {
    if (f.ends_with(".partial") || f.ends_with(".tail")) out.push_back(f);
  }
  return out;
}

}  // namespace

TEST_CASE("restore --latest fails loudly instead of promoting early when the WAL it planned cannot be read",
          "[integration][restore][once]") {
  ArchivedCluster ac;
  ac.pg().exec("CREATE TABLE t (id int PRIMARY KEY, v text)");
  ac.start_streamer();
  ac.backup();
  ac.switch_and_archive();
  // Rows committed after the last archived segment live only in the streamer's tip.
  for (int k = 0; k < 5; ++k) {
    ac.pg().exec("INSERT INTO t SELECT g, md5(g::text) FROM generate_series(" + std::to_string(k * 1000 + 1) + ", " +
                 std::to_string(k * 1000 + 1000) + ") g");
  }
  const std::string fingerprint = ac.pg().scalar("SELECT count(*) || ':' || sum(id) FROM t");
  ac.wait_durable();
  ac.stop_streamer(SIGTERM);
  const std::string work = ac.pg().work_dir();
  const auto tips = tip_files(ac.repo());
  REQUIRE_FALSE(tips.empty());

  const RestoredServer early(work + "/early", walvault::test::free_port());
  {
    const auto r = ac.walvault({"restore", "--repo", ac.repo(), "--target-dir", early.dir(), "--latest", "--port",
                                std::to_string(early.port())});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find("(the end of its last whole record)") != std::string::npos);
    // The streamer is stopped: the repository may be behind the server, and restore says so.
    CHECK(r.err.find("the streamer is not running: --latest restores what the repository holds") != std::string::npos);
    const std::string conf = read_text(early.dir() + "/postgresql.auto.conf");
    CHECK(conf.find("recovery_target_lsn = '") != std::string::npos);
    CHECK(conf.find("recovery_target_inclusive = 'on'") != std::string::npos);
  }

  // The tip goes after planning, state and all: wal-fetch answers "not in the repository" for its segment.
  const std::string moved = work + "/tip-aside";
  fs::create_directories(moved);
  for (const auto& f : tips) fs::rename(ac.repo() + "/" + f, moved + "/" + fs::path(f).filename().string());
  fs::rename(ac.repo() + "/tip/stream.state", moved + "/stream.state");
  {
    // pg_ctl -w may report success: the hot standby accepts connections from the consistent point on, a moment
    // before recovery fails. What counts is that the server stops instead of promoting.
    (void)early.start(true);
    CHECK(walvault::test::wait_until([&] { return !early.running(); }, std::chrono::seconds(30)));
    const std::string log = read_text(early.dir() + ".log");
    INFO(log);
    CHECK(log.find("recovery ended before configured recovery target was reached") != std::string::npos);
  }

  // The tip back without its state: how much of it is durable is unknown, so planning refuses.
  for (const auto& f : tips) fs::rename(moved + "/" + fs::path(f).filename().string(), ac.repo() + "/" + f);
  {
    const auto r = ac.walvault({"restore", "--repo", ac.repo(), "--target-dir", work + "/unknown", "--latest", "--dry-run"});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 5);
    CHECK(r.err.find("tip/stream.state is missing while the streamer's in-progress segment tip/") !=
          std::string::npos);
  }

  // Everything back: the directory that failed replays to the end and has every committed row.
  fs::rename(moved + "/stream.state", ac.repo() + "/tip/stream.state");
  {
    const auto started = early.start(true);
    INFO(read_text(early.dir() + ".log"));
    REQUIRE(started.exit_code == 0);
    REQUIRE(wait_until([&] { return early.scalar("SELECT pg_is_in_recovery()") == "f"; }, std::chrono::seconds(60)));
    CHECK(early.scalar("SELECT count(*) || ':' || sum(id) FROM t") == fingerprint);
  }

  // restore --start checks where replay ended, and reports it.
  const RestoredServer full(work + "/full", walvault::test::free_port());
  const auto r = ac.walvault({"restore", "--repo", ac.repo(), "--target-dir", full.dir(), "--latest", "--port",
                              std::to_string(full.port()), "--start", "--json"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  const json out = json::parse(r.out);
  // Replay ended at the last whole record's end (PostgreSQL's end is MAXALIGNed: up to 7 bytes further).
  const auto replay_end = walvault::wal::Lsn::parse(out["start"]["replay_end"].get<std::string>()).value();
  const auto required = walvault::wal::Lsn::parse(out["target"]["replay_end_min"].get<std::string>()).value();
  CHECK(replay_end >= required);
  CHECK(replay_end.value() < required.value() + 8);
  CHECK(full.scalar("SELECT count(*) || ':' || sum(id) FROM t") == fingerprint);
}

TEST_CASE("expire keeps the backup a restore reads until the restored server's recovery is over",
          "[integration][restore][expire][once]") {
  ArchivedCluster ac;
  ac.pg().exec("CREATE TABLE t (id int)");
  ac.start_streamer();
  const std::string first = ac.backup();
  ac.pg().exec("INSERT INTO t VALUES (1)");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const std::string between = ac.pg().scalar("SELECT clock_timestamp()::text");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ac.pg().exec("INSERT INTO t VALUES (2)");
  ac.switch_and_archive();
  const std::string second = ac.backup();
  ac.pg().exec("INSERT INTO t VALUES (3)");
  ac.switch_and_archive();
  REQUIRE(wait_until(
      [&] {
        const auto l = ac.walvault({"locate", "--repo", ac.repo(), "--time", between, "--json"});
        return l.exit_code == 0 && json::parse(l.out)["first_after"].is_object();
      },
      std::chrono::seconds(20)));

  // A restore to a time only the first backup reaches, not started yet.
  const RestoredServer restored(ac.pg().work_dir() + "/restored", walvault::test::free_port());
  const auto r = ac.walvault({"restore", "--repo", ac.repo(), "--target-dir", restored.dir(), "--time", between,
                              "--port", std::to_string(restored.port())});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  REQUIRE(r.out.find("backup " + first) != std::string::npos);

  const auto kept = ac.walvault({"expire", "--repo", ac.repo(), "--keep-backups", "1", "--json"});
  INFO(kept.out << kept.err);
  REQUIRE(kept.exit_code == 0);
  const json plan = json::parse(kept.out);
  CHECK(plan["expired_backups"].empty());
  REQUIRE(plan["pins"].size() == 1);
  CHECK(plan["pins"][0]["backup"] == first);
  CHECK(plan["pins"][0]["reader"].get<std::string>().find("restore into " + restored.dir()) == 0);

  // The server replays from the first backup's WAL; its recovery_end_command removes the pin.
  REQUIRE(restored.start(true).exit_code == 0);
  REQUIRE(wait_until([&] { return restored.scalar("SELECT pg_is_in_recovery()") == "f"; }, std::chrono::seconds(60)));
  CHECK(restored.scalar("SELECT string_agg(id::text, ',' ORDER BY id) FROM t") == "1");
  CHECK(files_under(ac.repo(), "pins/").empty());

  const auto expired = ac.walvault({"expire", "--repo", ac.repo(), "--keep-backups", "1", "--json"});
  INFO(expired.out << expired.err);
  REQUIRE(expired.exit_code == 0);
  CHECK(json::parse(expired.out)["expired_backups"] == json::array({first}));
  CHECK(json::parse(expired.out)["pins"].empty());
  (void)second;
}

TEST_CASE("restore checks every precondition before it writes anything, and gives a root restore to --owner",
          "[integration][restore][once]") {
  ArchivedCluster ac;
  ac.pg().exec("CREATE TABLE t (id int)");
  ac.start_streamer();
  ac.backup();
  ac.pg().exec("INSERT INTO t VALUES (1), (2)");
  ac.wait_durable();
  const std::string work = ac.pg().work_dir();
  const auto refused_before_writing = [&](const walvault::test::ProcessResult& r, const std::string& dir,
                                          const std::string& message) {
    INFO(r.out << r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find(message) != std::string::npos);
    CHECK(r.out.find("restored backup") == std::string::npos);
    CHECK_FALSE(fs::exists(dir));
    CHECK(files_under(ac.repo(), "pins/").empty());
  };

  {  // --start on a port a server already listens on
    const int busy = walvault::test::free_port();
    walvault::test::Background listener({"python3", "-c",
                                         "import socket,time\ns=socket.socket()\ns.bind(('127.0.0.1'," +
                                             std::to_string(busy) + "))\ns.listen()\ntime.sleep(60)"},
                                        work + "/listener.log");
    REQUIRE(wait_until([&] { return std::system(("python3 -c \"import socket; socket.create_connection(('127.0.0.1',"
                                                  + std::to_string(busy) + "))\" 2>/dev/null").c_str()) == 0; },
                       std::chrono::seconds(10)));
    const std::string dir = work + "/busy-port";
    refused_before_writing(ac.walvault({"restore", "--repo", ac.repo(), "--target-dir", dir, "--latest", "--start",
                                        "--port", std::to_string(busy)}),
                           dir, "port " + std::to_string(busy) + " is in use on 127.0.0.1");
  }
  {  // --start into a directory whose socket path PostgreSQL cannot bind
    const std::string dir = work + "/" + std::string(110, 'd');
    refused_before_writing(ac.walvault({"restore", "--repo", ac.repo(), "--target-dir", dir, "--latest", "--start"}),
                           dir, "the target directory's path is too long for the restored server's Unix socket");
  }
  if (walvault::test::running_as_root()) {
    // As root: --start is refused, and so is a restore without --owner (a root-owned data directory cannot start).
    const std::string dir = work + "/as-root";
    refused_before_writing(walvault::test::run({WALVAULT_BINARY, "restore", "--repo", ac.repo(), "--target-dir", dir,
                                                "--latest", "--start"}),
                           dir, "--start as root: PostgreSQL refuses to run as root");
    refused_before_writing(
        walvault::test::run({WALVAULT_BINARY, "restore", "--repo", ac.repo(), "--target-dir", dir, "--latest"}), dir,
        "restore as root would leave a data directory that root owns");
    // With --owner the directory is postgres's, and postgres starts it as the printed command says.
    const RestoredServer owned(dir, walvault::test::free_port());
    const auto r = walvault::test::run({WALVAULT_BINARY, "restore", "--repo", ac.repo(), "--target-dir", dir,
                                        "--latest", "--owner", "postgres", "--port", std::to_string(owned.port())});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find("start it with: runuser -u postgres -- pg_ctl start -D " + dir) != std::string::npos);
    const passwd* postgres = ::getpwnam("postgres");
    REQUIRE(postgres != nullptr);
    std::size_t not_postgres = 0;
    for (const auto& f : files_under(dir)) {
      struct stat st {};
      if (::lstat((dir + "/" + f).c_str(), &st) != 0 || st.st_uid != postgres->pw_uid) ++not_postgres;
    }
    CHECK(not_postgres == 0);
    const auto started = owned.start(true);
    INFO(read_text(dir + ".log"));
    REQUIRE(started.exit_code == 0);
    REQUIRE(wait_until([&] { return owned.scalar("SELECT pg_is_in_recovery()") == "f"; }, std::chrono::seconds(60)));
    CHECK(owned.scalar("SELECT count(*) FROM t") == "2");
  } else {
    const auto r = ac.walvault({"restore", "--repo", ac.repo(), "--target-dir", work + "/other", "--latest",
                                "--owner", "root"});
    refused_before_writing(r, work + "/other", "--owner: PostgreSQL refuses to run as root");
  }
}
