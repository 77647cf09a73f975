#include "wal/catalog_rows.hpp"

#include <algorithm>
#include <string>

namespace walvault::wal {
namespace {

constexpr size_t kPageSize = 8192;
constexpr size_t kPageHeaderSize = 24;          // SizeOfPageHeaderData
constexpr size_t kTupleHeaderSize = 23;         // SizeofHeapTupleHeader (offsetof t_bits)
constexpr size_t kHeapHeaderSize = 5;           // SizeOfHeapHeader: t_infomask2, t_infomask, t_hoff
constexpr size_t kIndexTupleHeaderSize = 8;     // IndexTupleData, MAXALIGNed
constexpr uint8_t kUpdatePrefixFromOld = 0x20;  // XLH_UPDATE_PREFIX_FROM_OLD
constexpr uint8_t kUpdateSuffixFromOld = 0x40;  // XLH_UPDATE_SUFFIX_FROM_OLD
constexpr uint8_t kLpNormal = 1;
constexpr uint8_t kBtreeInsertLeaf = 0x00;
constexpr size_t kAttnameOffset = 4;
constexpr size_t kNameDataLen = 64;
constexpr size_t kAtttypidOffset = 68;

template <typename T>
bool load(std::span<const std::byte> bytes, size_t offset, T& out) {
  if (bytes.size() < offset + sizeof(T)) return false;
  std::memcpy(&out, bytes.data() + offset, sizeof out);
  return true;
}

const BlockRef* block_with_id(const Record& rec, uint8_t id) {
  const auto it = std::find_if(rec.blocks.begin(), rec.blocks.end(), [&](const BlockRef& b) { return b.id == id; });
  return it == rec.blocks.end() ? nullptr : &*it;
}

// The user data of a whole heap tuple (from t_hoff).
std::optional<TupleWindow> whole_tuple(const std::vector<std::byte>& tuple) {
  if (tuple.size() < kTupleHeaderSize) return std::nullopt;
  const auto hoff = static_cast<size_t>(tuple[22]);
  if (hoff < kTupleHeaderSize || hoff > tuple.size()) return std::nullopt;
  return TupleWindow{0, std::vector<std::byte>(tuple.begin() + static_cast<std::ptrdiff_t>(hoff), tuple.end())};
}

}  // namespace

std::optional<std::vector<std::byte>> page_item(const BlockRef& block, uint16_t offnum) {
  if (!block.has_image() || block.image_compressed() || offnum == 0) return std::nullopt;
  const bool hole = (block.bimg_info & kBkpImageHasHole) != 0;
  const size_t hole_offset = hole ? block.hole_offset : 0;
  const size_t hole_length = hole ? block.hole_length : 0;
  if (hole_offset + hole_length > kPageSize || block.image.size() + hole_length != kPageSize) return std::nullopt;
  // Page offset -> byte of the stored image (the hole reads as zeros).
  const auto page_bytes = [&](size_t offset, size_t length, std::byte* out) {
    for (size_t i = 0; i < length; ++i) {
      const size_t p = offset + i;
      out[i] = p < hole_offset                 ? block.image[p]
               : p < hole_offset + hole_length ? std::byte{0}
                                               : block.image[p - hole_length];
    }
  };
  const size_t lp_at = kPageHeaderSize + 4 * (static_cast<size_t>(offnum) - 1);
  if (lp_at + 4 > kPageSize) return std::nullopt;
  std::byte lp_bytes[4];
  page_bytes(lp_at, 4, lp_bytes);
  uint32_t lp = 0;
  std::memcpy(&lp, lp_bytes, sizeof lp);
  const size_t lp_off = lp & 0x7FFF;
  const auto lp_flags = static_cast<uint8_t>((lp >> 15) & 0x3);
  const size_t lp_len = lp >> 17;
  if (lp_flags != kLpNormal || lp_len == 0 || lp_off < kPageHeaderSize || lp_off + lp_len > kPageSize) {
    return std::nullopt;
  }
  std::vector<std::byte> item(lp_len);
  page_bytes(lp_off, lp_len, item.data());
  return item;
}

std::optional<HeapUpdate> parse_heap_update(const Record& rec) {
  // xl_heap_update: old_xmax @0, old_offnum @4, old_infobits_set @6, flags @7, new_xmax @8, new_offnum @12.
  HeapUpdate u;
  uint8_t flags = 0;
  const BlockRef* target = block_with_id(rec, 0);
  if (target == nullptr || !load(rec.main_data, 4, u.old_offnum) || !load(rec.main_data, 7, flags) ||
      !load(rec.main_data, 12, u.new_offnum)) {
    return std::nullopt;
  }
  const BlockRef* old_block = block_with_id(rec, 1);
  u.new_block = target->block;
  u.old_block = old_block != nullptr ? old_block->block : target->block;
  if (target->has_image()) {
    u.compressed_image = target->image_compressed();
    if (const auto item = page_item(*target, u.new_offnum)) u.new_tuple = whole_tuple(*item);
    if (old_block == nullptr) {
      if (const auto item = page_item(*target, u.old_offnum)) u.old_tuple = whole_tuple(*item);
    }
    return u;
  }
  // Block data: [u16 prefixlen] [u16 suffixlen] xl_heap_header, t_bits and padding up to t_hoff, then the user data
  // from prefixlen up to the suffix.
  const auto& d = target->data;
  size_t pos = 0;
  uint16_t prefix = 0;
  uint16_t suffix = 0;
  if ((flags & kUpdatePrefixFromOld) != 0 && !load(d, pos, prefix)) return u;
  if ((flags & kUpdatePrefixFromOld) != 0) pos += 2;
  if ((flags & kUpdateSuffixFromOld) != 0 && !load(d, pos, suffix)) return u;
  if ((flags & kUpdateSuffixFromOld) != 0) pos += 2;
  uint8_t hoff = 0;
  if (!load(d, pos + 4, hoff) || hoff < kTupleHeaderSize) return u;
  pos += kHeapHeaderSize + (hoff - kTupleHeaderSize);
  if (pos > d.size()) return u;
  u.new_tuple = TupleWindow{prefix, std::vector<std::byte>(d.begin() + static_cast<std::ptrdiff_t>(pos), d.end())};
  return u;
}

std::optional<DroppedColumn> dropped_column(const TupleWindow& tuple, const AttributeLayout& layout) {
  const auto dropped = tuple.get<uint8_t>(layout.attisdropped);
  const auto attnum = tuple.get<int16_t>(layout.attnum);
  if (!dropped || *dropped != 1 || !attnum || *attnum <= 0) return std::nullopt;
  // The attname that RemoveAttributeById writes, NUL padded to NAMEDATALEN.
  std::string expected = "........pg.dropped." + std::to_string(*attnum) + "........";
  expected.resize(kNameDataLen, '\0');
  bool any = false;
  for (size_t i = 0; i < kNameDataLen; ++i) {
    const auto byte = tuple.get<char>(kAttnameOffset + i);
    if (!byte) continue;
    if (*byte != expected[i]) return std::nullopt;
    any = true;
  }
  if (!any) return std::nullopt;  // attname unchanged: not the drop
  return DroppedColumn{tuple.get<uint32_t>(0).value_or(0), *attnum};
}

bool type_may_change(const TupleWindow& new_tuple, const std::optional<TupleWindow>& old_tuple,
                     const AttributeLayout& layout) {
  if (old_tuple) {
    return new_tuple.get<uint32_t>(kAtttypidOffset) != old_tuple->get<uint32_t>(kAtttypidOffset) ||
           new_tuple.get<int32_t>(layout.atttypmod) != old_tuple->get<int32_t>(layout.atttypmod);
  }
  return new_tuple.overlaps(kAtttypidOffset, 4) || new_tuple.overlaps(layout.atttypmod, 4);
}

std::optional<AttnumIndexEntry> attnum_index_insert(const Record& rec) {
  const BlockRef* target = block_with_id(rec, 0);
  if (target == nullptr || (rec.info & 0xF0) != kBtreeInsertLeaf || target->fork() != 0) return std::nullopt;
  std::vector<std::byte> item;
  if (target->has_image()) {
    uint16_t offnum = 0;  // xl_btree_insert
    if (!load(rec.main_data, 0, offnum)) return std::nullopt;
    auto from_image = page_item(*target, offnum);
    if (!from_image) return std::nullopt;
    item = std::move(*from_image);
  } else {
    item.assign(target->data.begin(), target->data.end());
  }
  // IndexTupleData: t_tid (bi_hi, bi_lo, offnum), t_info; then the key (attrelid oid, attnum int2).
  uint16_t hi = 0;
  uint16_t lo = 0;
  AttnumIndexEntry e;
  const std::span<const std::byte> bytes(item);
  if (!load(bytes, 0, hi) || !load(bytes, 2, lo) || !load(bytes, 4, e.heap_offnum) ||
      !load(bytes, kIndexTupleHeaderSize, e.attrelid) || !load(bytes, kIndexTupleHeaderSize + 4, e.attnum)) {
    return std::nullopt;
  }
  e.heap_block = (static_cast<uint32_t>(hi) << 16) | lo;
  return e;
}

}  // namespace walvault::wal
