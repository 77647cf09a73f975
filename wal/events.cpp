#include "wal/events.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

#include "wal/catalog_rows.hpp"
#include "wal/rmgr.hpp"

namespace walvault::wal {
namespace {

constexpr uint32_t kPgClassRel = 1259;
constexpr uint32_t kPgTypeRel = 1247;
constexpr RelFileNode kPgDatabase{1664, 0, 1262};
constexpr size_t kMaxInplaces = 64;
constexpr uint8_t kHeapOpMask = 0x70;
constexpr uint8_t kHeapInsert = 0x00;
constexpr uint8_t kHeapDelete = 0x10;
constexpr uint8_t kHeapUpdate = 0x20;
constexpr uint8_t kHeapHotUpdate = 0x40;
constexpr uint8_t kHeapInplace = 0x70;
constexpr uint8_t kHeap2MultiInsert = 0x50;
constexpr uint8_t kHeapInitPage = 0x80;
constexpr uint8_t kXlogFpi = 0xB0;
constexpr uint8_t kSmgrCreate = 0x10;
constexpr uint8_t kStandbyLock = 0x00;
constexpr uint8_t kStandbyRunningXacts = 0x10;
constexpr uint16_t kDataPageSize = 8192;
constexpr uint16_t kPageHeaderSize = 24;  // SizeOfPageHeaderData

template <typename T>
bool load(std::span<const std::byte> bytes, size_t offset, T& out) {
  if (bytes.size() < offset + sizeof(T)) return false;
  std::memcpy(&out, bytes.data() + offset, sizeof out);
  return true;
}

// TransactionIdPrecedes for normal xids.
bool xid_precedes(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) < 0; }

template <typename T>
void add_unique(std::vector<T>& v, const T& item, size_t cap, bool& overflow) {
  if (std::find(v.begin(), v.end(), item) != v.end()) return;
  if (v.size() >= cap) {
    overflow = true;
    return;
  }
  v.push_back(item);
}

// A full-page image of a heap page holding at least one line pointer: heap pages have no special space.
bool is_heap_page_with_tuples(const BlockRef& b) {
  if (!b.has_image() || b.image_compressed() || b.image.size() < kPageHeaderSize) return false;
  if ((b.bimg_info & kBkpImageHasHole) != 0 && b.hole_offset < kPageHeaderSize) return false;
  uint16_t lower = 0;
  uint16_t special = 0;
  if (!load(b.image, 12, lower) || !load(b.image, 16, special)) return false;
  return special == kDataPageSize && lower > kPageHeaderSize;
}

}  // namespace

std::string_view event_kind_name(EventKind kind) {
  switch (kind) {
    case EventKind::kDropDatabase:
      return "drop_database";
    case EventKind::kDropTable:
      return "drop_table";
    case EventKind::kTruncate:
      return "truncate";
    case EventKind::kMassDelete:
      return "mass_delete";
    case EventKind::kMassUpdate:
      return "mass_update";
    case EventKind::kDropColumn:
      return "drop_column";
    case EventKind::kAlterType:
      return "alter_type";
  }
  return "unknown";
}

std::optional<EventKind> parse_event_kind(std::string_view name) {
  for (const auto k : {EventKind::kDropDatabase, EventKind::kDropTable, EventKind::kTruncate, EventKind::kMassDelete,
                       EventKind::kMassUpdate, EventKind::kDropColumn, EventKind::kAlterType}) {
    if (event_kind_name(k) == name) return k;
  }
  return std::nullopt;
}

EventTracker::EventTracker(WalFormat format, EventConfig config) : format_(format), config_(config) {}

uint32_t EventTracker::top_of(uint32_t xid) const {
  const auto it = sub_to_top_.find(xid);
  return it == sub_to_top_.end() ? xid : it->second;
}

EventTracker::Tx& EventTracker::tx_for(uint32_t xid, Lsn lsn) {
  auto it = txs_.find(xid);
  if (it != txs_.end()) return it->second;
  if (txs_.size() >= config_.max_transactions) {
    const auto oldest = std::min_element(
        txs_.begin(), txs_.end(), [](const auto& a, const auto& b) { return a.second.first_lsn < b.second.first_lsn; });
    txs_.erase(oldest);
  }
  Tx& tx = txs_[xid];
  tx.first_lsn = lsn;
  return tx;
}

