#include "command/list.hpp"

#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "archive/timeline_history.hpp"
#include "archive/verify_state.hpp"
#include "command/backup.hpp"
#include "common/clock.hpp"
#include "common/error.hpp"
#include "format/index.hpp"
#include "repo/repository.hpp"
#include "repo/wal_gaps.hpp"
#include "restore/backup_catalog.hpp"
#include "restore/plan_inputs.hpp"
#include "restore/wal_coverage.hpp"
#include "storage/index_store.hpp"

namespace walvault::command {
namespace {

using nlohmann::json;

struct Window {
  wal::TimelineId timeline;
  std::string earliest;               // ISO 8601
  std::optional<std::string> latest;  // the last archived commit in the WAL it reaches
  std::vector<std::string> backups;   // ids, oldest first
  wal::Lsn reach;                     // the WAL held without a gap from its backups' start runs up to here
};

[[noreturn]] void index_error(const std::string& object, const format::IndexError& error) {
  throw Error(ErrorCode::kCorrupt, "index object " + object + " is damaged: " + error.message,
              "the WAL itself is unaffected; the index can be rebuilt from it");
}

// The latest commit time the index holds for WAL [from, to) of timeline, at segment granularity for sealed runs.
std::optional<format::TimestampTz> last_commit_time(const storage::Storage& storage, wal::TimelineId timeline,
                                                    wal::Lsn from, wal::Lsn to, uint32_t segment_size) {
  std::optional<format::TimestampTz> latest;
  const auto consider = [&](std::optional<format::TimestampTz> t) {
    if (t && (!latest || *t > *latest)) latest = t;
  };
  for (const auto& info : storage.list(format::index_prefix(timeline))) {
    if (const auto run = format::parse_run_object_name(info.name)) {
      if (run->end <= from || run->first >= to) continue;
      const std::string name = info.name;
      auto reader = format::RunReader::open(storage::range_reader(storage, name), info.size);
      if (!reader) index_error(name, reader.error());
      for (const auto& segment : reader->segments()) {
        if (segment.start_lsn < to && segment.end_lsn > from) consider(segment.last_commit_time);
      }
    } else if (format::parse_tip_log_object_name(info.name, segment_size)) {
      for (const auto& commit : walvault::storage::read_tip_log(storage, info.name).commits) {
        if (commit.lsn >= from && commit.lsn < to) consider(commit.time);
      }
    }
  }
  return latest;
}

// How far WAL is held without a gap along the branch from `from` (a segment start), read as recovery reads it:
// the segment holding a switch point from the newer timeline (restore/plan.hpp).
wal::Lsn held_until(const restore::WalCoverage& coverage, const restore::Branch& branch, wal::Lsn from,
                    uint32_t segment_size) {
  wal::Lsn at = from;
  bool first = true;
  for (const auto& piece : branch) {
    if (piece.end <= from) continue;
    const wal::Lsn lo = first ? from : wal::segment_start(wal::segment_of(piece.begin, segment_size), segment_size);
    const wal::Lsn hi = piece.end == restore::kBranchEnd
                            ? piece.end
                            : wal::segment_start(wal::segment_of(piece.end, segment_size), segment_size);
    first = false;
    if (hi <= lo) continue;  // the piece lies inside the segment that is read from the next timeline
    const restore::WalRun* run = coverage.run_at(piece.timeline, lo, segment_size);
    if (run == nullptr) return lo;
    if (run->end_lsn < hi) return run->end_lsn;
    at = hi;
  }
  return at;
}

// The restorable windows of every timeline: for each backup on a timeline's branch whose WAL is held up to its
// consistency point, from there to the last commit in the WAL held after it without a gap (backups that reach the
// same end share a window). A timeline's window starts from an older timeline's backup only when the WAL held
// reaches into the timeline itself.
std::vector<Window> restorable_windows(const storage::Storage& storage,
                                       const std::vector<restore::BackupEntry>& backups,
                                       const restore::WalCoverage& coverage, uint32_t segment_size) {
  const auto histories = restore::read_histories(storage);
  std::set<uint32_t> timelines;
  for (const auto& run : coverage.runs) timelines.insert(run.timeline.value());
  std::vector<Window> windows;
  for (const uint32_t t : timelines) {
    const wal::TimelineId timeline(t);
    const auto history = histories.find(timeline);
    // Without its history file a timeline's ancestry is unknown: only its own backups count.
    const restore::Branch branch = history != histories.end()
                                       ? restore::make_branch(timeline, history->second)
                                       : restore::Branch{{timeline, wal::Lsn(), restore::kBranchEnd}};
    for (const auto& backup : backups) {
      if (restore::timeline_at(branch, backup.start_lsn) != backup.timeline) continue;
      const wal::Lsn from = wal::segment_start(wal::segment_of(backup.start_lsn, segment_size), segment_size);
      const wal::Lsn reach = held_until(coverage, branch, from, segment_size);
      if (reach < backup.stop_lsn || reach <= branch.back().begin) continue;
      if (!windows.empty() && windows.back().timeline == timeline && windows.back().reach == reach) {
        windows.back().backups.push_back(backup.id);
        continue;
      }
      Window window{timeline, backup.stop_time, std::nullopt, {backup.id}, reach};
      std::optional<format::TimestampTz> last;
      for (const auto& piece : branch) {
        const wal::Lsn lo = std::max(backup.start_lsn, piece.begin);
        const wal::Lsn hi = std::min(reach, piece.end);
        if (lo >= hi) continue;
        const auto t_last = last_commit_time(storage, piece.timeline, lo, hi, segment_size);
        if (t_last && (!last || *t_last > *last)) last = t_last;
      }
      if (last) {
        const std::string text = format_time(from_pg_timestamp(*last));
        if (text > window.earliest) window.latest = text;
      }
      windows.push_back(std::move(window));
    }
  }
  return windows;
}

// The gaps verify reports too (repo/wal_gaps.hpp): WAL a backup needs or the streamer acknowledged that is not held.
std::vector<repo::WalGap> wal_gaps(const storage::Storage& storage, const std::vector<restore::BackupEntry>& backups,
                                   const restore::WalCoverage& coverage, uint32_t segment_size) {
  archive::TimelineTree timelines;
  for (auto& [tli, entries] : restore::read_histories(storage)) timelines.add(tli, std::move(entries));
  std::vector<repo::BackupStart> starts;
  for (const auto& b : backups) starts.push_back(repo::BackupStart{b.id, b.timeline, b.start_lsn});
  std::optional<repo::DurableEnd> durable;
  if (const auto tip = restore::read_tip_state(storage, segment_size)) {
    durable = repo::DurableEnd{tip->timeline, tip->durable_lsn};
  }
  return repo::find_wal_gaps(repo::held_wal(coverage, segment_size), starts, timelines, durable,
                             repo::read_chain_breaks(storage), segment_size);
}

}  // namespace

int run_list(const ListOptions& options) {
  const repo::Repository repository = repo::open_repository(options.repo);
  const storage::Storage& storage = *repository.storage;
  const uint32_t segment_size = repository.config.segment_size;
  const restore::BackupCatalog catalog = restore::read_backup_catalog(storage);
  const std::vector<restore::BackupEntry>& backups = catalog.backups;
  const restore::WalCoverage coverage = restore::read_wal_coverage(storage, segment_size);
  const std::vector<repo::WalGap> gaps = wal_gaps(storage, backups, coverage, segment_size);

  // Backups the last verify found damage in are marked, and no window starts from them (restore skips them).
  const archive::VerifyState verified = archive::read_verify_state(storage);
  const std::set<std::string> damaged = verified.damaged_backups();
  std::vector<restore::BackupEntry> sound;
  for (const auto& b : backups) {
    if (!damaged.contains(b.id)) sound.push_back(b);
  }
  const std::vector<Window> windows = restorable_windows(storage, sound, coverage, segment_size);

  if (options.json) {
    json doc = {
        {"backups", json::array()}, {"wal", json::array()}, {"gaps", json::array()}, {"windows", json::array()},
        {"damaged_catalog_entries", json::array()}};
    for (const auto& d : catalog.damaged) doc["damaged_catalog_entries"].push_back(d.what());
    for (const auto& b : backups) {
      doc["backups"].push_back({{"id", b.id},
                                {"damaged", damaged.contains(b.id)},
                                {"label", b.label},
                                {"timeline", b.timeline.value()},
                                {"start_lsn", b.start_lsn.to_string()},
                                {"stop_lsn", b.stop_lsn.to_string()},
                                {"start_time", b.start_time},
                                {"stop_time", b.stop_time},
                                {"raw_size", b.raw_size()},
                                {"stored_size", b.stored_size()}});
    }
    for (std::size_t i = 0; i < coverage.runs.size(); ++i) {
      const auto& r = coverage.runs[i];
      doc["wal"].push_back({{"timeline", r.timeline.value()},
                            {"first_segment", wal::segment_file_name(r.timeline, r.first, segment_size)},
                            {"last_segment", wal::segment_file_name(r.timeline, r.last, segment_size)},
                            {"start_lsn", r.start_lsn.to_string()},
                            {"end_lsn", r.end_lsn.to_string()},
                            {"in_progress", r.ends_at_tip}});
    }
    for (const auto& g : gaps) {
      doc["gaps"].push_back(
          {{"timeline", g.timeline.value()},
           {"first_missing", wal::segment_file_name(g.timeline, wal::segment_of(g.from, segment_size), segment_size)},
           {"last_missing",
            g.to ? json(wal::segment_file_name(g.timeline, wal::segment_of_end(*g.to, segment_size), segment_size))
                 : json(nullptr)},
           {"from_lsn", g.from.to_string()},
           {"to_lsn", g.to ? json(g.to->to_string()) : json(nullptr)},
           {"backup", g.backup},
           {"declared", g.declared.has_value()},
           {"message", g.message(segment_size)}});
    }
    for (const auto& w : windows) {
      doc["windows"].push_back({{"timeline", w.timeline.value()},
                                {"earliest", w.earliest},
                                {"latest", w.latest ? json(*w.latest) : json(nullptr)},
                                {"backups", w.backups}});
    }
    std::fputs((doc.dump(2) + "\n").c_str(), stdout);
    return 0;
  }

  std::string out = "Backups (" + std::to_string(backups.size()) + "):\n";
  if (backups.empty()) out += "  none; take one with 'walvault backup --repo " + options.repo.url + "'\n";
  for (const auto& d : catalog.damaged) {
    out += "  DAMAGED catalog entry: " + std::string(d.what()) + "; that backup cannot be used\n";
  }
  for (const auto& b : backups) {
    out += "  " + b.id + "  timeline " + std::to_string(b.timeline.value()) + "  start " + b.start_lsn.to_string() +
           "  stop " + b.stop_lsn.to_string() + "\n      " + b.start_time + " .. " + b.stop_time + "  " +
           format_size(b.raw_size()) + " raw, " + format_size(b.stored_size()) + " stored\n";
    if (damaged.contains(b.id)) {
      out += "      DAMAGED: the last 'walvault verify' (" + verified.finished +
             ") found a problem in it; restore does not use it\n";
    }
  }
  out += "WAL:\n";
  if (coverage.runs.empty()) out += "  none\n";
  for (std::size_t i = 0; i < coverage.runs.size(); ++i) {
    const auto& r = coverage.runs[i];
    out += "  timeline " + std::to_string(r.timeline.value()) + ": " +
           wal::segment_file_name(r.timeline, r.first, segment_size) + " .. " +
           wal::segment_file_name(r.timeline, r.last, segment_size) + "  (" + r.start_lsn.to_string() + " .. " +
           r.end_lsn.to_string() + (r.ends_at_tip ? ", in progress)" : ")") + "\n";
  }
  out += "Gaps:\n";
  if (gaps.empty()) out += "  none\n";
  for (const auto& g : gaps) out += "  " + g.message(segment_size) + "\n";
  out += "Restorable window:\n";
  if (windows.empty()) out += "  none: no backup has its WAL in the repository\n";
  for (const auto& w : windows) {
    out += "  " + w.earliest + " .. " + (w.latest ? *w.latest : std::string("(no commit archived after it yet)")) +
           "  timeline " + std::to_string(w.timeline.value()) + ", from backup " + w.backups.front() + "\n";
  }
  std::fputs(out.c_str(), stdout);
  return 0;
}

}  // namespace walvault::command
