// WAL the repository must hold and does not: the one computation of gaps that `walvault verify` and `walvault list`
// share, so they never disagree.
//
// What must be held, per timeline (along the timeline histories):
//   - from each backup's start LSN, along its line of history up to the newest timeline reached from it;
//   - on a timeline no backup reaches, from its first WAL held up to where a child timeline with WAL left it;
//   - on the streamer's timeline, up to the durable LSN it acknowledged to the server (tip/stream.state): every
//     byte up to there was promised, so a missing container or tip below it is data loss, not the end of the WAL.
// Everything in there that is not held is a gap, reported with the backup that needs it. A gap inside a declared
// WAL chain break (repo/wal_chains.hpp: the server removed that WAL before walvault received it, and the operator
// started a new chain) is reported as declared: known and explained, not damage.
//
// Pure: no IO, nothing throws. The held WAL is given per segment (from container trailers in verify, from object
// names in list); the caller decides how it learns it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "archive/timeline_history.hpp"
#include "repo/wal_chains.hpp"
#include "restore/wal_coverage.hpp"
#include "wal/lsn.hpp"

namespace walvault::repo {

struct LsnRange {
  wal::Lsn start;
  wal::Lsn end;
};
// timeline → segment number → the WAL held in that segment.
using HeldWal = std::map<uint32_t, std::map<uint64_t, LsnRange>>;

// The WAL a name-based coverage holds (whole segments; the tip up to its durable end).
[[nodiscard]] HeldWal held_wal(const restore::WalCoverage& coverage, uint32_t segment_size);

struct BackupStart {
  std::string id;
  wal::TimelineId timeline;
  wal::Lsn start_lsn;
};

// The streamer's acknowledged end of WAL (tip/stream.state).
struct DurableEnd {
  wal::TimelineId timeline;
  wal::Lsn lsn;
};

struct WalGap {
  wal::TimelineId timeline;
  wal::Lsn from;
  std::optional<wal::Lsn> to;  // unset: nothing held on the timeline and no known end
  std::string backup;          // the oldest backup needing it ("" when none)
  bool below_durable = false;  // the streamer acknowledged this WAL as durable: it was held, and is lost
  std::optional<ChainBreak> declared;  // the chain break that declares it (then it is no damage)
  // One line: "WAL missing on timeline 1 from 0/3000000 to 0/4000000 (segment ...), needed by backup X".
  [[nodiscard]] std::string message(uint32_t segment_size) const;
};

// Gaps in LSN order per timeline.
[[nodiscard]] std::vector<WalGap> find_wal_gaps(const HeldWal& held, const std::vector<BackupStart>& backups,
                                                const archive::TimelineTree& timelines,
                                                const std::optional<DurableEnd>& durable,
                                                const std::vector<ChainBreak>& breaks, uint32_t segment_size);

}  // namespace walvault::repo