void EventTracker::merge_into(Tx& top, Tx&& sub) const {
  top.first_lsn = std::min(top.first_lsn, sub.first_lsn);
  for (const auto& c : sub.counts) {
    auto it = std::find_if(top.counts.begin(), top.counts.end(), [&](const RelCounts& t) { return t.rel == c.rel; });
    if (it != top.counts.end()) {
      it->deletes += c.deletes;
      it->updates += c.updates;
    } else if (top.counts.size() < config_.max_relations) {
      top.counts.push_back(c);
    } else {
      top.overflow = true;
    }
  }
  for (const auto& r : sub.created) add_unique(top.created, r, config_.max_relations, top.overflow);
  for (const auto& r : sub.built) add_unique(top.built, r, config_.max_relations, top.overflow);
  for (const auto& l : sub.locks) add_unique(top.locks, l, config_.max_relations, top.overflow);
  top.heap_pages_copied = top.heap_pages_copied || sub.heap_pages_copied;
  top.pg_class_deletes += sub.pg_class_deletes;
  for (const auto& r : sub.new_types) add_unique(top.new_types, r, config_.max_relations, top.overflow);
  for (const auto& r : sub.new_attributes) add_unique(top.new_attributes, r, config_.max_relations, top.overflow);
  for (const auto& c : sub.columns) {
    if (top.columns.size() < config_.max_relations) {
      top.columns.push_back(c);
    } else {
      top.overflow = true;
    }
  }
  top.unknown_type_change = top.unknown_type_change || sub.unknown_type_change;
  if (sub.undecodable_attribute && !top.undecodable_attribute) top.undecodable_attribute = sub.undecodable_attribute;
  for (const auto& r : sub.deleted_types) note_type_delete(top, r);
  top.unlisted_type_deletes += sub.unlisted_type_deletes;
  if (sub.dropped_db != 0) top.dropped_db = sub.dropped_db;
  if (sub.has_pg_database_delete && !top.has_pg_database_delete) {
    top.has_pg_database_delete = true;
    top.pg_database_block = sub.pg_database_block;
    top.pg_database_offnum = sub.pg_database_offnum;
  }
  top.overflow = top.overflow || sub.overflow;
}

void EventTracker::note_created_write(const Record& rec, Tx& tx) const {
  if (tx.created.empty()) return;
  const auto rmgr = static_cast<Rmgr>(rec.rmid);
  const bool heap = rmgr == Rmgr::kHeap || rmgr == Rmgr::kHeap2;
  const bool page_copy = rmgr == Rmgr::kXlog && rec.opcode() == kXlogFpi;
  for (const auto& b : rec.blocks) {
    if (b.fork() != 0) continue;
    if (std::find(tx.created.begin(), tx.created.end(), b.rel) == tx.created.end()) continue;
    if (page_copy && is_heap_page_with_tuples(b)) tx.heap_pages_copied = true;
    if (!heap) add_unique(tx.built, b.rel, config_.max_relations, tx.overflow);
  }
}

void EventTracker::note_heap(const Record& rec, Tx& tx) {
  if (rec.blocks.empty()) return;
  const uint8_t op = rec.info & kHeapOpMask;
  const RelFileNode& rel = rec.blocks.front().rel;
  if (op == kHeapDelete) {
    if (rel.rel == kPgClassRel) ++tx.pg_class_deletes;
    if (rel == kPgDatabase) {
      uint16_t offnum = 0;
      if (load(rec.main_data, 4, offnum) && !tx.has_pg_database_delete) {
        tx.has_pg_database_delete = true;
        tx.pg_database_block = rec.blocks.front().block;
        tx.pg_database_offnum = offnum;
      }
    }
  }
  if (rel.rel == kPgTypeRel) note_type_row(rec, op, tx);
  if (rel.rel == kPgAttributeRel && rec.blocks.front().fork() == 0) note_attribute_row(rec, op, tx);
  if ((op != kHeapDelete && op != kHeapUpdate && op != kHeapHotUpdate) || rel.rel < kFirstNormalObjectId) return;
  auto it = std::find_if(tx.counts.begin(), tx.counts.end(), [&](const RelCounts& c) { return c.rel == rel; });
  if (it == tx.counts.end()) {
    if (tx.counts.size() >= config_.max_relations) {
      tx.overflow = true;
      return;
    }
    tx.counts.push_back(RelCounts{rel});
    it = tx.counts.end() - 1;
  }
  if (op == kHeapDelete) {
    ++it->deletes;
  } else {
    ++it->updates;
  }
}

