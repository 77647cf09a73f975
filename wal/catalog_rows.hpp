// Catalog rows inside heap and btree records: the new tuple of a Heap UPDATE / HOT_UPDATE (from the block data or
// an uncompressed full-page image), an item of a page image, and what a pg_attribute row change means (a column
// marked dropped, a type change). Pure: values in, values out, never reads out of bounds.
//
// A non-image UPDATE logs the new tuple's user data (from t_hoff) only in [prefixlen, tuple_len - suffixlen) when
// old and new share a page (heapam.c log_heap_update), so a TupleWindow says which part of the user data it holds.
// Verified on PostgreSQL 15-18 (the pg_attribute offsets are the WalFormat's AttributeLayout).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

#include "wal/page.hpp"
#include "wal/record.hpp"

namespace walvault::wal {

// Bytes [begin, begin + bytes.size()) of a heap tuple's user data.
struct TupleWindow {
  size_t begin = 0;
  std::vector<std::byte> bytes;

  [[nodiscard]] bool covers(size_t offset, size_t length) const {
    return offset >= begin && offset + length <= begin + bytes.size();
  }
  [[nodiscard]] bool overlaps(size_t offset, size_t length) const {
    return offset < begin + bytes.size() && begin < offset + length;
  }
  template <typename T>
  [[nodiscard]] std::optional<T> get(size_t offset) const {
    if (!covers(offset, sizeof(T))) return std::nullopt;
    T value;
    std::memcpy(&value, bytes.data() + (offset - begin), sizeof value);
    return value;
  }
};

// Item offnum (1-based) of block's page image with its hole restored: nullopt when there is no image, it is
// compressed, or the line pointer is not a normal item inside the page.
[[nodiscard]] std::optional<std::vector<std::byte>> page_item(const BlockRef& block, uint16_t offnum);

// A Heap UPDATE or HOT_UPDATE record (the caller checks the rmgr and opcode).
struct HeapUpdate {
  uint32_t old_block = 0;
  uint16_t old_offnum = 0;
  uint32_t new_block = 0;
  uint16_t new_offnum = 0;
  std::optional<TupleWindow> new_tuple;  // nullopt: not in the record (compressed image) or malformed
  std::optional<TupleWindow> old_tuple;  // the whole old tuple, when block 0's image holds it (same page)
  bool compressed_image = false;         // block 0 carries only a compressed image
};
// nullopt when the record has no block 0 or its main data is too short.
[[nodiscard]] std::optional<HeapUpdate> parse_heap_update(const Record& record);

// pg_attribute (relfilenode 1249) and its (attrelid, attnum) index pg_attribute_relid_attnum_index (2659).
inline constexpr uint32_t kPgAttributeRel = 1249;
inline constexpr uint32_t kPgAttributeRelidAttnumIndex = 2659;

// A new pg_attribute tuple that marks column attnum dropped: attisdropped = 1 and every attname byte the window
// holds equal to "........pg.dropped.<attnum>........" (NUL padded). attrelid when the window holds it, else 0.
struct DroppedColumn {
  uint32_t attrelid = 0;
  int16_t attnum = 0;
};
[[nodiscard]] std::optional<DroppedColumn> dropped_column(const TupleWindow& tuple, const AttributeLayout& layout);

// Whether an update of a pg_attribute row may have changed atttypid or atttypmod: with the old tuple, whether they
// differ; without it, whether the new tuple's window (the changed bytes) overlaps them.
[[nodiscard]] bool type_may_change(const TupleWindow& new_tuple, const std::optional<TupleWindow>& old_tuple,
                                   const AttributeLayout& layout);

// The (attrelid, attnum) key and heap TID of a pg_attribute_relid_attnum_index tuple inserted by a Btree INSERT_LEAF
// record (from its block data or its page image).
struct AttnumIndexEntry {
  uint32_t heap_block = 0;
  uint16_t heap_offnum = 0;
  uint32_t attrelid = 0;
  int16_t attnum = 0;
};
[[nodiscard]] std::optional<AttnumIndexEntry> attnum_index_insert(const Record& record);

}  // namespace walvault::wal
