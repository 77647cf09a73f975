#include "wal/xact.hpp"

#include <cstdio>
#include <ctime>

#include "wal/rmgr.hpp"

namespace walvault::wal {
namespace {

constexpr uint32_t kXinfoHasDbInfo = 0x01;
constexpr uint32_t kXinfoHasSubxacts = 0x02;
constexpr uint32_t kXinfoHasRelFileNodes = 0x04;
constexpr uint32_t kXinfoHasInvals = 0x08;
constexpr uint32_t kXinfoHasTwophase = 0x10;
constexpr uint32_t kXinfoHasOrigin = 0x20;
constexpr uint32_t kXinfoHasGid = 0x80;
constexpr uint32_t kXinfoHasDroppedStats = 0x100;

}  // namespace

std::string format_timestamp(TimestampTz ts) {
  const int64_t unix_us = ts + kPostgresEpochUnixMicros;
  int64_t secs = unix_us / 1000000;
  int64_t micros = unix_us % 1000000;
  if (micros < 0) {
    micros += 1000000;
    --secs;
  }
  const auto t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long long>(micros));
  return buf;
}

bool is_xact_finish(const Record& record) {
  if (record.rmid != static_cast<uint8_t>(Rmgr::kTransaction)) return false;
  const XactOp op = xact_op(record);
  return op == XactOp::kCommit || op == XactOp::kAbort || op == XactOp::kCommitPrepared ||
         op == XactOp::kAbortPrepared;
}

std::optional<XactFinish> parse_xact_finish(const Record& record, const WalFormat& format) {
  if (!is_xact_finish(record)) return std::nullopt;
  XactFinish f;
  f.op = xact_op(record);
  ByteReader r(record.main_data);
  if (!r.read(f.time)) return std::nullopt;
  if ((record.info & kXactHasInfo) != 0 && !r.read(f.xinfo)) return std::nullopt;
  if ((f.xinfo & kXinfoHasDbInfo) != 0 && (!r.read(f.db) || !r.read(f.tablespace))) return std::nullopt;
  if ((f.xinfo & kXinfoHasSubxacts) != 0 && !r.read_array(f.subxacts)) return std::nullopt;
  if ((f.xinfo & kXinfoHasRelFileNodes) != 0 && !r.read_array(f.rels)) return std::nullopt;
  if ((f.xinfo & kXinfoHasDroppedStats) != 0 && !r.skip_array(format.dropped_stats_item_size, f.ndropped_stats)) return std::nullopt;
  const bool commit = f.op == XactOp::kCommit || f.op == XactOp::kCommitPrepared;
  if (commit && (f.xinfo & kXinfoHasInvals) != 0 && !r.skip_array(16, f.ninvals)) return std::nullopt;
  if ((f.xinfo & kXinfoHasTwophase) != 0) {
    if (!r.read(f.twophase_xid)) return std::nullopt;
    if ((f.xinfo & kXinfoHasGid) != 0 && !r.read_cstring(f.gid)) return std::nullopt;
  }
  if ((f.xinfo & kXinfoHasOrigin) != 0) {
    uint64_t origin_lsn = 0;
    int64_t origin_time = 0;
    if (!r.read(origin_lsn) || !r.read(origin_time)) return std::nullopt;
  }
  if (f.prepared() && f.twophase_xid == 0) return std::nullopt;
  // The main data ends exactly here (the server registers no padding): bytes left over mean a misread layout.
  if (r.remaining() != 0) return std::nullopt;
  return f;
}

std::optional<XactPrepare> parse_xact_prepare(const Record& record) {
  if (xact_op(record) != XactOp::kPrepare) return std::nullopt;
  constexpr uint32_t kTwoPhaseMagic = 0x57F94534;
  constexpr size_t kHeaderSize = 72;  // MAXALIGN(sizeof(xl_xact_prepare))
  ByteReader r(record.main_data);
  uint32_t magic = 0;
  uint32_t total_len = 0;
  XactPrepare p;
  uint16_t gidlen = 0;
  if (!r.read(magic) || magic != kTwoPhaseMagic || !r.read(total_len) || !r.read(p.xid) || !r.read(p.db) ||
      !r.read(p.prepared_at) || !r.seek(54) || !r.read(gidlen) || !r.seek(kHeaderSize)) {
    return std::nullopt;
  }
  if (record.main_data.size() < kHeaderSize + gidlen || gidlen == 0) return std::nullopt;
  const auto* gid = reinterpret_cast<const char*>(record.main_data.data() + kHeaderSize);
  p.gid = std::string_view(gid, strnlen(gid, gidlen));
  return p;
}

std::optional<XactAssignment> parse_xact_assignment(const Record& record) {
  if (xact_op(record) != XactOp::kAssignment) return std::nullopt;
  ByteReader r(record.main_data);
  XactAssignment a;
  if (!r.read(a.top) || !r.read_array(a.subxacts)) return std::nullopt;
  return a;
}

}  // namespace walvault::wal
