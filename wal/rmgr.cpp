#include "wal/rmgr.hpp"

#include <array>
#include <cstdio>
#include <cstring>

#include "wal/xact.hpp"

namespace walvault::wal {
namespace {

constexpr std::array<std::string_view, kMaxBuiltinRmgr + 1> kNames = {
    "XLOG",     "Transaction", "Storage", "CLOG",    "Database", "Tablespace",        "MultiXact", "RelMap",
    "Standby",  "Heap2",       "Heap",    "Btree",   "Hash",     "Gin",               "Gist",      "Sequence",
    "SPGist",   "BRIN",        "CommitTs", "ReplicationOrigin", "Generic", "LogicalMessage"};

// Record type names by opcode (high nibble >> 4), for the rmgrs whose opcode is xl_info & 0xF0.
constexpr std::array<std::string_view, 16> kXlogTypes = {
    "CHECKPOINT_SHUTDOWN", "CHECKPOINT_ONLINE", "NOOP", "NEXTOID", "SWITCH", "BACKUP_END", "PARAMETER_CHANGE",
    "RESTORE_POINT", "FPW_CHANGE", "END_OF_RECOVERY", "FPI_FOR_HINT", "FPI", "", "OVERWRITE_CONTRECORD",
    "CHECKPOINT_REDO", ""};
constexpr std::array<std::string_view, 8> kXactTypes = {
    "COMMIT", "PREPARE", "ABORT", "COMMIT_PREPARED", "ABORT_PREPARED", "ASSIGNMENT", "INVALIDATION", ""};
constexpr std::array<std::string_view, 8> kHeapTypes = {"INSERT", "DELETE", "UPDATE", "TRUNCATE",
                                                         "HOT_UPDATE", "CONFIRM", "LOCK", "INPLACE"};
constexpr std::array<std::string_view, 8> kHeap2Types = {"REWRITE", "PRUNE", "VACUUM", "FREEZE_PAGE",
                                                          "VISIBLE", "MULTI_INSERT", "LOCK_UPDATED", "NEW_CID"};
// PG17 replaced PRUNE, VACUUM and FREEZE_PAGE with one prune record family.
constexpr std::array<std::string_view, 8> kHeap2TypesPg17 = {
    "REWRITE", "PRUNE_ON_ACCESS", "PRUNE_VACUUM_SCAN", "PRUNE_VACUUM_CLEANUP",
    "VISIBLE", "MULTI_INSERT",    "LOCK_UPDATED",      "NEW_CID"};
constexpr std::array<std::string_view, 16> kBtreeTypes = {
    "INSERT_LEAF", "INSERT_UPPER", "INSERT_META", "SPLIT_L", "SPLIT_R", "INSERT_POST", "DEDUP", "DELETE",
    "UNLINK_PAGE", "UNLINK_PAGE_META", "NEWROOT", "MARK_PAGE_HALFDEAD", "VACUUM", "REUSE_PAGE", "META_CLEANUP", ""};

template <typename T>
T load(std::span<const std::byte> bytes, size_t offset) {
  T value{};
  if (bytes.size() >= offset + sizeof(T)) std::memcpy(&value, bytes.data() + offset, sizeof value);
  return value;
}

std::string hex_info(uint8_t info) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "UNKNOWN (0x%02X)", info);
  return buf;
}

std::string rel_text(const RelFileNode& r) {
  return std::to_string(r.spc) + "/" + std::to_string(r.db) + "/" + std::to_string(r.rel);
}

std::string blocks_text(const Record& rec) {
  std::string out;
  for (const auto& b : rec.blocks) {
    out += ", blkref #" + std::to_string(b.id) + ": rel " + rel_text(b.rel);
    if (b.fork() != 0) out += " fork " + std::to_string(b.fork());
    out += " blk " + std::to_string(b.block);
    if (b.has_image()) out += " FPW";
  }
  return out;
}