bool EventTracker::note_new_row(const Record& rec, uint8_t op, std::vector<RowId>& rows, bool& overflow) const {
  const auto block = [&](uint8_t id) -> const BlockRef* {
    const auto it = std::find_if(rec.blocks.begin(), rec.blocks.end(), [&](const BlockRef& b) { return b.id == id; });
    return it == rec.blocks.end() ? nullptr : &*it;
  };
  const BlockRef* target = block(0);
  if (target == nullptr) return false;
  uint16_t offnum = 0;
  if (static_cast<Rmgr>(rec.rmid) == Rmgr::kHeap2) {
    // xl_heap_multi_insert: flags @0, ntuples @2, offsets @4 (left out on a page it initialises: 1..ntuples).
    uint16_t n = 0;
    if (op != kHeap2MultiInsert || !load(rec.main_data, 2, n)) return false;
    const bool init = (rec.info & kHeapInitPage) != 0;
    for (uint16_t i = 0; i < n; ++i) {
      if (init) {
        offnum = static_cast<uint16_t>(i + 1);
      } else if (!load(rec.main_data, 4 + 2 * static_cast<size_t>(i), offnum)) {
        break;
      }
      add_unique(rows, RowId{target->rel, target->block, offnum}, config_.max_relations, overflow);
    }
    return false;
  }
  if (op == kHeapInsert) {
    if (load(rec.main_data, 0, offnum)) {
      add_unique(rows, RowId{target->rel, target->block, offnum}, config_.max_relations, overflow);
    }
  } else if (op == kHeapUpdate || op == kHeapHotUpdate) {
    // xl_heap_update: old_offnum at 4, new_offnum at 12; the old tuple is in block 1 when it moved pages.
    uint16_t new_offnum = 0;
    if (!load(rec.main_data, 4, offnum) || !load(rec.main_data, 12, new_offnum)) return false;
    const BlockRef* old_block = block(1);
    const RowId old_row{target->rel, old_block != nullptr ? old_block->block : target->block, offnum};
    if (std::find(rows.begin(), rows.end(), old_row) != rows.end()) {
      add_unique(rows, RowId{target->rel, target->block, new_offnum}, config_.max_relations, overflow);
      return true;
    }
  }
  return false;
}

void EventTracker::note_type_row(const Record& rec, uint8_t op, Tx& tx) const {
  (void)note_new_row(rec, op, tx.new_types, tx.overflow);
  if (op != kHeapDelete || rec.blocks.empty()) return;
  uint16_t offnum = 0;
  const BlockRef& target = rec.blocks.front();
  if (load(rec.main_data, 4, offnum)) {
    note_type_delete(tx, RowId{target.rel, target.block, offnum});
  } else {
    ++tx.unlisted_type_deletes;
  }
}

void EventTracker::note_attribute_row(const Record& rec, uint8_t op, Tx& tx) const {
  if (note_new_row(rec, op, tx.new_attributes, tx.overflow)) return;  // a row of the transaction's own: no loss
  uint16_t offnum = 0;
  if (static_cast<Rmgr>(rec.rmid) == Rmgr::kHeap && op == kHeapDelete && load(rec.main_data, 4, offnum)) {
    // The changed row deleted again: its table was dropped in the same transaction, which drop_table reports.
    const RowId row{rec.blocks.front().rel, rec.blocks.front().block, offnum};
    std::erase_if(tx.columns, [&](const ColumnChange& c) { return c.row == row; });
    return;
  }
  if (static_cast<Rmgr>(rec.rmid) != Rmgr::kHeap || (op != kHeapUpdate && op != kHeapHotUpdate)) return;
  const auto update = parse_heap_update(rec);
  if (!update) return;
  if (!update->new_tuple) {
    // Only in a compressed image (or malformed): a type change counts as possible, a column drop is reported.
    if (op == kHeapHotUpdate) {
      tx.unknown_type_change = true;
    } else if (!tx.undecodable_attribute) {
      tx.undecodable_attribute = rec.lsn;
    }
    return;
  }
  const auto& layout = format_.attribute;
  const RowId row{rec.blocks.front().rel, update->new_block, update->new_offnum};
  ColumnChange change{row, false, {}};
  if (const auto d = dropped_column(*update->new_tuple, layout); d && op == kHeapUpdate) {
    change.dropped = true;
    change.column.rel = d->attrelid;
    change.column.attnum = d->attnum;
  } else if (type_may_change(*update->new_tuple, update->old_tuple, layout)) {
    const TupleWindow& t = *update->new_tuple;
    change.column.rel = t.get<uint32_t>(0).value_or(0);
    change.column.attnum = t.get<int16_t>(layout.attnum).value_or(0);
    const auto type_oid = t.get<uint32_t>(68);
    const auto typmod = t.get<int32_t>(layout.atttypmod);
    if (type_oid && typmod) {
      change.column.type_known = true;
      change.column.type_oid = *type_oid;
      change.column.typmod = *typmod;
    }
  } else {
    return;
  }
  if (tx.columns.size() >= config_.max_relations) {
    tx.overflow = true;
    return;
  }
  tx.columns.push_back(change);
}

