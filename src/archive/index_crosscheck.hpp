// IndexCrossCheck: one timeline's index against the WAL the repository holds, for `walvault verify`: every commit
// and destructive event the WAL holds must be in the index, and nothing the index holds may be absent from the WAL.
//
// The WAL is decoded by archive::IndexDecoder, the loop the streamer's indexer decodes with, so both see the same
// entries. The index is given as units, each the index object that must hold the entries of an LSN range: the runs
// a reader uses, the tip logs past them, and, for held WAL that no run or tip log covers, the object that should
// have held it (absent). Only entries whose record lies wholly inside WAL that was fed are compared (WAL the
// repository does not hold, or holds only in part, proves nothing), and WAL the decoder cannot read (an index
// problem the streamer recorded too) is left out. Events are compared by commit LSN, kind and xid (their names come
// from catalog snapshots, not from the WAL), and only from a segment past the start of a stretch of WAL decoded: an
// event is told from a rewrite by the transaction's earlier records (a relation file it created), which a decoder
// started later does not see, so the in-progress segment alone (the incremental verify) compares commits only.
//
// Memory: the decoded entries of the units not yet compared, and one unit's index entries at a time. A unit is
// compared once the WAL a segment past its end was fed, or at finish(). Errors: Storage errors pass through;
// damaged index objects are skipped (verify reports them on their own).
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "archive/wal_indexer.hpp"
#include "format/index.hpp"
#include "repo/repository.hpp"
#include "storage/storage.hpp"
#include "wal/lsn.hpp"

namespace walvault::archive {

struct IndexUnit {
  enum class Kind { kRun, kTipLog, kAbsent };
  Kind kind = Kind::kRun;
  std::string object;  // for kAbsent: the object that should hold the range
  wal::Lsn from;       // entries with commit LSN in [from, to)
  wal::Lsn to;
};

struct IndexMismatch {
  std::string object;
  std::string message;
  wal::Lsn from;  // the unit's range
  wal::Lsn to;
};

class IndexCrossCheck {
 public:
  // units: sorted by `from`, not overlapping. mass_rows: the thresholds the streamer recorded for the timeline.
  IndexCrossCheck(const storage::Storage& storage, const repo::RepoConfig& config, wal::TimelineId timeline,
                  std::vector<IndexUnit> units, MassRowsSchedule mass_rows);
  IndexCrossCheck(const IndexCrossCheck&) = delete;  // its decoder calls back into it
  IndexCrossCheck& operator=(const IndexCrossCheck&) = delete;

  // WAL held, in LSN order. A piece not contiguous with the previous one starts decoding afresh at `start`, which
  // must then be a segment start.
  void feed(wal::Lsn start, std::span<const std::byte> bytes);
  // Compares the units left and returns every mismatch found.
  [[nodiscard]] std::vector<IndexMismatch> finish();

 private:
  // What identifies an event, and where its commit record ends.
  struct EventKey {
    wal::Lsn commit_lsn;
    format::EventKind kind = format::EventKind::kDropTable;
    uint32_t xid = 0;
    wal::Lsn first_lsn;  // the first destructive record: decoding must have seen it (and the commit) to compare
    wal::Lsn commit_end;
  };
  // Whether [from, to) lies wholly inside WAL fed, at least `context` bytes past the start of its stretch, and
  // outside WAL the decoder could not read.
  [[nodiscard]] bool comparable(wal::Lsn from, wal::Lsn to, uint64_t context = 0) const;
  void compare_ready(wal::Lsn fed_end, bool all);
  void compare(const IndexUnit& unit);

  const storage::Storage& storage_;
  uint32_t segment_size_;
  wal::TimelineId timeline_;
  std::deque<IndexUnit> units_;
  IndexDecoder decoder_;
  std::vector<std::pair<wal::Lsn, wal::Lsn>> fed_;         // WAL fed, merged when contiguous
  std::vector<std::pair<wal::Lsn, wal::Lsn>> unreadable_;  // WAL the decoder could not read
  std::deque<format::CommitEntry> commits_;                // decoded, not yet compared
  std::deque<EventKey> events_;
  std::vector<IndexMismatch> mismatches_;
};

}  // namespace walvault::archive