std::string describe_xact(const Record& rec, const WalFormat& format) {
  std::string out = record_type_name(rec.rmid, rec.info, format);
  if (is_xact_finish(rec) && !parse_xact_finish(rec, format)) {
    out += " (unparsable: " + std::to_string(rec.main_data.size()) + " bytes of main data do not fit the PostgreSQL " +
           std::to_string(format.pg_major) + " layout)";
  } else if (const auto f = parse_xact_finish(rec, format)) {
    if (f->prepared()) out += " " + std::to_string(f->twophase_xid);
    out += " " + format_timestamp(f->time);
    if (f->db != 0) out += "; db " + std::to_string(f->db);
    if (f->subxacts.size() > 0) {
      out += "; subxacts:";
      for (uint32_t i = 0; i < f->subxacts.size(); ++i) out += " " + std::to_string(f->subxacts[i]);
    }
    if (f->rels.size() > 0) {
      out += "; rels:";
      for (uint32_t i = 0; i < f->rels.size(); ++i) out += " " + rel_text(f->rels[i]);
    }
    if (f->ndropped_stats > 0) out += "; dropped stats: " + std::to_string(f->ndropped_stats);
    if (!f->gid.empty()) out += "; gid " + std::string(f->gid);
  } else if (const auto p = parse_xact_prepare(rec)) {
    out += " xid " + std::to_string(p->xid) + " " + format_timestamp(p->prepared_at) + "; gid " + std::string(p->gid);
  } else if (const auto a = parse_xact_assignment(rec)) {
    out += " xtop " + std::to_string(a->top) + ": subxacts:";
    for (uint32_t i = 0; i < a->subxacts.size(); ++i) out += " " + std::to_string(a->subxacts[i]);
  }
  return out;
}

std::string describe_xlog(const Record& rec, const WalFormat& format) {
  std::string out = record_type_name(rec.rmid, rec.info, format);
  const auto& d = rec.main_data;
  switch (rec.opcode()) {
    case 0x00:
    case 0x10:
      out += " redo " + Lsn(load<uint64_t>(d, 0)).to_string() + "; tli " + std::to_string(load<uint32_t>(d, 8)) +
             "; prev tli " + std::to_string(load<uint32_t>(d, 12)) + "; next xid " +
             std::to_string(load<uint64_t>(d, 24) & 0xFFFFFFFFU) + "; oldest running xid " +
             std::to_string(load<uint32_t>(d, 80));
      break;
    case 0x30:
      out += " " + std::to_string(load<uint32_t>(d, 0));
      break;
    case 0x50:
      out += " " + Lsn(load<uint64_t>(d, 0)).to_string();
      break;
    case 0x70: {
      const size_t n = d.size() > 8 ? strnlen(reinterpret_cast<const char*>(d.data() + 8), d.size() - 8) : 0;
      out += " " + format_timestamp(load<int64_t>(d, 0)) + " \"" +
             std::string(reinterpret_cast<const char*>(d.data()) + (n > 0 ? 8 : 0), n) + "\"";
      break;
    }
    case 0x90:
      out += " tli " + std::to_string(load<uint32_t>(d, 8)) + "; prev tli " + std::to_string(load<uint32_t>(d, 12)) +
             "; time " + format_timestamp(load<int64_t>(d, 0));
      break;
    default:
      break;
  }
  return out;
}

