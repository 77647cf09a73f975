// WAL page headers (XLogPageHeaderData / XLogLongPageHeaderData) and the per-major-version format table.
//
// Every 8192-byte WAL page starts with a short header (24 bytes); the first page of each segment has the long
// header (40 bytes) that also names the system identifier, segment size and page size. parse_page_header()
// checks what can be checked from the bytes alone (magic known, flag bits valid for that version, long header
// sizes legal); the decoder adds the positional checks (pageaddr, timeline, same system). Results are values;
// errors are PageError with a one-line message that names the offending value (an unknown magic in hex).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "wal/expected.hpp"
#include "wal/lsn.hpp"

namespace walvault::wal {

inline constexpr size_t kShortPageHeaderSize = 24;  // SizeOfXLogShortPHD
inline constexpr size_t kLongPageHeaderSize = 40;   // SizeOfXLogLongPHD

// xlp_info bits (PG13-17).
inline constexpr uint16_t kXlpFirstIsContrecord = 0x0001;
inline constexpr uint16_t kXlpLongHeader = 0x0002;
inline constexpr uint16_t kXlpBkpRemovable = 0x0004;
inline constexpr uint16_t kXlpFirstIsOverwriteContrecord = 0x0008;

// One PostgreSQL major version's WAL format, found by its page magic.
struct WalFormat {
  int pg_major;        // 13..17
  uint16_t magic;      // XLOG_PAGE_MAGIC
  uint16_t all_flags;  // XLP_ALL_FLAGS
  uint8_t dbase_drop_opcode;  // XLOG_DBASE_DROP: 0x10 up to PG14, 0x20 from PG15
};

// The format for a page magic, or nullopt if this walvault does not know it.
[[nodiscard]] std::optional<WalFormat> wal_format_for_magic(uint16_t magic) noexcept;

struct PageHeader {
  uint16_t magic = 0;
  uint16_t info = 0;
  TimelineId timeline;
  Lsn page_address;
  uint32_t rem_len = 0;
  // Long header only (zero otherwise).
  uint64_t system_identifier = 0;
  uint32_t segment_size = 0;
  uint32_t page_size = 0;

  [[nodiscard]] bool is_long() const { return (info & kXlpLongHeader) != 0; }
  [[nodiscard]] size_t size() const { return is_long() ? kLongPageHeaderSize : kShortPageHeaderSize; }
};

enum class PageErrorKind {
  kTooShort,       // fewer bytes than the header needs
  kZeroed,         // an all-zero header: unwritten or switched-away WAL
  kUnknownMagic,   // a magic no known PostgreSQL version uses
  kInvalidFlags,   // xlp_info has bits this version does not define
  kInvalidLongHeader,  // bad segment size or page size in a long header
};

struct PageError {
  PageErrorKind kind;
  std::string message;
};

// Parses the header at the start of bytes (which holds at least 24 bytes, 40 for a long header). It does not
// check the page address or timeline against a position: that is the caller's job.
[[nodiscard]] Expected<PageHeader, PageError> parse_page_header(std::span<const std::byte> bytes);

}  // namespace walvault::wal
