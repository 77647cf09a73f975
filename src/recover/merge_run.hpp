// Running a recovery against production: the report's counts, and --apply's merge (recover/merge_plan.hpp's SQL).
//
// apply_merge, while the application keeps writing:
//   1. moves the sequences of production's tables past every staged key and commits at once;
//   2. waits until every transaction of the database that was open at that commit has ended (polling
//      pg_stat_activity, as CREATE INDEX CONCURRENTLY waits out older transactions): one of them may have taken a key
//      before the sequence moved. Still open after kOldTransactionWait: kUnsafe, naming their pids, nothing merged;
//   3. runs the merge in one REPEATABLE READ transaction: the counts first, then the statements, in one snapshot,
//      so every INSERT and UPDATE writes exactly the rows counted (else kInternal, rolled back: a walvault bug).
//      A concurrent write that collides (a key the application wrote meanwhile, a row it changed) rolls the merge
//      back whole and it runs again, up to kMergeAttempts times, then kConnection.
// Errors: kConnection (a statement failed; the merge rolled back, production unchanged outside the staging schema,
// sequences moved forward only), kUnsafe, kInternal, as above.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

#include "pg/connection.hpp"
#include "recover/merge_plan.hpp"

namespace walvault::recover {

struct Counts {
  uint64_t staged = 0, restore = 0, present = 0, conflicts = 0, changed = 0, deleted_since = 0, orphans = 0;
  std::vector<uint64_t> orphans_by_key;  // per missing_reference_keys(t), in its order (a row may miss several)
  std::optional<uint64_t> written;  // --apply: rows the merge inserted or updated
};

// count_sql's row, for each table (in one statement each, outside any transaction the caller did not open).
[[nodiscard]] std::vector<Counts> read_counts(const pg::Connection& prod, const std::vector<TableRecovery>& ordered);

inline constexpr std::chrono::seconds kOldTransactionWait{60};
inline constexpr int kMergeAttempts = 3;

// Runs the merge (above); returns the counts of the merge's own snapshot, with `written` set.
[[nodiscard]] std::vector<Counts> apply_merge(const pg::Connection& prod, const std::vector<TableRecovery>& ordered,
                                              const Merge& merge);

}  // namespace walvault::recover
