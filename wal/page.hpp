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

// xlp_info bits (the same in PG15-18).
inline constexpr uint16_t kXlpFirstIsContrecord = 0x0001;
inline constexpr uint16_t kXlpLongHeader = 0x0002;
inline constexpr uint16_t kXlpBkpRemovable = 0x0004;
inline constexpr uint16_t kXlpFirstIsOverwriteContrecord = 0x0008;

// The PostgreSQL major versions walvault supports: the one version table (below) holds exactly these. The server
// versions walvault connects to are gated against it (src/repo/repository.cpp, check_server_version).
inline constexpr int kOldestSupportedMajor = 15;
inline constexpr int kNewestSupportedMajor = 18;

// Offsets of pg_attribute's fixed columns in a tuple's user data (from t_hoff), where they differ between versions
// (attrelid 0, attname 4 and atttypid 68 are the same in 15-18). Read from each server's catalog and checked against
// the WAL bytes (16 moved attstattarget and narrowed attndims/attinhcount, 17 made attstattarget nullable, 18 dropped
// attcacheoff).
struct AttributeLayout {
  uint8_t attnum;        // int2
  uint8_t atttypmod;     // int4
  uint8_t attisdropped;  // bool
};

// One supported PostgreSQL major version's WAL format, found by its page magic. Every layout that differs between
// the supported versions and that walvault reads is a field here, so the code that reads it is handed the version
// rather than guessing it from the bytes (verified on each version's headers; ../shared/reference/postgres-versions.md).
struct WalFormat {
  int pg_major;        // 15..18
  uint16_t magic;      // XLOG_PAGE_MAGIC
  uint16_t all_flags;  // XLP_ALL_FLAGS
  uint8_t dbase_drop_opcode;        // XLOG_DBASE_DROP (0x20 since PG15)
  uint8_t dropped_stats_item_size;  // sizeof(xl_xact_stats_item): 12 up to PG17, 16 from PG18
  bool heap2_prune_split;           // PG17+: heap2 0x10/0x20/0x30 are PRUNE_ON_ACCESS/_VACUUM_SCAN/_VACUUM_CLEANUP
  AttributeLayout attribute;        // pg_attribute: 15 {78, 88, 101}, 16 and 17 {74, 80, 95}, 18 {74, 76, 91}
};

// The format for a page magic, or nullopt if it is not a supported version's.
[[nodiscard]] std::optional<WalFormat> wal_format_for_magic(uint16_t magic) noexcept;
// The format of a supported major version (e.g. 18), or nullopt.
[[nodiscard]] std::optional<WalFormat> wal_format_for_major(int pg_major) noexcept;
// The major version that wrote WAL with this magic, for every version walvault knows (13 and 14 included, which
// it does not support), or nullopt.
[[nodiscard]] std::optional<int> pg_major_for_magic(uint16_t magic) noexcept;
// "PostgreSQL 15 to 18".
[[nodiscard]] std::string supported_versions_text();

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
  kUnknownMagic,   // a magic no supported PostgreSQL version uses (the message names a known unsupported one)
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
