// Timelines against real PostgreSQL: a repository created on a promoted server, and a kill at each step of a
// timeline switch. A cluster is promoted in place (stopped, started as a standby with standby.signal, promoted),
// which moves it to the next timeline without a second cluster.
//   - A repository created on timeline 2 stores 00000002.history at init; the cluster is promoted again to 3 while
//     the streamer runs. `list` shows a restorable window on both timelines, and restores to a time on each have
//     exactly the rows committed up to it.
//   - The streamer is killed (WALVAULT_FAULT_TIMELINE_SWITCH, _exit(9)) at each step of a switch, 1 → 2 → 3 → 4 → 5,
//     and restarted: the old timeline's last segment is archived with its index run sealed, no tip of it is left,
//     streaming goes on on the new timeline, and restores to a time just before each switch (they read that
//     partial last segment) and to the latest point have exactly the rows committed up to there.
#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "archive_fixture.hpp"
#include "format/sealed_object.hpp"
#include "restore/plan.hpp"
#include "stream_support.hpp"

namespace {

using walvault::test::read_text;

namespace fs = std::filesystem;
using nlohmann::json;
using walvault::test::ArchivedCluster;
using walvault::test::Background;
using walvault::test::PgCluster;
using walvault::test::RestoredServer;
using walvault::test::wait_until;
using walvault::test::walvault_cli;
using walvault::wal::Lsn;
using walvault::wal::TimelineId;

constexpr uint32_t kSegmentSize = 16U << 20;

json run_json(const std::vector<std::string>& args) {
  const auto r = walvault_cli(args);
  INFO(args[0] << ": " << r.out << r.err);
  REQUIRE(r.exit_code == 0);
  return json::parse(r.out);
}

// Moves the cluster to its next timeline: a clean stop, a start as a standby of nothing, a promotion.
void promote_in_place(PgCluster& pg) {
  pg.stop();
  const auto touched = walvault::test::run(walvault::test::as_postgres({"touch", pg.data_dir() + "/standby.signal"}));
  REQUIRE(touched.exit_code == 0);
  pg.start();
  const auto promoted = pg.run_pg_program("pg_ctl", {"promote", "-w", "-t", "60", "-D", pg.data_dir()});
  INFO(promoted.out << promoted.err);
  REQUIRE(promoted.exit_code == 0);
  REQUIRE(wait_until([&] { return pg.scalar("SELECT pg_is_in_recovery()") == "f"; }, std::chrono::seconds(30)));
}

// Inserts a row with its timeline; pause_between() keeps commit times apart from the times taken between them.
void insert(const PgCluster& pg, uint32_t id, uint32_t tl) {
  pg.exec("INSERT INTO ticks VALUES (" + std::to_string(id) + ", " + std::to_string(tl) + ")");
}
void pause_between() { std::this_thread::sleep_for(std::chrono::milliseconds(100)); }
std::string now(const PgCluster& pg) { return pg.scalar("SELECT clock_timestamp()::text"); }

// Waits until the repository durably holds the server's WAL on the server's timeline.
void wait_streamed(const PgCluster& pg, const std::string& repo) {
  const auto tl = static_cast<uint32_t>(
      std::stoul(pg.scalar("SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)"), nullptr, 16));
  const Lsn end = walvault::test::server_lsn(pg);
  INFO("timeline " << tl << ", " << end.to_string());
  REQUIRE(wait_until(
      [&] {
        const auto s = walvault::test::stream_state(repo);
        return s && s->timeline == TimelineId(tl) && s->durable_lsn >= end;
      },
      std::chrono::seconds(60)));
}

// Restores to `target` (--time T, or --latest) with --start and returns the rows, "id:tl,...".
std::string restored_rows(const std::string& repo, const std::string& dir, const std::vector<std::string>& target) {
  RestoredServer server(dir, walvault::test::free_port());
  std::vector<std::string> args = {"restore", "--repo",  repo,     "--target-dir",
                                   dir,       "--start", "--port", std::to_string(server.port())};
  args.insert(args.end(), target.begin(), target.end());
  const auto r = walvault_cli(args);
  INFO(r.out << r.err << read_text(dir + "/walvault-restore.log"));
  REQUIRE(r.exit_code == 0);
  return server.scalar("SELECT string_agg(id || ':' || tl, ',' ORDER BY id) FROM ticks");
}

std::set<uint32_t> window_timelines(const std::string& repo) {
  const json list = run_json({"list", "--repo", repo, "--json"});
  INFO(list.dump(1));
  CHECK(list["gaps"].empty());
  std::set<uint32_t> out;
  for (const auto& w : list["windows"]) out.insert(w["timeline"].get<uint32_t>());
  return out;
}

}  // namespace