std::string describe_other(const Record& rec, const WalFormat& format) {
  std::string out = record_type_name(rec.rmid, rec.info, format);
  const auto& d = rec.main_data;
  switch (static_cast<Rmgr>(rec.rmid)) {
    case Rmgr::kStorage:
      if (rec.opcode() == 0x10) {
        out += " " + rel_text({load<uint32_t>(d, 0), load<uint32_t>(d, 4), load<uint32_t>(d, 8)}) + " fork " +
               std::to_string(load<int32_t>(d, 12));
      } else if (rec.opcode() == 0x20) {
        out += " " + rel_text({load<uint32_t>(d, 4), load<uint32_t>(d, 8), load<uint32_t>(d, 12)}) + " to " +
               std::to_string(load<uint32_t>(d, 0)) + " blocks flags " + std::to_string(load<int32_t>(d, 16));
      }
      break;
    case Rmgr::kDatabase:
      out += " db " + std::to_string(load<uint32_t>(d, 0)) + " tablespace " + std::to_string(load<uint32_t>(d, 4));
      break;
    case Rmgr::kStandby:
      if (rec.opcode() == 0x00) {
        const auto n = load<int32_t>(d, 0);
        for (int32_t i = 0; i < n && d.size() >= 4 + static_cast<size_t>(i + 1) * 12; ++i) {
          const size_t o = 4 + static_cast<size_t>(i) * 12;
          out += " xid " + std::to_string(load<uint32_t>(d, o)) + " db " + std::to_string(load<uint32_t>(d, o + 4)) +
                 " rel " + std::to_string(load<uint32_t>(d, o + 8));
        }
      } else if (rec.opcode() == 0x10) {
        out += " nextXid " + std::to_string(load<uint32_t>(d, 12)) + " latestCompletedXid " +
               std::to_string(load<uint32_t>(d, 20)) + " oldestRunningXid " + std::to_string(load<uint32_t>(d, 16)) +
               " xcnt " + std::to_string(load<int32_t>(d, 0));
      }
      break;
    case Rmgr::kHeap:
      if ((rec.info & 0x70) == 0x10 || (rec.info & 0x70) == 0x70) {
        out += " off " + std::to_string(load<uint16_t>(d, (rec.info & 0x70) == 0x10 ? 4 : 0));
      }
      break;
    default:
      break;
  }
  return out + blocks_text(rec);
}

}  // namespace

std::string rmgr_name(uint8_t rmid) {
  if (rmid <= kMaxBuiltinRmgr) return std::string(kNames[rmid]);
  char buf[16];
  std::snprintf(buf, sizeof buf, "custom%03u", static_cast<unsigned>(rmid));
  return buf;
}

std::string record_type_name(uint8_t rmid, uint8_t info, const WalFormat& format) {
  const size_t op = (info & 0xF0) >> 4;
  std::string_view name;
  switch (static_cast<Rmgr>(rmid)) {
    case Rmgr::kXlog:
      name = kXlogTypes[op];
      break;
    case Rmgr::kTransaction:
      name = kXactTypes[(info & kXactOpMask) >> 4];
      break;
    case Rmgr::kStorage:
      name = op == 1 ? "CREATE" : op == 2 ? "TRUNCATE" : "";
      break;
    case Rmgr::kDatabase:
      name = op == 0 ? "CREATE_FILE_COPY" : op == 1 ? "CREATE_WAL_LOG" : op == 2 ? "DROP" : "";
      break;
    case Rmgr::kStandby:
      name = op == 0 ? "LOCK" : op == 1 ? "RUNNING_XACTS" : op == 2 ? "INVALIDATIONS" : "";
      break;
    case Rmgr::kHeap:
    case Rmgr::kHeap2: {
      const auto& types = rmid == static_cast<uint8_t>(Rmgr::kHeap) ? kHeapTypes
                          : format.heap2_prune_split                ? kHeap2TypesPg17
                                                                    : kHeap2Types;
      std::string out(types[(info & 0x70) >> 4]);
      if ((info & 0x80) != 0) out += "+INIT";
      return out;
    }
    case Rmgr::kBtree:
      name = kBtreeTypes[op];
      break;
    case Rmgr::kLogicalMessage:
      name = op == 0 ? "MESSAGE" : "";
      break;
    default:
      break;
  }
  return name.empty() ? hex_info(info) : std::string(name);
}

std::string describe(const Record& record, const WalFormat& format) {
  switch (static_cast<Rmgr>(record.rmid)) {
    case Rmgr::kXlog:
      return describe_xlog(record, format) + blocks_text(record);
    case Rmgr::kTransaction:
      return describe_xact(record, format);
    default:
      return describe_other(record, format);
  }
}

}  // namespace walvault::wal
