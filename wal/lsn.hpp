// PostgreSQL WAL positions and names: Lsn, TimelineId, SegmentNo, and the XLogFileName arithmetic.
//
// Everything here is a value type with no allocation except the text forms. Text uses PostgreSQL's own forms so
// users can paste between walvault and psql: an LSN prints as the server's pg_lsn does ("16/B374D848", upper-case,
// not zero-padded) and parses from that and from pg_waldump's padded "16/0B374D848"-style form; segment file
// names are exactly XLogFileName's 24 upper-case hex digits. Parsers return std::nullopt on malformed text.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace walvault::wal {

// A byte position in the WAL stream (XLogRecPtr). Lsn{} is the invalid position 0/0.
class Lsn {
 public:
  constexpr Lsn() = default;
  constexpr explicit Lsn(uint64_t value) : value_(value) {}

  [[nodiscard]] constexpr uint64_t value() const { return value_; }
  [[nodiscard]] constexpr bool valid() const { return value_ != 0; }
  constexpr auto operator<=>(const Lsn&) const = default;

  [[nodiscard]] constexpr Lsn operator+(uint64_t bytes) const { return Lsn(value_ + bytes); }
  [[nodiscard]] constexpr uint64_t operator-(Lsn other) const { return value_ - other.value_; }

  // "%X/%X", as pg_lsn prints.
  [[nodiscard]] std::string to_string() const;
  // Accepts "X/X" with 1..8 hex digits per half, in either case ("0/4019D50", "0/04019D50").
  [[nodiscard]] static std::optional<Lsn> parse(std::string_view text);

 private:
  uint64_t value_ = 0;
};

// A timeline id. Timelines start at 1; 0 is invalid.
class TimelineId {
 public:
  constexpr TimelineId() = default;
  constexpr explicit TimelineId(uint32_t value) : value_(value) {}
  [[nodiscard]] constexpr uint32_t value() const { return value_; }
  [[nodiscard]] constexpr bool valid() const { return value_ != 0; }
  constexpr auto operator<=>(const TimelineId&) const = default;

 private:
  uint32_t value_ = 0;
};

// A WAL segment number (XLogSegNo): LSN / segment size.
class SegmentNo {
 public:
  constexpr SegmentNo() = default;
  constexpr explicit SegmentNo(uint64_t value) : value_(value) {}
  [[nodiscard]] constexpr uint64_t value() const { return value_; }
  constexpr auto operator<=>(const SegmentNo&) const = default;
  [[nodiscard]] constexpr SegmentNo next() const { return SegmentNo(value_ + 1); }

 private:
  uint64_t value_ = 0;
};

inline constexpr uint32_t kWalPageSize = 8192;                 // XLOG_BLCKSZ
inline constexpr uint32_t kMinSegmentSize = 1U << 20;          // 1 MiB
inline constexpr uint32_t kMaxSegmentSize = 1U << 30;          // 1 GiB
inline constexpr uint32_t kDefaultSegmentSize = 16U << 20;     // 16 MiB

// IsValidWalSegSize: a power of two from 1 MiB to 1 GiB.
[[nodiscard]] constexpr bool valid_segment_size(uint64_t size) {
  return size >= kMinSegmentSize && size <= kMaxSegmentSize && (size & (size - 1)) == 0;
}

// The segment that holds the byte at lsn (XLByteToSeg).
[[nodiscard]] constexpr SegmentNo segment_of(Lsn lsn, uint32_t segment_size) {
  return SegmentNo(lsn.value() / segment_size);
}
// The segment that holds the byte just before an end position (XLByteToPrevSeg).
[[nodiscard]] constexpr SegmentNo segment_of_end(Lsn end, uint32_t segment_size) {
  return SegmentNo((end.value() - 1) / segment_size);
}
// Offset of lsn inside its segment (XLogSegmentOffset).
[[nodiscard]] constexpr uint32_t segment_offset(Lsn lsn, uint32_t segment_size) {
  return static_cast<uint32_t>(lsn.value() & (segment_size - 1));
}
// First byte of a segment (XLogSegNoOffsetToRecPtr with offset 0).
[[nodiscard]] constexpr Lsn segment_start(SegmentNo segno, uint32_t segment_size) {
  return Lsn(segno.value() * segment_size);
}

// XLogFileName: "%08X%08X%08X" of tli, segno / segments-per-xlogid, segno % segments-per-xlogid.
[[nodiscard]] std::string segment_file_name(TimelineId tli, SegmentNo segno, uint32_t segment_size);

struct SegmentName {
  TimelineId timeline;
  SegmentNo segno;
};
// Parses a 24-hex-digit segment file name (XLogFromFileName). Rejects a low part beyond segments-per-xlogid.
[[nodiscard]] std::optional<SegmentName> parse_segment_file_name(std::string_view name, uint32_t segment_size);

// "%08X.history" (TLHistoryFileName).
[[nodiscard]] std::string history_file_name(TimelineId tli);
// Parses "NNNNNNNN.history".
[[nodiscard]] std::optional<TimelineId> parse_history_file_name(std::string_view name);

}  // namespace walvault::wal