void EventTracker::note_attnum_index(const Record& rec, Tx& tx) const {
  const auto entry = attnum_index_insert(rec);
  if (!entry) return;
  for (auto& c : tx.columns) {
    if (c.column.rel == 0 && c.row.block == entry->heap_block && c.row.offnum == entry->heap_offnum &&
        (c.column.attnum == 0 || c.column.attnum == entry->attnum)) {
      c.column.rel = entry->attrelid;
      c.column.attnum = entry->attnum;
    }
  }
}

void EventTracker::note_type_delete(Tx& tx, const RowId& row) const {
  if (tx.deleted_types.size() < config_.max_relations) {
    tx.deleted_types.push_back(row);
  } else {
    ++tx.unlisted_type_deletes;
  }
}

void EventTracker::forget_finished(uint32_t oldest_running) {
  for (auto it = txs_.begin(); it != txs_.end();) {
    it = xid_precedes(it->first, oldest_running) ? txs_.erase(it) : std::next(it);
  }
  for (auto it = sub_to_top_.begin(); it != sub_to_top_.end();) {
    it = xid_precedes(it->second, oldest_running) ? sub_to_top_.erase(it) : std::next(it);
  }
}

Observed EventTracker::observe(const Record& rec) {
  const auto rmgr = static_cast<Rmgr>(rec.rmid);
  if (is_xact_finish(rec)) return finish(rec);
  if (rmgr == Rmgr::kTransaction) {
    const XactOp op = xact_op(rec);
    if (op == XactOp::kAssignment) {
      if (const auto a = parse_xact_assignment(rec)) {
        Tx& top = tx_for(a->top, rec.lsn);
        for (uint32_t i = 0; i < a->subxacts.size(); ++i) {
          const uint32_t sub = a->subxacts[i];
          if (sub_to_top_.size() < config_.max_subxacts) sub_to_top_[sub] = a->top;
          const auto it = txs_.find(sub);
          if (it != txs_.end()) {
            Tx moved = std::move(it->second);
            txs_.erase(it);
            merge_into(top, std::move(moved));
          }
        }
      }
      return Observed::kRecord;
    }
  }
  if (rmgr == Rmgr::kStandby) {
    if (rec.opcode() == kStandbyLock) {
      int32_t n = 0;
      if (!load(rec.main_data, 0, n) || n < 0) return Observed::kRecord;
      for (int32_t i = 0; i < n; ++i) {
        const size_t o = 4 + static_cast<size_t>(i) * 12;
        uint32_t xid = 0;
        RelationOid oid;
        if (!load(rec.main_data, o, xid) || !load(rec.main_data, o + 4, oid.db) ||
            !load(rec.main_data, o + 8, oid.rel) || xid == 0) {
          break;
        }
        Tx& tx = tx_for(top_of(xid), rec.lsn);
        add_unique(tx.locks, oid, config_.max_relations, tx.overflow);
      }
    } else if (rec.opcode() == kStandbyRunningXacts) {
      uint32_t oldest = 0;
      if (load(rec.main_data, 16, oldest) && oldest != 0) forget_finished(oldest);
    }
    return Observed::kRecord;
  }
  if (rmgr == Rmgr::kHeap && (rec.info & kHeapOpMask) == kHeapInplace && !rec.blocks.empty() &&
      rec.blocks.front().rel == kPgDatabase) {
    uint16_t offnum = 0;
    if (load(rec.main_data, 0, offnum)) {
      if (inplaces_.size() >= kMaxInplaces) inplaces_.erase(inplaces_.begin());
      inplaces_.push_back(Inplace{rec.lsn, rec.blocks.front().block, offnum});
    }
  }
  if (rec.xid == 0) return Observed::kRecord;
  const uint32_t owner = rec.toplevel_xid != 0 ? rec.toplevel_xid : top_of(rec.xid);
  Tx& tx = tx_for(owner, rec.lsn);
  switch (rmgr) {
    case Rmgr::kHeap:
      note_heap(rec, tx);
      break;
    case Rmgr::kHeap2:
      if (!rec.blocks.empty() && rec.blocks.front().fork() == 0) {
        if (rec.blocks.front().rel.rel == kPgAttributeRel) {
          (void)note_new_row(rec, rec.info & kHeapOpMask, tx.new_attributes, tx.overflow);
        }
      }
      break;
    case Rmgr::kBtree:
      if (!tx.columns.empty() && !rec.blocks.empty() && rec.blocks.front().rel.rel == kPgAttributeRelidAttnumIndex) {
        note_attnum_index(rec, tx);
      }
      break;
    case Rmgr::kStorage:
      if (rec.opcode() == kSmgrCreate) {
        RelFileNode rel;
        int32_t fork = -1;
        if (load(rec.main_data, 0, rel.spc) && load(rec.main_data, 4, rel.db) && load(rec.main_data, 8, rel.rel) &&
            load(rec.main_data, 12, fork) && fork == 0) {
          add_unique(tx.created, rel, config_.max_relations, tx.overflow);
        }
      }
      break;
    case Rmgr::kDatabase:
      if (rec.opcode() == format_.dbase_drop_opcode) {
        uint32_t db = 0;
        if (load(rec.main_data, 0, db)) tx.dropped_db = db;
      }
      break;
    default:
      break;
  }
  note_created_write(rec, tx);
  return Observed::kRecord;
}

