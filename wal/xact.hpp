// Parsers for the main data of Transaction (RM_XACT) records: commit/abort (plain and prepared), prepare,
// assignment; and the PostgreSQL timestamp helpers.
//
// The parsed structs are views into the record's main data (valid as long as the Record is) and do not
// allocate. Parsers return nullopt when the data is shorter than its own counts say or a field is impossible: a
// record that passed the CRC check but does not parse is reported by the callers (EventTracker::observe returns
// kMalformedFinish), never read out of bounds. The layouts that differ between versions come from the WalFormat.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "wal/byte_reader.hpp"
#include "wal/page.hpp"
#include "wal/record.hpp"

namespace walvault::wal {

// TimestampTz: microseconds since 2000-01-01 00:00:00 UTC.
using TimestampTz = int64_t;
inline constexpr int64_t kPostgresEpochUnixMicros = 946684800000000LL;
// "2026-11-21T04:15:59.705207Z".
[[nodiscard]] std::string format_timestamp(TimestampTz ts);

// Transaction opcodes (xl_info & XLOG_XACT_OPMASK).
inline constexpr uint8_t kXactOpMask = 0x70;
inline constexpr uint8_t kXactHasInfo = 0x80;
enum class XactOp : uint8_t {
  kCommit = 0x00,
  kPrepare = 0x10,
  kAbort = 0x20,
  kCommitPrepared = 0x30,
  kAbortPrepared = 0x40,
  kAssignment = 0x50,
  kInvalidations = 0x60,
};


struct XactFinish {  // COMMIT, ABORT, COMMIT_PREPARED, ABORT_PREPARED
  XactOp op = XactOp::kCommit;
  TimestampTz time = 0;
  uint32_t xinfo = 0;
  uint32_t db = 0;  // 0 unless HAS_DBINFO
  uint32_t tablespace = 0;
  PackedArray<uint32_t, 4> subxacts;
  PackedArray<RelFileNode, 12> rels;  // dropped relation files
  uint32_t ndropped_stats = 0;
  uint32_t ninvals = 0;
  uint32_t twophase_xid = 0;  // the prepared transaction's xid (0 unless *_PREPARED)
  std::string_view gid;

  [[nodiscard]] bool aborted() const { return op == XactOp::kAbort || op == XactOp::kAbortPrepared; }
  [[nodiscard]] bool prepared() const { return op == XactOp::kCommitPrepared || op == XactOp::kAbortPrepared; }
};

struct XactPrepare {
  uint32_t xid = 0;
  uint32_t db = 0;
  TimestampTz prepared_at = 0;
  std::string_view gid;
};

struct XactAssignment {
  uint32_t top = 0;
  PackedArray<uint32_t, 4> subxacts;
};

[[nodiscard]] std::optional<XactFinish> parse_xact_finish(const Record& record, const WalFormat& format);
// True for the records parse_xact_finish reads (COMMIT, ABORT, COMMIT_PREPARED, ABORT_PREPARED).
[[nodiscard]] bool is_xact_finish(const Record& record);
[[nodiscard]] std::optional<XactPrepare> parse_xact_prepare(const Record& record);
[[nodiscard]] std::optional<XactAssignment> parse_xact_assignment(const Record& record);

// The opcode of an RM_XACT record.
[[nodiscard]] inline XactOp xact_op(const Record& record) { return static_cast<XactOp>(record.info & kXactOpMask); }

}  // namespace walvault::wal
