#include "wal/page.hpp"

#include <array>
#include <cstdio>
#include <cstring>

namespace walvault::wal {
namespace {

constexpr std::array<WalFormat, 4> kFormats = {{
    {15, 0xD110, 0x000F, 0x20, 12, false, {78, 88, 101}},
    {16, 0xD113, 0x000F, 0x20, 12, false, {74, 80, 95}},
    {17, 0xD116, 0x000F, 0x20, 12, true, {74, 80, 95}},
    {18, 0xD118, 0x000F, 0x20, 16, true, {74, 76, 91}},
}};
static_assert(kFormats.front().pg_major == kOldestSupportedMajor && kFormats.back().pg_major == kNewestSupportedMajor);

// Versions whose WAL walvault recognises only to refuse it by name (past end of life; different layouts).
struct RetiredMagic {
  int pg_major;
  uint16_t magic;
};
constexpr std::array<RetiredMagic, 2> kRetired = {{{13, 0xD106}, {14, 0xD10D}}};

template <typename T>
T load(std::span<const std::byte> bytes, size_t offset) {
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof value);
  return value;
}

std::string hex16(uint16_t value) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%04X", value);
  return buf;
}

}  // namespace

std::optional<WalFormat> wal_format_for_magic(uint16_t magic) noexcept {
  for (const auto& format : kFormats) {
    if (format.magic == magic) return format;
  }
  return std::nullopt;
}

std::optional<WalFormat> wal_format_for_major(int pg_major) noexcept {
  for (const auto& format : kFormats) {
    if (format.pg_major == pg_major) return format;
  }
  return std::nullopt;
}

std::optional<int> pg_major_for_magic(uint16_t magic) noexcept {
  if (const auto format = wal_format_for_magic(magic)) return format->pg_major;
  for (const auto& retired : kRetired) {
    if (retired.magic == magic) return retired.pg_major;
  }
  return std::nullopt;
}

std::string supported_versions_text() {
  return "PostgreSQL " + std::to_string(kOldestSupportedMajor) + " to " + std::to_string(kNewestSupportedMajor);
}

Expected<PageHeader, PageError> parse_page_header(std::span<const std::byte> bytes) {
  if (bytes.size() < kShortPageHeaderSize) {
    return Unexpected(PageError{PageErrorKind::kTooShort, "wal page header is truncated"});
  }
  PageHeader h;
  h.magic = load<uint16_t>(bytes, 0);
  h.info = load<uint16_t>(bytes, 2);
  h.timeline = TimelineId(load<uint32_t>(bytes, 4));
  h.page_address = Lsn(load<uint64_t>(bytes, 8));
  h.rem_len = load<uint32_t>(bytes, 16);
  if (h.magic == 0 && h.info == 0 && !h.page_address.valid()) {
    return Unexpected(PageError{PageErrorKind::kZeroed, "wal page is zeroed"});
  }
  const auto format = wal_format_for_magic(h.magic);
  if (!format) {
    const auto major = pg_major_for_magic(h.magic);
    return Unexpected(PageError{PageErrorKind::kUnknownMagic,
                                major ? "wal of PostgreSQL " + std::to_string(*major) + " (page magic " +
                                            hex16(h.magic) + ") is not supported: walvault reads " +
                                            supported_versions_text()
                                      : "unknown wal page magic " + hex16(h.magic) + " (not " +
                                            supported_versions_text() + ")"});
  }
  if ((h.info & ~format->all_flags) != 0) {
    return Unexpected(PageError{PageErrorKind::kInvalidFlags, "invalid wal page flags " + hex16(h.info)});
  }
  if (!h.is_long()) return h;
  if (bytes.size() < kLongPageHeaderSize) {
    return Unexpected(PageError{PageErrorKind::kTooShort, "wal long page header is truncated"});
  }
  h.system_identifier = load<uint64_t>(bytes, 24);
  h.segment_size = load<uint32_t>(bytes, 32);
  h.page_size = load<uint32_t>(bytes, 36);
  if (!valid_segment_size(h.segment_size)) {
    return Unexpected(PageError{PageErrorKind::kInvalidLongHeader,
                                "invalid wal segment size " + std::to_string(h.segment_size) + " in long page header"});
  }
  if (h.page_size != kWalPageSize) {
    return Unexpected(PageError{PageErrorKind::kInvalidLongHeader,
                                "unsupported wal page size " + std::to_string(h.page_size) + " (need 8192)"});
  }
  return h;
}

}  // namespace walvault::wal
