#include "wal/record.hpp"

#include <cstring>

#include "wal/byte_reader.hpp"
#include "wal/crc32c.hpp"

namespace walvault::wal {
namespace {

constexpr uint8_t kBlockIdToplevelXid = 252;
constexpr uint8_t kBlockIdOrigin = 253;
constexpr uint8_t kBlockIdDataLong = 254;
constexpr uint8_t kBlockIdDataShort = 255;
constexpr size_t kDataPageSize = 8192;  // BLCKSZ


}  // namespace

bool decode_record(Record& record, BlockTable& table) noexcept {
  table.count = 0;
  record.toplevel_xid = 0;
  record.main_data = {};
  record.blocks = {};
  if (record.bytes.size() < kRecordHeaderSize) return false;
  ByteReader cur(record.bytes.subspan(kRecordHeaderSize));
  size_t datatotal = 0;
  size_t main_len = 0;
  int last_block_id = -1;
  const RelFileNode* last_rel = nullptr;
  std::array<uint16_t, kMaxBlockId + 1> image_len{};
  std::array<uint16_t, kMaxBlockId + 1> data_lens{};
  while (cur.remaining() > datatotal) {
    uint8_t id = 0;
    if (!cur.read(id)) return false;
    if (id == kBlockIdDataShort) {
      uint8_t len = 0;
      if (!cur.read(len)) return false;
      main_len = len;
      datatotal += len;
      break;
    }
    if (id == kBlockIdDataLong) {
      uint32_t len = 0;
      if (!cur.read(len)) return false;
      main_len = len;
      datatotal += len;
      break;
    }
    if (id == kBlockIdOrigin) {
      uint16_t origin = 0;
      if (!cur.read(origin)) return false;
      continue;
    }
    if (id == kBlockIdToplevelXid) {
      if (!cur.read(record.toplevel_xid)) return false;
      continue;
    }
    if (id > kMaxBlockId || static_cast<int>(id) <= last_block_id) return false;
    last_block_id = id;
    BlockRef& b = table.refs[table.count];
    b = BlockRef{};
    b.id = id;
    uint16_t data_len = 0;
    if (!cur.read(b.fork_flags) || !cur.read(data_len)) return false;
    const bool has_data = (b.fork_flags & kBkpBlockHasData) != 0;
    if (has_data != (data_len != 0)) return false;
    datatotal += data_len;
    uint16_t bimg_len = 0;
    if (b.has_image()) {
      if (!cur.read(bimg_len) || !cur.read(b.hole_offset) || !cur.read(b.bimg_info)) return false;
      const bool has_hole = (b.bimg_info & kBkpImageHasHole) != 0;
      const bool compressed = b.image_compressed();
      if (compressed && has_hole) {
        if (!cur.read(b.hole_length)) return false;
      } else if (has_hole) {
        if (bimg_len >= kDataPageSize) return false;
        b.hole_length = static_cast<uint16_t>(kDataPageSize - bimg_len);
      }
      if (has_hole && (b.hole_offset == 0 || b.hole_length == 0 || bimg_len == kDataPageSize)) return false;
      if (!has_hole && (b.hole_offset != 0 || b.hole_length != 0)) return false;
      if (compressed && bimg_len == kDataPageSize) return false;
      if (!has_hole && !compressed && bimg_len != kDataPageSize) return false;
      datatotal += bimg_len;
    }
    if ((b.fork_flags & kBkpBlockSameRel) == 0) {
      if (!cur.read(b.rel.spc) || !cur.read(b.rel.db) || !cur.read(b.rel.rel)) return false;
    } else {
      if (last_rel == nullptr) return false;
      b.rel = *last_rel;
    }
    last_rel = &b.rel;
    if (!cur.read(b.block)) return false;
    image_len[table.count] = bimg_len;
    data_lens[table.count] = data_len;
    ++table.count;
  }
  if (cur.remaining() != datatotal) return false;
  // Payloads follow in block order (image, then data), then the main data.
  size_t pos = kRecordHeaderSize + cur.position();
  for (size_t i = 0; i < table.count; ++i) {
    BlockRef& b = table.refs[i];
    b.image = record.bytes.subspan(pos, image_len[i]);
    pos += image_len[i];
    b.data = record.bytes.subspan(pos, data_lens[i]);
    pos += data_lens[i];
  }
  record.main_data = record.bytes.subspan(pos, main_len);
  record.blocks = std::span<const BlockRef>(table.refs.data(), table.count);
  return true;
}

uint32_t record_crc(std::span<const std::byte> record) noexcept {
  uint32_t crc = crc32c_extend(kCrc32cInit, record.subspan(kRecordHeaderSize));
  crc = crc32c_extend(crc, record.first(20));
  return crc32c_finish(crc);
}

}  // namespace walvault::wal
