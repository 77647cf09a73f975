// WAL chain breaks: where the repository's WAL stops being continuous because the server removed WAL walvault had
// not received (its slot was lost, invalidated or moved past the repository), and the operator started a new chain
// on a fresh slot (`walvault new-chain`). The WAL between the old chain's durable end and the new chain's start
// is gone for good; a break declares that gap, so that:
//   - `list` and `verify` show it as a declared gap (what was lost, when and why), not as damage;
//   - the restorable window never spans it: a backup before it restores up to the old chain's end only, and
//     targets after it need a backup taken after it (status and check say broken until one exists);
//   - the streamer, at its next start, archives the old chain's in-progress segment up to its durable end and
//     resumes at the new chain's start.
//
// Storage: "chains/<TTTTTTTT><16-hex LSN>.json" (the new chain's timeline and start), immutable sealed JSON
// (format/FORMAT.md, "WAL chain breaks"). Errors: Storage errors (kIo); kCorrupt for a damaged break, which is
// never skipped (without it the gap would read as lost WAL).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "storage/storage.hpp"
#include "wal/lsn.hpp"
#include "wal/page.hpp"

namespace walvault::repo {

struct ChainBreak {
  wal::TimelineId timeline;             // the new chain starts on this timeline,
  wal::Lsn start;                       // at this segment start (its slot's restart point, rounded down)
  wal::TimelineId previous_timeline;    // the old chain's durable end, as the streamer last recorded it
  std::optional<wal::Lsn> previous_end; // unset when the repository held no WAL yet
  std::string slot;                     // the new chain's slot
  std::string created;                  // ISO 8601 UTC
  std::string reason;                   // one line: what was wrong with the old slot

  // Whether the gap [previous_end, start) covers [from, to).
  [[nodiscard]] bool declares(wal::Lsn from, wal::Lsn to) const;
  // One line: "slot lost (<reason>); new WAL chain from <start> on timeline N (<created>)".
  [[nodiscard]] std::string describe() const;
};

// Every break, oldest first (by start LSN). Throws kCorrupt naming a damaged one.
[[nodiscard]] std::vector<ChainBreak> read_chain_breaks(const storage::Storage& storage);
// The newest break, if any.
[[nodiscard]] std::optional<ChainBreak> newest_chain_break(const storage::Storage& storage);
void write_chain_break(storage::Storage& storage, const ChainBreak& chain_break);

// Where the repository needs the server's WAL from, to judge its slot (pg::slot_problem): the streamer's durable end,
// or the newest break's start when that is later (new-chain made a fresh slot the streamer has not used yet). Pure.
[[nodiscard]] std::optional<wal::Lsn> slot_needed_from(std::optional<wal::Lsn> durable,
                                                       const std::vector<ChainBreak>& breaks);

// When the newest break has no backup after it (every backup starts before it): one line saying that nothing after
// it is restorable until a backup is taken; nullopt otherwise. Pure.
[[nodiscard]] std::optional<std::string> chain_without_backup(const std::vector<ChainBreak>& breaks,
                                                              const std::vector<wal::Lsn>& backup_starts);

}  // namespace walvault::repo