Observed EventTracker::finish(const Record& rec) {
  const auto f = parse_xact_finish(rec, format_);
  if (!f) {
    txs_.erase(rec.xid);  // its work is no longer followed; the caller reports the record
    return Observed::kMalformedFinish;
  }
  commit_ = Commit{};
  events_.clear();
  commit_.xid = f->prepared() ? f->twophase_xid : rec.xid;
  commit_.lsn = rec.lsn;
  commit_.end_lsn = rec.end_lsn;
  commit_.time = f->time;
  commit_.aborted = f->aborted();
  commit_.prepared = f->prepared();
  commit_.db = f->db;
  commit_.subxacts.reserve(f->subxacts.size());
  for (uint32_t i = 0; i < f->subxacts.size(); ++i) commit_.subxacts.push_back(f->subxacts[i]);
  commit_.dropped_rels.reserve(f->rels.size());
  for (uint32_t i = 0; i < f->rels.size(); ++i) commit_.dropped_rels.push_back(f->rels[i]);

  Tx tx;
  bool known = false;
  const auto take = [&](uint32_t xid) {
    const auto it = txs_.find(xid);
    if (it == txs_.end()) return;
    if (!known) {
      tx = std::move(it->second);
      known = true;
    } else {
      merge_into(tx, std::move(it->second));
    }
    txs_.erase(it);
  };
  take(commit_.xid);
  for (const uint32_t sub : commit_.subxacts) {
    take(sub);
    sub_to_top_.erase(sub);
  }
  if (commit_.db == 0 && !commit_.dropped_rels.empty()) commit_.db = commit_.dropped_rels.front().db;
  if (!commit_.aborted && known) {
    classify(tx);
    commit_.undecodable_catalog_change = tx.undecodable_attribute;
  }
  if (!commit_.aborted && !known && !commit_.dropped_rels.empty()) {
    // The transaction began before the WAL we saw: the commit alone still tells that files were dropped.
    Tx unknown;
    unknown.first_lsn = rec.lsn;
    unknown.pg_class_deletes = 1;
    unknown.unlisted_type_deletes = 1;
    classify(unknown);
  }
  return Observed::kFinished;
}

