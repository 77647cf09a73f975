// A decoded WAL record (XLogRecord + its block references and main data), as the decoder hands it out.
//
// Record is a view: its spans point into the decoder's reassembly buffer or into the bytes the caller fed, and
// stay valid only until the decoder's next call to next() or feed() (see decoder.hpp). Copy what you keep.
// decode_record() parses the fragment headers of a complete record whose header was already validated; it
// returns false on any structural inconsistency (PostgreSQL's DecodeXLogRecord rules), never reads out of bounds.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <span>

#include "wal/lsn.hpp"

namespace walvault::wal {

inline constexpr size_t kRecordHeaderSize = 24;  // SizeOfXLogRecord
inline constexpr size_t kMaxBlockId = 32;        // XLR_MAX_BLOCK_ID
inline constexpr uint32_t kFirstNormalObjectId = 16384;

// RelFileNode (PG16+: RelFileLocator): tablespace, database and relation file number.
struct RelFileNode {
  uint32_t spc = 0;
  uint32_t db = 0;
  uint32_t rel = 0;
  constexpr auto operator<=>(const RelFileNode&) const = default;
};

// fork_flags bits.
inline constexpr uint8_t kBkpBlockForkMask = 0x0F;
inline constexpr uint8_t kBkpBlockHasImage = 0x10;
inline constexpr uint8_t kBkpBlockHasData = 0x20;
inline constexpr uint8_t kBkpBlockWillInit = 0x40;
inline constexpr uint8_t kBkpBlockSameRel = 0x80;
// bimg_info bits (PG15+).
inline constexpr uint8_t kBkpImageHasHole = 0x01;
inline constexpr uint8_t kBkpImageApply = 0x02;
inline constexpr uint8_t kBkpImageCompressMask = 0x1C;  // PGLZ 0x04, LZ4 0x08, ZSTD 0x10

struct BlockRef {
  uint8_t id = 0;
  uint8_t fork_flags = 0;
  RelFileNode rel;
  uint32_t block = 0;
  uint8_t bimg_info = 0;
  uint16_t hole_offset = 0;
  uint16_t hole_length = 0;
  std::span<const std::byte> image;  // stored image bytes (hole removed, maybe compressed); empty if none
  std::span<const std::byte> data;   // block data

  [[nodiscard]] uint8_t fork() const { return fork_flags & kBkpBlockForkMask; }
  [[nodiscard]] bool has_image() const { return (fork_flags & kBkpBlockHasImage) != 0; }
  [[nodiscard]] bool image_compressed() const { return (bimg_info & kBkpImageCompressMask) != 0; }
};

struct Record {
  Lsn lsn;      // start of the record (ReadRecPtr)
  Lsn end_lsn;  // just past its last byte (EndRecPtr; page headers it spans included)
  uint32_t tot_len = 0;
  uint32_t xid = 0;
  Lsn prev;
  uint8_t info = 0;
  uint8_t rmid = 0;
  uint32_t crc = 0;
  uint32_t toplevel_xid = 0;  // XLR_BLOCK_ID_TOPLEVEL_XID (wal_level=logical), 0 if absent
  std::span<const std::byte> bytes;  // the whole record, headers included, page headers removed
  std::span<const std::byte> main_data;
  std::span<const BlockRef> blocks;

  [[nodiscard]] uint8_t opcode() const { return info & 0xF0; }
};

// Decoded block references for one record, owned by the decoder and reused.
struct BlockTable {
  std::array<BlockRef, kMaxBlockId + 1> refs{};
  size_t count = 0;
};

// Parses record.bytes (tot_len bytes, header validated) into main_data, toplevel_xid and the block table.
[[nodiscard]] bool decode_record(Record& record, BlockTable& table) noexcept;

// CRC-32C of a complete record as PostgreSQL computes it: bytes [24, tot_len) then [0, 20).
[[nodiscard]] uint32_t record_crc(std::span<const std::byte> record) noexcept;

}  // namespace walvault::wal
