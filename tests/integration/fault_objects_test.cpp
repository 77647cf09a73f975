// Fault injection, object by object: one real streamed repository (1 MiB segments, a backup, a DROP TABLE event, an
// in-progress segment with whole chunks, a tail log and an index tip log) is copied for every case, and in the copy
// one object of each kind gets one kind of damage: a flipped byte, a truncation, zeros, deletion. `verify --full`
// must exit non-zero and name the object; the default (incremental) verify must too when the object's size changed;
// `list` must show exactly the gaps verify reports.
// For a subset, `restore --latest --start` must not exit 0 with fewer rows than the source held. (A flipped byte
// in a JSON object that still decodes is caught by its checksum: FORMAT.md, "Sealed objects".)
#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "archive_fixture.hpp"
#include "format/index.hpp"
#include "process.hpp"
#include "wal/lsn.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using walvault::test::ArchivedCluster;
using walvault::test::files_under;

constexpr uint32_t kSegmentSize = 1U << 20;
constexpr const char* kFingerprint =
    "SELECT count(*) || '|' || md5(coalesce(string_agg(id::text || v, ',' ORDER BY id), '')) FROM keep";

enum class Damage { kFlip, kTruncate, kZero, kDelete };
const char* damage_name(Damage d) {
  switch (d) {
    case Damage::kFlip:
      return "flip a byte";
    case Damage::kTruncate:
      return "truncate";
    case Damage::kZero:
      return "zero";
    case Damage::kDelete:
      return "delete";
  }
  return "";
}

void damage(const std::string& path, Damage d) {
  const auto size = fs::file_size(path);
  switch (d) {
    case Damage::kFlip:
      walvault::test::flip_byte(path, size / 2);
      break;
    case Damage::kTruncate:
      fs::resize_file(path, size / 4);
      break;
    case Damage::kZero: {
      std::ofstream out(path, std::ios::binary | std::ios::in | std::ios::out);
      const std::string zeros(size, '\0');
      out.write(zeros.data(), static_cast<std::streamsize>(zeros.size()));
      break;
    }
    case Damage::kDelete:
      fs::remove(path);
      break;
  }
}

// Whether a verify report names the object (as the object concerned, or in a message).
bool names(const json& report, const std::string& object) {
  for (const auto& p : report["problems"]) {
    if (p["object"] == object || p["message"].get<std::string>().find(object) != std::string::npos) return true;
  }
  return false;
}

struct Row {
  std::string kind;
  std::string object;
  Damage damage;
  bool restore = false;  // also run restore --latest on the damaged copy
};

}  // namespace