void EventTracker::classify(const Tx& tx) {
  const auto base = [&](EventKind kind) {
    Event e;
    e.kind = kind;
    e.xid = commit_.xid;
    e.commit_lsn = commit_.lsn;
    e.commit_end_lsn = commit_.end_lsn;
    e.commit_time = commit_.time;
    e.db = commit_.db;
    e.first_lsn = tx.first_lsn.valid() ? tx.first_lsn : commit_.lsn;
    e.two_phase = commit_.prepared;
    return e;
  };
  if (tx.dropped_db != 0) {
    Event e = base(EventKind::kDropDatabase);
    e.db = tx.dropped_db;
    if (tx.has_pg_database_delete) {
      // The newest invalidating INPLACE on the same pg_database tuple before the transaction's work.
      for (auto it = inplaces_.rbegin(); it != inplaces_.rend(); ++it) {
        if (it->lsn < e.first_lsn && it->block == tx.pg_database_block && it->offnum == tx.pg_database_offnum) {
          e.first_lsn = it->lsn;
          break;
        }
      }
    }
    events_.push_back(std::move(e));
  }
  const auto& dropped = commit_.dropped_rels;
  // Files that existed before the transaction: one it created and dropped again is no loss.
  std::vector<RelFileNode> lost;
  for (const auto& r : dropped) {
    if (std::find(tx.created.begin(), tx.created.end(), r) == tx.created.end()) lost.push_back(r);
  }
  if (!lost.empty()) {
    // pg_type rows that existed before the transaction: a table's row type, not a rewrite's transient one.
    const auto old_type_deletes =
        tx.unlisted_type_deletes + std::count_if(tx.deleted_types.begin(), tx.deleted_types.end(), [&](const RowId& r) {
          return std::find(tx.new_types.begin(), tx.new_types.end(), r) == tx.new_types.end();
        });
    std::optional<EventKind> kind;
    if (tx.pg_class_deletes > 0 && old_type_deletes > 0) {
      kind = EventKind::kDropTable;
    } else if (tx.pg_class_deletes == 0 && !tx.created.empty()) {
      // Existing relations got new files (header: TRUNCATE, refilled or not, against REINDEX, sequence resets and
      // SET TABLESPACE).
      const bool only_rows = std::any_of(tx.created.begin(), tx.created.end(), [&](const RelFileNode& r) {
        return std::find(tx.built.begin(), tx.built.end(), r) == tx.built.end();
      });
      if (only_rows && !tx.heap_pages_copied) kind = EventKind::kTruncate;
    }
    if (kind) {
      Event e = base(*kind);
      e.relfilenodes = lost;
      e.rel_oids = tx.locks;
      events_.push_back(std::move(e));
    }
  }
  // drop_column: columns of tables that existed before the transaction marked dropped. attrelid came from the new
  // tuple or its pg_attribute_relid_attnum_index entry; failing both, from the only relation the transaction locked.
  Event column_drop = base(EventKind::kDropColumn);
  std::vector<EventColumn> typed;
  for (const auto& c : tx.columns) {
    EventColumn column = c.column;
    if (column.rel == 0 && tx.locks.size() == 1) column.rel = tx.locks.front().rel;
    auto& into = c.dropped ? column_drop.columns : typed;
    if (std::find(into.begin(), into.end(), column) == into.end()) into.push_back(column);
  }
  if (!column_drop.columns.empty()) {
    for (const auto& c : column_drop.columns) {
      const RelationOid oid{commit_.db, c.rel};
      if (c.rel != 0 &&
          std::find(column_drop.rel_oids.begin(), column_drop.rel_oids.end(), oid) == column_drop.rel_oids.end()) {
        column_drop.rel_oids.push_back(oid);
      }
    }
    events_.push_back(std::move(column_drop));
  }
  // alter_type: a rewrite (files of existing relations replaced by files it created) that changed the type of a
  // column that existed before it. A type change without a rewrite keeps every stored byte: no event.
  if (!lost.empty() && !tx.created.empty() && (!typed.empty() || tx.unknown_type_change)) {
    Event e = base(EventKind::kAlterType);
    e.relfilenodes = std::move(lost);
    e.rel_oids = tx.locks;
    e.columns = std::move(typed);
    events_.push_back(std::move(e));
  }
  const auto mass = [&](EventKind kind, uint64_t RelCounts::*field) {
    Event e = base(kind);
    for (const auto& c : tx.counts) {
      if (c.*field < config_.mass_rows_threshold) continue;
      if (std::find(dropped.begin(), dropped.end(), c.rel) != dropped.end()) continue;
      e.relfilenodes.push_back(c.rel);
      e.rows += c.*field;
    }
    if (e.relfilenodes.empty()) return;
    e.db = e.relfilenodes.front().db;
    events_.push_back(std::move(e));
  };
  mass(EventKind::kMassDelete, &RelCounts::deletes);
  mass(EventKind::kMassUpdate, &RelCounts::updates);
}

}  // namespace walvault::wal
