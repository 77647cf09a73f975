// pg_attribute rows in heap update records, on the bytes PostgreSQL 15 and 16 wrote for ALTER TABLE ... DROP COLUMN
// (captured in the issue 22 research: a same-page update whose block data holds only the changed window, a
// cross-page one with the whole tuple, the pg_attribute_relid_attnum_index insert) and on a page image.
#include "wal/catalog_rows.hpp"

#include <catch2/catch.hpp>
#include <cstring>
#include <string>
#include <vector>

#include "wal/page.hpp"

namespace {

using namespace walvault::wal;

std::vector<std::byte> hex(const std::string& text) {
  std::vector<std::byte> out;
  for (size_t i = 0; i + 1 < text.size();) {
    if (text[i] == ' ') {
      ++i;
      continue;
    }
    out.push_back(static_cast<std::byte>(std::stoi(text.substr(i, 2), nullptr, 16)));
    i += 2;
  }
  return out;
}

template <typename T>
void put(std::vector<std::byte>& bytes, size_t offset, T value) {
  if (bytes.size() < offset + sizeof value) bytes.resize(offset + sizeof value);
  std::memcpy(bytes.data() + offset, &value, sizeof value);
}

// The user data of a PG15 pg_attribute tuple marking attnum dropped (attrelid, attname, ..., attisdropped).
std::vector<std::byte> dropped_row_pg15(uint32_t attrelid, int16_t attnum) {
  std::vector<std::byte> row(112);
  put(row, 0, attrelid);
  const std::string name = "........pg.dropped." + std::to_string(attnum) + "........";
  std::memcpy(row.data() + 4, name.data(), name.size());
  put<int16_t>(row, 76, 4);       // attlen
  put<int16_t>(row, 78, attnum);  // attnum
  put<int32_t>(row, 88, -1);      // atttypmod
  put<uint8_t>(row, 101, 1);      // attisdropped
  return row;
}

struct OneBlockRecord {
  std::vector<std::byte> main;
  std::vector<std::byte> data;
  std::vector<std::byte> image;
  BlockRef block;
  Record record;
  OneBlockRecord(uint8_t rmid, uint8_t info, uint32_t rel, std::vector<std::byte> main_data,
                 std::vector<std::byte> block_data)
      : main(std::move(main_data)), data(std::move(block_data)) {
    block.id = 0;
    block.rel = RelFileNode{1663, 16384, rel};
    block.block = 56;
    block.fork_flags = kBkpBlockHasData;
    block.data = data;
    record.rmid = rmid;
    record.info = info;
    record.main_data = main;
    record.blocks = std::span<const BlockRef>(&block, 1);
  }
};

const AttributeLayout kPg15 = wal_format_for_major(15)->attribute;
const AttributeLayout kPg16 = wal_format_for_major(16)->attribute;

}  // namespace

TEST_CASE("a same-page DROP COLUMN update holds the dropped name and attisdropped, not attrelid", "[wal][catalog]") {
  // PG15 lsn 0/0192DB88: flags 0x60 (prefix and suffix from the old tuple), new_offnum 3; prefixlen 4, suffixlen 10,
  // xl_heap_header with t_hoff 32, 9 bytes of null bitmap and padding, then the user data [4, 102).
  const auto row = dropped_row_pg15(16385, 4);
  auto data = hex("0400 0a00 1a00 0128 20 ffff3f00 0000000000");
  data.insert(data.end(), row.begin() + 4, row.begin() + 102);
  REQUIRE(data.size() == 116);
  OneBlockRecord r(10, 0x20, kPgAttributeRel, hex("d8020000 0100 10 60 00000000 0300"), data);
  const auto u = parse_heap_update(r.record);
  REQUIRE(u);
  CHECK(u->new_offnum == 3);
  CHECK(u->new_block == 56);
  REQUIRE(u->new_tuple);
  CHECK(u->new_tuple->begin == 4);
  CHECK(u->new_tuple->bytes.size() == 98);
  const auto d = dropped_column(*u->new_tuple, kPg15);
  REQUIRE(d);
  CHECK(d->attnum == 4);
  CHECK(d->attrelid == 0);                            // in the common prefix
  CHECK_FALSE(dropped_column(*u->new_tuple, kPg16));  // another version's offsets do not match

  SECTION("a rename is no drop") {
    auto renamed = data;
    const std::string name = "renamed";
    for (size_t i = 0; i < 10; ++i) renamed.at(18 + i) = static_cast<std::byte>(i < name.size() ? name[i] : '\0');
    OneBlockRecord other(10, 0x20, kPgAttributeRel, hex("d8020000 0100 10 60 00000000 0300"), renamed);
    CHECK_FALSE(dropped_column(*parse_heap_update(other.record)->new_tuple, kPg15));
  }
  SECTION("a window cut short before attisdropped is no drop") {
    auto cut = data;
    cut.resize(100);
    OneBlockRecord other(10, 0x20, kPgAttributeRel, hex("d8020000 0100 10 60 00000000 0300"), cut);
    CHECK_FALSE(dropped_column(*parse_heap_update(other.record)->new_tuple, kPg15));
  }
}

