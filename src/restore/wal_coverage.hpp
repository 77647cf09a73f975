// Which WAL the repository holds: contiguous runs of segments per timeline, and whether a given range of segments is
// all there. Used by `walvault backup` (is the backup's WAL captured?), `walvault list` (WAL range per timeline; its
// gaps come from repo/wal_gaps.hpp, as verify's do) and restore planning.
//
// Coverage is computed from object names alone (format/FORMAT.md): completed segment containers
// "wal/<segment>.wvs" and the streamer's in-progress "tip/<segment>.partial" with its durable end (from
// tip/stream.state). The tip counts only up to that durable LSN; a segment cut short by a WAL chain break only up to
// the cut. Pure: no IO, nothing throws; names that are not
// segment objects are ignored.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "wal/lsn.hpp"

namespace walvault::restore {

// The streamer's in-progress segment and how far it is durable.
struct TipState {
  wal::TimelineId timeline;
  wal::SegmentNo segno;
  wal::Lsn durable_lsn;  // end of durable WAL; inside (or at the end of) segno
};

// Segments [first, last] of one timeline, all held. When the run ends with the tip, end_lsn is its durable end;
// otherwise it is the end of `last`.
struct WalRun {
  wal::TimelineId timeline;
  wal::SegmentNo first;
  wal::SegmentNo last;
  wal::Lsn start_lsn;  // the first segment's start
  wal::Lsn end_lsn;
  bool ends_at_tip = false;
};

struct WalCoverage {
  std::vector<WalRun> runs;  // sorted by (timeline, first); two runs of a timeline are separated by a gap
  // Whether every byte of [from, to) on timeline is held (to ≤ the durable end when the range reaches the tip).
  [[nodiscard]] bool holds(wal::TimelineId timeline, wal::Lsn from, wal::Lsn to, uint32_t segment_size) const;
  // The run of timeline holding the byte at lsn, if any.
  [[nodiscard]] const WalRun* run_at(wal::TimelineId timeline, wal::Lsn lsn, uint32_t segment_size) const;
};

// Where a timeline's WAL was cut short: the end of a WAL chain before a chain break (repo/wal_chains.hpp). The
// segment holding it is a partial container, and whatever follows it is another chain.
struct WalCut {
  wal::TimelineId timeline;
  wal::Lsn lsn;
};

// object_names: the names under "wal/" (others are ignored). tip: the in-progress segment, if any. cuts: a run
// that holds a cut ends there, and the segments after it (if any) start a new run.
[[nodiscard]] WalCoverage wal_coverage(const std::vector<std::string>& object_names, const std::optional<TipState>& tip,
                                       uint32_t segment_size, const std::vector<WalCut>& cuts = {});

}  // namespace walvault::restore
