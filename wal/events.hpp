// Transaction events from WAL records: every commit and abort, and the destructive operations a user may want
// to undo (drop_database, drop_table, truncate, mass_delete, mass_update, drop_column, alter_type), attributed to the
// committing xid.
//
// EventTracker::observe() takes records in LSN order, of the major version whose WalFormat it was made with. It
// follows each transaction (subtransactions folded into their top-level xid through ASSIGNMENT records and the
// commit's subxact list) and, when a COMMIT, ABORT, COMMIT_PREPARED or ABORT_PREPARED arrives, returns kFinished:
// commit() and events() then describe it until the next observe(). An aborted transaction yields its Commit
// (aborted = true) and no events. A commit or abort record that does not parse returns kMalformedFinish: the
// transaction is forgotten, and the caller must report the record (it is never dropped silently).
//
// Classification (PG15-18 WAL, verified on real clusters of each version; see tests/integration/wal_events_test and
// pg_versions_test):
//   drop_database  a Database DROP record in the transaction. first_lsn = the Heap INPLACE on pg_database
//                  (1664/0/1262, xid 0) that invalidated the same tuple the transaction then deleted, else the
//                  transaction's first record: restore with recovery_target_lsn = first_lsn, inclusive off.
//   Only files that existed before the transaction count: a relation created and dropped in one transaction is
//   no loss.
//   drop_table     the commit drops such files, and the transaction deleted rows of pg_class (relfilenode 1259) and
//                  pg_type rows (1247: a table's row type) that it had not created itself: DROP TABLE, DROP SCHEMA
//                  ... CASCADE, DROP MATERIALIZED VIEW, also when the table is created again and refilled in the same
//                  transaction (a reset and reseed). DROP INDEX deletes no pg_type row and is not reported. Known
//                  limits: after VACUUM FULL pg_type (a new relfilenode for pg_type) drops are not recognised; a
//                  view dropped in the same transaction as a table rewrite reads as drop_table (a false alarm); a
//                  pg_type row created in one subtransaction and deleted in another before the assignment record
//                  counts as pre-existing (a false alarm).
//   truncate       the commit drops such files, the transaction created replacements (Storage CREATE) and removed
//                  no relation from the catalog (no pg_class DELETE), and some new file received nothing but heap
//                  rows while no heap page was copied into one. That is TRUNCATE, also when the table is refilled in
//                  the same transaction. REINDEX and a sequence reset write their own pages into every new file, and
//                  ALTER TABLE ... SET TABLESPACE copies heap pages (XLOG FPI): not events.
//   (rewrite)      VACUUM FULL, CLUSTER, ALTER TABLE rewrites and REFRESH MATERIALIZED VIEW build the data into a
//                  transient relation and delete its pg_class row and the pg_type rows they created for it: not an
//                  event. Known limit: a TRUNCATE in the same transaction as a rewrite is not reported.
//   drop_column    a non-HOT Heap UPDATE of a pg_attribute row (relfilenode 1249) that existed before the
//                  transaction, whose new tuple has attisdropped = 1 and the name "........pg.dropped.N........" with N
//                  its attnum (wal/catalog_rows.hpp: from the block data's window of changed bytes, or from an
//                  uncompressed full-page image). The column's table (attrelid) comes from the tuple when it holds
//                  it, else from the transaction's pg_attribute_relid_attnum_index (2659) insert of the same row, else
//                  from the only relation the transaction locked, else 0. One event per transaction lists every
//                  column; columns added in the same transaction (INSERT / MULTI_INSERT rows) are no loss, and a
//                  column whose row the transaction then deletes belongs to a table it dropped (drop_table). A new
//                  tuple only in a compressed image is reported (Commit::undecodable_catalog_change), never guessed.
//   alter_type     a rewrite (the commit drops pre-existing files, the transaction created files) that also updated
//                  a pre-existing pg_attribute row's atttypid or atttypmod (the window overlaps them, or the old and
//                  new tuple of an image differ): ALTER COLUMN ... TYPE that rewrites. relfilenodes: the replaced
//                  files. A type change without a rewrite (varchar widening) and the other rewrites are not events.
//                  Known limits: after VACUUM FULL pg_attribute (a new relfilenode, followed by RelMap records that
//                  are not read) column drops and type changes are not recognised.
//   mass_delete / mass_update  at least `mass_rows_threshold` heap DELETEs / UPDATEs (HOT included) in one
//                  transaction on user relations (relfilenode >= 16384) that the commit does not drop. One event
//                  per kind and transaction, listing every relation over the threshold; rows = their sum.
// A commit that drops files of a transaction whose start was not seen (before the first record observed, or
// forgotten under the memory bound) is reported as drop_table: a possible false alarm rather than a miss.
// relfilenodes are RelFileNode triples; rel_oids come from the Standby LOCK records (AccessExclusiveLock), so names
// can be resolved later. Memory is bounded by EventConfig: the oldest open transaction is forgotten past
// max_transactions, per-transaction relation lists stop growing past max_relations (counted as overflow), and
// transactions that a RUNNING_XACTS record shows finished are dropped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "wal/lsn.hpp"
#include "wal/page.hpp"
#include "wal/record.hpp"
#include "wal/xact.hpp"