TEST_CASE("a repository created on timeline 2 restores times on timeline 2 and on 3 after another promotion",
          "[integration][timeline][once]") {
  PgCluster pg;
  pg.exec("CREATE TABLE ticks (id int PRIMARY KEY, tl int NOT NULL)");
  insert(pg, 0, 1);
  promote_in_place(pg);
  const std::string work = pg.work_dir();
  const std::string repo = work + "/repo";
  {
    const auto r = walvault_cli({"init", "--repo", repo, "-d", pg.conninfo()});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
  }
  // init stores the history of the timeline the cluster is on, as the server has it.
  const std::string stored = read_text(repo + "/wal/00000002.history");
  const auto opened = walvault::format::open_sealed_text(stored, walvault::format::SealRule::kRequired);
  REQUIRE(opened);
  CHECK(opened->text == read_text(pg.data_dir() + "/pg_wal/00000002.history"));

  Background streamer(
      walvault::test::as_postgres({WALVAULT_BINARY, "stream", "--repo", repo, "--fsync-interval-ms", "100"}),
      work + "/stream.log");
  REQUIRE(wait_until([&] { return walvault::test::stream_state(repo).has_value(); }, std::chrono::seconds(30)));
  (void)run_json({"backup", "--repo", repo, "--fast", "--json"});
  insert(pg, 1, 2);
  pause_between();
  const std::string on2 = now(pg);
  pause_between();
  insert(pg, 2, 2);
  wait_streamed(pg, repo);

  promote_in_place(pg);  // the streamer follows the server onto timeline 3
  insert(pg, 3, 3);
  pause_between();
  const std::string on3 = now(pg);
  pause_between();
  insert(pg, 4, 3);
  wait_streamed(pg, repo);
  CHECK(fs::exists(repo + "/wal/00000003.history"));
  walvault::test::signal_streamer(repo, SIGTERM);
  CHECK(streamer.stop(0, std::chrono::seconds(20)) == 0);

  CHECK(window_timelines(repo) == std::set<uint32_t>{2, 3});
  CHECK(restored_rows(repo, work + "/on2", {"--time", on2}) == "0:1,1:2");
  CHECK(restored_rows(repo, work + "/on3", {"--time", on3}) == "0:1,1:2,2:2,3:3");
}

TEST_CASE("a kill at each step of a timeline switch is recovered at the next start",
          "[integration][timeline][fault][once]") {
  ArchivedCluster a;
  PgCluster& pg = a.pg();
  pg.exec("CREATE TABLE ticks (id int PRIMARY KEY, tl int NOT NULL)");
  a.start_streamer();
  (void)a.backup();

  const std::vector<std::string> steps = {"history", "successor", "archived", "sealed"};
  std::vector<std::string> before_switch;  // a time on timeline k + 1 between rows 10k + 11 and 10k + 12
  for (std::size_t k = 0; k < steps.size(); ++k) {
    const uint32_t tl = static_cast<uint32_t>(k) + 1;
    INFO("killed at step " << steps[k] << " of the switch from timeline " << tl);
    insert(pg, 10 * tl + 1, tl);
    pause_between();
    before_switch.push_back(now(pg));
    pause_between();
    insert(pg, 10 * tl + 2, tl);
    a.wait_durable();
    a.stop_streamer(SIGTERM);
    promote_in_place(pg);
    {
      Background killed(walvault::test::as_postgres({"env", "WALVAULT_FAULT_TIMELINE_SWITCH=" + steps[k],
                                                     WALVAULT_BINARY, "stream", "--repo", a.repo()}),
                        pg.work_dir() + "/killed.log");
      REQUIRE(killed.stop(0, std::chrono::seconds(60)) == 9);
    }
    a.start_streamer();
    wait_streamed(pg, a.repo());

    // The old timeline ended inside the segment the new one starts in: that segment of the old timeline is
    // archived (partial), its index run sealed, and no tip of the old timeline is left.
    const auto history = walvault::restore::parse_history(
        read_text(pg.data_dir() + "/pg_wal/" + walvault::wal::history_file_name(TimelineId(tl + 1))));
    REQUIRE(history);
    const Lsn switch_lsn = history->back().switch_lsn;
    const std::string old_hex = walvault::wal::history_file_name(TimelineId(tl)).substr(0, 8);
    const std::string old_segment = walvault::wal::segment_file_name(
        TimelineId(tl), walvault::wal::segment_of_end(switch_lsn, kSegmentSize), kSegmentSize);
    CHECK(fs::exists(a.repo() + "/wal/" + old_segment + ".wvs"));
    for (const auto& name : walvault::test::files_under(a.repo(), "tip/")) CHECK(name.rfind("tip/" + old_hex, 0) != 0);
    INFO(a.streamer_log());
    CHECK(walvault::test::files_under(a.repo(), "index/" + old_hex + "/tip-").empty());
  }
  insert(pg, 51, 5);
  wait_streamed(pg, a.repo());
  a.stop_streamer(SIGTERM);

  CHECK(window_timelines(a.repo()) == std::set<uint32_t>{1, 2, 3, 4, 5});
  const auto verify = a.walvault({"verify", "--repo", a.repo(), "--full"});
  INFO(verify.out << verify.err);
  CHECK(verify.exit_code == 0);
  std::string expected;
  for (uint32_t tl = 1; tl <= 4; ++tl) {
    expected += (tl > 1 ? "," : "") + std::to_string(10 * tl + 1) + ":" + std::to_string(tl);
    CHECK(restored_rows(a.repo(), pg.work_dir() + "/before-" + std::to_string(tl), {"--time", before_switch[tl - 1]}) ==
          expected);
    expected += "," + std::to_string(10 * tl + 2) + ":" + std::to_string(tl);
  }
  CHECK(restored_rows(a.repo(), pg.work_dir() + "/latest", {"--latest"}) == expected + ",51:5");
}