TEST_CASE(
    "fault objects: every kind of object flipped, truncated, zeroed or deleted is named by verify, and no restore "
    "ends short in silence",
    "[integration][fault][once]") {
  ArchivedCluster a({.wal_segment_size_mb = 1, .settings = {}, .start = true});
  a.start_streamer();
  a.pg().exec(
      "CREATE TABLE keep (id int PRIMARY KEY, v text); "
      "INSERT INTO keep SELECT g, md5(g::text) FROM generate_series(1, 2000) g");
  a.pg().exec("CREATE TABLE doomed AS SELECT g AS id FROM generate_series(1, 1000) g");
  const std::string backup = a.backup();
  a.pg().exec("INSERT INTO keep SELECT g, md5(g::text) FROM generate_series(2001, 4000) g");
  a.switch_and_archive();
  a.pg().exec("DROP TABLE doomed");
  a.switch_and_archive();
  a.pg().exec("INSERT INTO keep SELECT g, md5(g::text) FROM generate_series(4001, 6000) g");
  a.switch_and_archive();
  a.switch_and_archive();
  // The in-progress segment: whole 256 KiB chunks in the .partial file, the rest in the tail log, commits in the
  // index tip log.
  a.pg().exec("INSERT INTO keep SELECT g, repeat(md5(g::text), 4) FROM generate_series(6001, 9000) g");
  for (int i = 0; i < 5; ++i) a.pg().exec("INSERT INTO keep VALUES (" + std::to_string(9001 + i) + ", 'last')");
  const auto events = a.events_json();
  REQUIRE(events.exit_code == 0);
  const std::string source = a.pg().scalar(kFingerprint);
  a.stop_streamer(SIGTERM);

  const std::string pristine = a.repo();
  const auto drop = json::parse(events.out);
  REQUIRE(drop.size() == 1);
  const auto drop_lsn = walvault::wal::Lsn::parse(drop[0]["lsn"].get<std::string>());
  REQUIRE(drop_lsn);

  // The objects, one of each kind.
  std::string container, partial, tail, run, tip_log, state = "tip/stream.state";
  for (const auto& f : files_under(pristine, "tip/")) {
    if (f.ends_with(".partial")) partial = f;
    if (f.ends_with(".tail")) tail = f;
  }
  for (const auto& f : files_under(pristine, "index/")) {
    if (const auto r = walvault::format::parse_run_object_name(f); r && r->first <= *drop_lsn && *drop_lsn < r->end) {
      run = f;
    }
    if (f.ends_with(".wvl")) tip_log = f;
  }
  const auto containers = [&] {
    std::vector<std::string> out;
    for (const auto& f : files_under(pristine, "wal/")) {
      if (f.ends_with(".wvs")) out.push_back(f);
    }
    return out;
  }();
  REQUIRE(containers.size() >= 5);
  container = containers[containers.size() - 3];  // inside the backup's WAL, neither the first nor the newest
  const auto listed = json::parse(a.walvault({"list", "--repo", pristine, "--json"}).out);
  const auto backup_start = walvault::wal::Lsn::parse(listed["backups"][0]["start_lsn"].get<std::string>());
  REQUIRE(backup_start);
  const std::string first_of_backup =
      "wal/" +
      walvault::wal::segment_file_name(walvault::wal::TimelineId(1),
                                       walvault::wal::segment_of(*backup_start, kSegmentSize), kSegmentSize) +
      ".wvs";
  REQUIRE(first_of_backup != container);
  INFO(walvault::test::files_under(pristine).size()
       << " objects; partial " << partial << ", tail " << tail << ", run " << run << ", tip log " << tip_log);
  REQUIRE_FALSE(partial.empty());
  REQUIRE_FALSE(tail.empty());
  REQUIRE_FALSE(run.empty());
  REQUIRE_FALSE(tip_log.empty());
  REQUIRE(a.durable_lsn().value() % kSegmentSize > 256U << 10);  // the .partial file holds whole chunks
  // No history file on timeline 1: that kind of object is exercised by the timeline tests.
  CHECK(files_under(pristine, "wal/").size() == containers.size());

  // The pristine repository verifies clean, in full and incrementally (which leaves the verify state every copy
  // starts from, so the default verify of a copy is incremental).
  const auto clean_full = a.walvault({"verify", "--repo", pristine, "--full", "--json"});
  INFO(clean_full.out << clean_full.err);
  REQUIRE(clean_full.exit_code == 0);
  REQUIRE(a.walvault({"verify", "--repo", pristine}).exit_code == 0);

  const std::string stream = "backup/" + backup + "/base.wvt";
  const std::string manifest = "backup/" + backup + "/backup_manifest";
  const std::string catalog = "backup/" + backup + "/backup.json";
  std::vector<Row> rows;
  for (const Damage d : {Damage::kFlip, Damage::kTruncate, Damage::kZero, Damage::kDelete}) {
    rows.push_back({"segment container", container, d, d == Damage::kDelete});
    if (d == Damage::kDelete) rows.push_back({"the backup's first segment container", first_of_backup, d});
    rows.push_back({"tip .partial", partial, d, d == Damage::kDelete || d == Damage::kTruncate});
    rows.push_back({"tip .tail", tail, d, d == Damage::kDelete});
    rows.push_back({"index run", run, d});
    rows.push_back({"index tip log", tip_log, d});
    rows.push_back({"backup stream", stream, d});
    rows.push_back({"backup_manifest", manifest, d});
    rows.push_back({"backup.json", catalog, d});
    rows.push_back({"stream.state", state, d, d == Damage::kDelete || d == Damage::kFlip});
    rows.push_back({"repository config", "walvault.json", d});
  }

  const std::string scratch = a.pg().work_dir() + "/cases";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const Row& row = rows[i];
    const std::string label = row.kind + " (" + row.object + "): " + damage_name(row.damage);
    INFO(label);
    const std::string copy = scratch + "/" + std::to_string(i);
    fs::create_directories(copy);
    fs::copy(pristine, copy, fs::copy_options::recursive);
    walvault::test::give_to_postgres(scratch);
    const auto size_before = fs::file_size(copy + "/" + row.object);
    damage(copy + "/" + row.object, row.damage);
    const bool size_changed =
        !fs::exists(copy + "/" + row.object) || fs::file_size(copy + "/" + row.object) != size_before;

    const auto full = a.walvault({"verify", "--repo", copy, "--full", "--json"});
    INFO("verify --full: " << full.out << full.err);
    // A report (exit 5) names the object among its problems; a refusal to read the repository names it in its error.
    const auto named = [&](const walvault::test::ProcessResult& r) {
      return !r.out.empty() ? names(json::parse(r.out), row.object) : r.err.find(row.object) != std::string::npos;
    };
    CHECK(full.exit_code != 0);
    CHECK(named(full));
    if (size_changed) {
      const auto incremental = a.walvault({"verify", "--repo", copy, "--json"});
      INFO("verify: " << incremental.out << incremental.err);
      CHECK(incremental.exit_code != 0);
      CHECK(named(incremental));
    }
    // list shows the gaps verify reports.
    if (const auto list = a.walvault({"list", "--repo", copy, "--json"});
        list.exit_code == 0 && full.exit_code == 5 && !full.out.empty()) {
      std::set<std::pair<std::string, std::string>> listed_gaps, verified_gaps;
      const json listing = json::parse(list.out);
      const json report = json::parse(full.out);
      for (const auto& g : listing["gaps"]) listed_gaps.emplace(g["from_lsn"], g["to_lsn"].dump());
      for (const auto& p : report["problems"]) {
        if (p["kind"] == "wal_gap") verified_gaps.emplace(p["from_lsn"], p["to_lsn"].dump());
      }
      CHECK(listed_gaps == verified_gaps);
      if (row.object == first_of_backup) CHECK_FALSE(listed_gaps.empty());
    }
    if (row.restore) {
      const std::string target = scratch + "/restored-" + std::to_string(i);
      const int port = walvault::test::free_port();
      walvault::test::RestoredServer server(target, port);
      const auto restore = a.walvault(
          {"restore", "--repo", copy, "--target-dir", target, "--latest", "--start", "--port", std::to_string(port)});
      INFO("restore: " << restore.out << restore.err);
      // Refused or failed loudly, or every acknowledged row: never exit 0 with less.
      if (restore.exit_code == 0) CHECK(server.scalar(kFingerprint) == source);
    }
    fs::remove_all(copy);
  }
}