namespace walvault::wal {

// The default of `mass_rows_threshold` (`walvault stream --mass-rows`, `walvault dump --mass-rows`).
inline constexpr uint64_t kDefaultMassRowsThreshold = 1000;

struct EventConfig {
  uint64_t mass_rows_threshold = kDefaultMassRowsThreshold;
  size_t max_transactions = 100000;
  size_t max_relations = 4096;
  size_t max_subxacts = 1000000;
};

struct Commit {
  uint32_t xid = 0;  // for *_PREPARED the prepared transaction's xid
  Lsn lsn;           // start of the commit/abort record
  Lsn end_lsn;       // just past it
  TimestampTz time = 0;
  bool aborted = false;
  bool prepared = false;  // COMMIT_PREPARED / ABORT_PREPARED
  uint32_t db = 0;        // 0 when the record carries no database
  std::vector<uint32_t> subxacts;
  std::vector<RelFileNode> dropped_rels;
  // A pg_attribute row update of the transaction whose new tuple is only in a compressed full-page image
  // (wal_compression): a column drop there cannot be seen, so the caller reports it as an index problem.
  std::optional<Lsn> undecodable_catalog_change;
};

// The values are stored in the repository index (format/FORMAT.md): never renumber.
enum class EventKind : uint8_t {
  kDropDatabase = 1,
  kDropTable = 2,
  kTruncate = 3,
  kMassDelete = 4,
  kMassUpdate = 5,
  kDropColumn = 6,
  kAlterType = 7,
};
// "drop_database", "drop_table", "truncate", "mass_delete", "mass_update", "drop_column", "alter_type".
[[nodiscard]] std::string_view event_kind_name(EventKind kind);
// The kind named by event_kind_name, or nullopt.
[[nodiscard]] std::optional<EventKind> parse_event_kind(std::string_view name);

struct RelationOid {
  uint32_t db = 0;
  uint32_t rel = 0;
  constexpr auto operator<=>(const RelationOid&) const = default;
};

// A column of a drop_column or alter_type event.
struct EventColumn {
  uint32_t rel = 0;    // the table's oid (pg_attribute.attrelid); 0 when unknown
  int16_t attnum = 0;  // 0 when unknown
  bool type_known = false;
  uint32_t type_oid = 0;  // alter_type: atttypid after the change, when type_known
  int32_t typmod = -1;    // alter_type: atttypmod after the change, when type_known
  constexpr auto operator<=>(const EventColumn&) const = default;
};

struct Event {
  EventKind kind = EventKind::kDropTable;
  uint32_t xid = 0;
  Lsn commit_lsn;
  Lsn commit_end_lsn;
  TimestampTz commit_time = 0;
  uint32_t db = 0;  // the dropped database for drop_database
  std::vector<RelFileNode> relfilenodes;
  std::vector<RelationOid> rel_oids;
  uint64_t rows = 0;  // mass_delete / mass_update
  Lsn first_lsn;      // first record of the transaction's destructive work (see above)
  // Committed by COMMIT PREPARED: a restore must stop before first_lsn, since stopping before the commit leaves the
  // transaction prepared, holding its locks on the tables it dropped.
  bool two_phase = false;
  std::vector<EventColumn> columns = {};  // drop_column, alter_type
};

enum class Observed {
  kRecord,           // nothing finished
  kFinished,         // a transaction finished: see commit() and events()
  kMalformedFinish,  // a commit or abort record that does not parse in this version's layout
};

class EventTracker {
 public:
  explicit EventTracker(WalFormat format, EventConfig config = {});