TEST_CASE("a cross-page DROP COLUMN update holds the whole tuple, attrelid included", "[wal][catalog]") {
  const auto row = dropped_row_pg15(16392, 2);
  auto data = hex("1a00 0128 20 ffff3f00 0000000000");
  data.insert(data.end(), row.begin(), row.end());
  OneBlockRecord r(10, 0x20, kPgAttributeRel, hex("d8020000 0100 10 00 00000000 3700"), data);
  const auto u = parse_heap_update(r.record);
  REQUIRE(u);
  REQUIRE(u->new_tuple);
  CHECK(u->new_tuple->begin == 0);
  const auto d = dropped_column(*u->new_tuple, kPg15);
  REQUIRE(d);
  CHECK(d->attrelid == 16392);
  CHECK(d->attnum == 2);
  // Without an old tuple, a whole new tuple may have changed the type.
  CHECK(type_may_change(*u->new_tuple, std::nullopt, kPg15));
}

TEST_CASE("a type change shows in the window but a default flag does not", "[wal][catalog]") {
  // PG16 varchar(10) -> varchar(20): prefixlen 80 (atttypmod), suffixlen 27, one byte of data.
  OneBlockRecord widen(10, 0x40, kPgAttributeRel, hex("d8020000 0f00 10 60 00000000 3c00"),
                       hex("5000 1b00 1a80 0128 20 ffff3f00 0000000000 18"));
  const auto u = parse_heap_update(widen.record);
  REQUIRE(u);
  REQUIRE(u->new_tuple);
  CHECK(u->new_tuple->begin == 80);
  CHECK(type_may_change(*u->new_tuple, std::nullopt, kPg16));
  CHECK_FALSE(dropped_column(*u->new_tuple, kPg16));
  // PG15 ADD COLUMN ... DEFAULT: the atthasdef byte (prefix 97) only.
  OneBlockRecord hasdef(10, 0x40, kPgAttributeRel, hex("d8020000 0f00 10 60 00000000 3c00"),
                        hex("6100 0e00 1a80 0128 20 ffff3f00 0000000000 01"));
  CHECK_FALSE(type_may_change(*parse_heap_update(hasdef.record)->new_tuple, std::nullopt, kPg15));
}

TEST_CASE("the pg_attribute_relid_attnum_index insert names the dropped column's table", "[wal][catalog]") {
  // PG15 lsn 0/192DC98: t_tid (56, 3), t_info 0x0010, attrelid 16385, attnum 4.
  OneBlockRecord r(11, 0x00, kPgAttributeRelidAttnumIndex, hex("7c00"), hex("0000 3800 0300 1000 01400000 0400 0000"));
  const auto e = attnum_index_insert(r.record);
  REQUIRE(e);
  CHECK(e->heap_block == 56);
  CHECK(e->heap_offnum == 3);
  CHECK(e->attrelid == 16385);
  CHECK(e->attnum == 4);
}

TEST_CASE("after a checkpoint the new tuple is read from the page image", "[wal][catalog]") {
  // A page with one tuple at 8000 (line pointer 1), stored with its hole [28, 8000) left out.
  const auto row = dropped_row_pg15(16385, 4);
  std::vector<std::byte> page(8192);
  put<uint16_t>(page, 12, 28);    // pd_lower
  put<uint16_t>(page, 14, 8000);  // pd_upper
  put<uint16_t>(page, 16, 8192);  // pd_special
  const uint32_t len = 32 + static_cast<uint32_t>(row.size());
  put<uint32_t>(page, 24, 8000U | (1U << 15) | (len << 17));
  page[8000 + 22] = std::byte{32};  // t_hoff
  std::memcpy(page.data() + 8032, row.data(), row.size());
  OneBlockRecord r(10, 0x20, kPgAttributeRel, hex("d8020000 0900 10 00 00000000 0100"), {});
  r.image.assign(page.begin(), page.begin() + 28);
  r.image.insert(r.image.end(), page.begin() + 8000, page.end());
  r.block.fork_flags = kBkpBlockHasImage;
  r.block.bimg_info = kBkpImageHasHole | kBkpImageApply;
  r.block.hole_offset = 28;
  r.block.hole_length = 8000 - 28;
  r.block.image = r.image;
  r.block.data = {};
  const auto u = parse_heap_update(r.record);
  REQUIRE(u);
  REQUIRE(u->new_tuple);
  const auto d = dropped_column(*u->new_tuple, kPg15);
  REQUIRE(d);
  CHECK(d->attrelid == 16385);
  CHECK(d->attnum == 4);

  SECTION("a compressed image is said to be so, never guessed at") {
    r.block.bimg_info |= 0x10;  // ZSTD
    const auto c = parse_heap_update(r.record);
    REQUIRE(c);
    CHECK(c->compressed_image);
    CHECK_FALSE(c->new_tuple);
  }
}
