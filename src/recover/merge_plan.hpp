// The SQL of a recovery, from what was read: pure text, no IO. The report's counts and the merge that --apply runs
// come from the same predicates, so the dry run shows exactly what the merge will do (as of when it runs).
//
// Rows are matched by the table's key (TableShape::key) and compared as text, column by column, over the columns
// both sides have. For a staged row s (the side copy's row before the event) and production's table p:
//   dropped or truncated table:  s's key absent now → restored; present with other values → a conflict (the key
//                                was reused after the wipe: a recreated table's serial restarts at 1); the same
//                                values → already present.
//   mass delete:                 absent → restored; present with other values → changed since (left alone).
//   mass update:                 present with xmin = the event's xid (the event's own row version, not changed
//                                since) and other values → its values put back; xmin other → changed since (left
//                                alone); absent → deleted since (left alone).
//   column dropped or retyped:   nothing goes back by itself (putting a column back is a schema change): rows whose
//                                values differ now are counted as changed, and the old values stay staged.
//   table absent in production:  everything is restored, and the table created again first (columns, defaults,
//                                constraints, indexes, sequences).
//   table without a key:         the staged rows not in production (EXCEPT ALL) are restored, said so.
// Conflicts follow the policy: skip leaves them in the staging schema; renumber gives them new keys from the key
// column's sequence and rewrites the references to them among the tables recovered together (only for a key of one
// sequence-backed column; otherwise the table's conflicts are skipped, and the report says why).
// A restored row whose foreign key points at a row that exists neither in production nor among the restored rows
// is not inserted (it would fail the constraint): it is counted as "references missing rows" and stays staged.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "recover/table_shape.hpp"

namespace walvault::recover {

// Strongest first: a table several events of an incident hit is recovered for the strongest.
enum class Damage { kDropped, kTruncated, kDeleted, kUpdated, kAltered };
enum class Presence { kSame, kRecreated, kAbsent };  // in production now, by oid
enum class ConflictPolicy { kSkip, kRenumber };

// "dropped", "truncated", "mass deleted", "mass updated", "column dropped or retyped"
[[nodiscard]] std::string_view damage_name(Damage d);
[[nodiscard]] std::string_view presence_name(Presence p);  // "the same table", "recreated since", "absent"

struct TableRecovery {
  TableShape before;              // in the side copy, just before the event
  std::optional<TableShape> now;  // in production (nullopt: absent)
  Presence presence = Presence::kSame;
  Damage damage = Damage::kDropped;
  uint32_t event_xid = 0;                 // the transaction of the event that damaged it (mass updates: xmin)
  std::string staging;                    // quoted staging table: "schema"."public.users"
  std::vector<std::string> columns;       // staged columns that go back (not generated, present in production)
  std::vector<std::string> lost_columns;  // staged columns production no longer has (stay in staging)
  bool renumber = false;                  // conflicts get new keys
  std::string note;                       // one line for the report when something is not done, "" otherwise
};

// Fills columns, lost_columns, renumber and note from before/now/presence/damage and the policy.
void decide_columns(TableRecovery& t, ConflictPolicy policy);

// Tables in merge order: a table after every recovered table its foreign keys reference (production's foreign
// keys, or the side copy's for an absent table). Cycles keep their name order.
[[nodiscard]] std::vector<TableRecovery> merge_order(std::vector<TableRecovery> tables);

// CREATE TABLE of a staging table: the staged columns' names and types, no constraints, no defaults.
[[nodiscard]] std::string staging_table_sql(const TableRecovery& t);
// COPY of the side copy's rows (TO STDOUT) and into the staging table (FROM STDIN).
[[nodiscard]] std::string copy_out_sql(const TableRecovery& t);
[[nodiscard]] std::string copy_in_sql(const TableRecovery& t);

// One row: staged, restore, present, conflicts, changed, deleted_since, orphans (bigints), then the orphans by
// foreign key, one column per missing_reference_keys(t). Orphans follow chains: a staged row whose staged parent is
// itself left out is left out too.
[[nodiscard]] std::string count_sql(const TableRecovery& t, const std::vector<TableRecovery>& all);
// The foreign keys a restored row of t can miss its parent by, as the report names them:
// "accounts_user_id_fkey (user_id -> "public"."users")".
[[nodiscard]] std::vector<std::string> missing_reference_keys(const TableRecovery& t);

struct Statement {
  std::string comment;  // "-- ..." lines before it, "" for none
  std::string sql;
  std::string table;    // display name of the table whose rows it writes, "" for none
  enum class Kind { kOther, kInsert, kUpdate } kind = Kind::kOther;
};

// The merge, in two transactions (without BEGIN/COMMIT: the runner adds them).
//   sequences: every sequence of a table production has, moved past every staged key, committed on its own first,
//              so the application's next keys never collide with restored ones. Only a transaction that took a key
//              before that commit can still collide: the runner waits until every transaction open then has ended.
//   merge:     then, in one REPEATABLE READ transaction: per table (FK order) the renumbering map, then the INSERT
//              or UPDATE; tables absent in production are created first (their sequences moved there) and get their
//              indexes and foreign keys last. No INSERT skips a row silently: a key the application wrote meanwhile
//              fails the merge (unique violation), which rolls back whole and can run again.
struct Merge {
  std::vector<Statement> sequences;
  std::vector<Statement> merge;
};
[[nodiscard]] Merge merge_statements(const std::vector<TableRecovery>& ordered);
// Both transactions as one script, with the wait between them as a comment.
[[nodiscard]] std::string merge_script(const Merge& merge);
inline constexpr std::string_view kLockTimeout = "10s";
inline constexpr std::string_view kMergeBegin = "BEGIN ISOLATION LEVEL REPEATABLE READ";

// The rows the merge writes into a table, from its counts: restored or put back, plus renumbered conflicts, minus
// those referencing missing rows. Counted in the merge's own snapshot, the merge writes exactly this many.
[[nodiscard]] uint64_t rows_to_write(const TableRecovery& t, uint64_t restore, uint64_t conflicts, uint64_t orphans);

}  // namespace walvault::recover