  // Feeds the next record in LSN order.
  [[nodiscard]] Observed observe(const Record& record);
  [[nodiscard]] const Commit& commit() const { return commit_; }
  [[nodiscard]] std::span<const Event> events() const { return events_; }
  // The threshold for the transactions that finish from the next observe() on (a repository records where it
  // changed: archive/mass_rows.hpp).
  void set_mass_rows_threshold(uint64_t threshold) { config_.mass_rows_threshold = threshold; }
  // Open transactions being followed (for tests of the memory bound).
  [[nodiscard]] size_t open_transactions() const { return txs_.size(); }

 private:
  // A catalog row: the relation file it lives in, its block and line pointer.
  struct RowId {
    RelFileNode rel;
    uint32_t block = 0;
    uint16_t offnum = 0;
    bool operator==(const RowId&) const = default;
  };
  struct RelCounts {
    RelFileNode rel;
    uint64_t deletes = 0;
    uint64_t updates = 0;
  };
  // A change of a pg_attribute row that existed before the transaction.
  struct ColumnChange {
    RowId row;  // the new version of the row
    bool dropped = false;
    EventColumn column;
  };
  struct Tx {
    Lsn first_lsn;
    std::vector<RelCounts> counts;
    std::vector<RelFileNode> created;
    std::vector<RelFileNode> built;  // created files that received pages other than heap rows
    std::vector<RelationOid> locks;
    bool heap_pages_copied = false;  // a heap page with tuples copied (XLOG FPI) into a created file
    uint32_t pg_class_deletes = 0;
    std::vector<RowId> new_types;        // pg_type rows the transaction inserted (or updated from one it inserted)
    std::vector<RowId> new_attributes;   // the same for pg_attribute rows
    std::vector<ColumnChange> columns;   // pre-existing pg_attribute rows marked dropped or given a new type
    bool unknown_type_change = false;    // a pg_attribute HOT update whose tuple is in a compressed image
    std::optional<Lsn> undecodable_attribute;  // the first such non-HOT update (a possible column drop)
    std::vector<RowId> deleted_types;    // pg_type rows it deleted
    uint32_t unlisted_type_deletes = 0;  // deletes past the bound of deleted_types: counted as pre-existing rows
    uint32_t dropped_db = 0;
    bool has_pg_database_delete = false;
    uint32_t pg_database_block = 0;
    uint16_t pg_database_offnum = 0;
    bool overflow = false;
  };
  struct Inplace {
    Lsn lsn;
    uint32_t block = 0;
    uint16_t offnum = 0;
  };

  Tx& tx_for(uint32_t xid, Lsn lsn);
  [[nodiscard]] uint32_t top_of(uint32_t xid) const;
  void merge_into(Tx& top, Tx&& sub) const;
  void note_heap(const Record& rec, Tx& tx);
  void note_type_row(const Record& rec, uint8_t op, Tx& tx) const;
  // Follows the rows a transaction inserted into a catalog (INSERT, MULTI_INSERT, and updates of those rows);
  // returns true for an update of such a row.
  bool note_new_row(const Record& rec, uint8_t op, std::vector<RowId>& rows, bool& overflow) const;
  void note_attribute_row(const Record& rec, uint8_t op, Tx& tx) const;
  void note_attnum_index(const Record& rec, Tx& tx) const;
  void note_type_delete(Tx& tx, const RowId& row) const;
  void note_created_write(const Record& rec, Tx& tx) const;
  void forget_finished(uint32_t oldest_running);
  Observed finish(const Record& rec);
  void classify(const Tx& tx);

  WalFormat format_;
  EventConfig config_;
  std::unordered_map<uint32_t, Tx> txs_;
  std::unordered_map<uint32_t, uint32_t> sub_to_top_;
  std::vector<Inplace> inplaces_;  // recent INPLACE updates of pg_database, newest last (bounded)
  Commit commit_;
  std::vector<Event> events_;
};

}  // namespace walvault::wal
