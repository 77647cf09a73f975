// Retention planning for `walvault expire`: which backups go, and which WAL and index objects only they needed.
//
// Policy (exactly one of):
//   - keep_backups N (N ≥ 1): the N newest backups stay;
//   - keep_for D: every point in time of the last D stays restorable, so the backups that stopped within D stay,
//     and so does the newest one that stopped before it (restoring to the start of the window needs it).
// The newest backup always stays, and so does every pinned backup (and so every newer one).
//
// WAL (segment containers "wal/<segment>.wvs") is removed only when no kept backup needs it. A kept backup needs
// its timeline from its start segment onward, and every timeline descending from its timeline (the history
// files say which). A segment is removed only when it lies below the oldest kept backup's start segment AND on
// a timeline that is the timeline of a kept backup or one of its ancestors; WAL on any other timeline stays
// (walvault cannot prove it unneeded). History files always stay. Index runs go when every segment they cover
// is removed; runs that straddle the cut stay (lookups are bounded by the WAL present, so their older entries are
// harmless). The in-progress tip is never touched.
//
// Pure: no IO, no clock (the caller passes now), nothing throws. Objects are listed oldest first, which is the
// order to remove them in (a crash part-way leaves the remaining WAL contiguous).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "archive/timeline_history.hpp"
#include "wal/lsn.hpp"

namespace walvault::archive {

struct RetentionBackup {
  std::string id;
  wal::TimelineId timeline;
  wal::Lsn start_lsn;
  std::chrono::system_clock::time_point stop_time;
};

struct RetentionPolicy {
  std::optional<uint32_t> keep_backups;             // set: keep the N newest (N ≥ 1)
  std::optional<std::chrono::seconds> keep_for;     // set: keep the last D restorable
  std::chrono::system_clock::time_point now;
  std::set<std::string> pinned;  // backups a restore or drill reads (repo/pins.hpp): kept, with all newer ones
};

struct ExpirePlan {
  std::vector<std::string> expired_backups;  // ids, oldest first
  std::vector<std::string> kept_backups;     // ids, oldest first
  // Per timeline with WAL to remove: segments below this number go.
  std::map<uint32_t, wal::SegmentNo> wal_cut;
  std::vector<std::string> wal_objects;      // segment containers to remove, oldest first
  std::vector<std::string> index_objects;    // index runs (and recorded index problems) to remove
};

// backups: every complete backup, in any order. object_names: the names under "wal/" and "index/".
// A policy with neither or both limits, or keep_backups 0, keeps everything (the CLI refuses those first).
[[nodiscard]] ExpirePlan plan_expire(std::vector<RetentionBackup> backups, const RetentionPolicy& policy,
                                     const TimelineTree& timelines, const std::vector<std::string>& object_names,
                                     uint32_t segment_size);

}  // namespace walvault::archive
