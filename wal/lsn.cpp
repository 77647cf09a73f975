#include "wal/lsn.hpp"

#include <cstdio>

namespace walvault::wal {
namespace {

// Parses 1..max_digits hex digits (either case). Returns nullopt on anything else.
std::optional<uint64_t> parse_hex(std::string_view text, size_t max_digits) {
  if (text.empty() || text.size() > max_digits) return std::nullopt;
  uint64_t value = 0;
  for (const char c : text) {
    uint64_t digit = 0;
    if (c >= '0' && c <= '9') {
      digit = static_cast<uint64_t>(c - '0');
    } else if (c >= 'A' && c <= 'F') {
      digit = static_cast<uint64_t>(c - 'A' + 10);
    } else if (c >= 'a' && c <= 'f') {
      digit = static_cast<uint64_t>(c - 'a' + 10);
    } else {
      return std::nullopt;
    }
    value = value * 16 + digit;
  }
  return value;
}

uint64_t segments_per_xlogid(uint32_t segment_size) { return 0x100000000ULL / segment_size; }

}  // namespace

std::string Lsn::to_string() const {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%X/%X", static_cast<uint32_t>(value_ >> 32), static_cast<uint32_t>(value_));
  return buf;
}

std::optional<Lsn> Lsn::parse(std::string_view text) {
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const auto hi = parse_hex(text.substr(0, slash), 8);
  const auto lo = parse_hex(text.substr(slash + 1), 8);
  if (!hi || !lo) return std::nullopt;
  return Lsn((*hi << 32) | *lo);
}

std::string segment_file_name(TimelineId tli, SegmentNo segno, uint32_t segment_size) {
  const uint64_t per_id = segments_per_xlogid(segment_size);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%08X%08X%08X", tli.value(), static_cast<uint32_t>(segno.value() / per_id),
                static_cast<uint32_t>(segno.value() % per_id));
  return buf;
}

std::optional<SegmentName> parse_segment_file_name(std::string_view name, uint32_t segment_size) {
  if (name.size() != 24 || !valid_segment_size(segment_size)) return std::nullopt;
  const auto tli = parse_hex(name.substr(0, 8), 8);
  const auto log = parse_hex(name.substr(8, 8), 8);
  const auto seg = parse_hex(name.substr(16, 8), 8);
  if (!tli || !log || !seg || *tli == 0) return std::nullopt;
  const uint64_t per_id = segments_per_xlogid(segment_size);
  if (*seg >= per_id) return std::nullopt;
  return SegmentName{TimelineId(static_cast<uint32_t>(*tli)), SegmentNo(*log * per_id + *seg)};
}

std::string history_file_name(TimelineId tli) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%08X.history", tli.value());
  return buf;
}

std::optional<TimelineId> parse_history_file_name(std::string_view name) {
  constexpr std::string_view kSuffix = ".history";
  if (name.size() != 8 + kSuffix.size() || name.substr(8) != kSuffix) return std::nullopt;
  const auto tli = parse_hex(name.substr(0, 8), 8);
  if (!tli || *tli == 0) return std::nullopt;
  return TimelineId(static_cast<uint32_t>(*tli));
}

}  // namespace walvault::wal
