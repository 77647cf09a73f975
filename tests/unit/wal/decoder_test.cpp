#include "wal/decoder.hpp"

#include <catch2/catch.hpp>
#include <cstring>
#include <random>
#include <vector>

#include "wal/page.hpp"
#include "wal/rmgr.hpp"
#include "wal_fixtures.hpp"

namespace wal = walvault::wal;
using walvault::test::golden_records;
using walvault::test::kFixtureSegmentSize;
using walvault::test::wal_fixture;

namespace {

wal::DecoderConfig fixture_config() {
  wal::DecoderConfig c;
  c.segment_size = kFixtureSegmentSize;
  return c;
}

struct Seen {
  wal::Lsn lsn;
  uint32_t crc;
  uint32_t tot_len;
};

struct Outcome {
  std::vector<Seen> records;
  wal::Status status = wal::Status::kNeedMore;
  wal::ProblemKind kind = wal::ProblemKind::kEndOfSource;
  std::string message;
};

// Every returned record must carry a matching CRC: this is checked for every decode below.
void check_record(const wal::Record& r) {
  REQUIRE(r.bytes.size() == r.tot_len);
  REQUIRE(wal::record_crc(r.bytes) == r.crc);
}

Outcome decode_buffer(wal::Lsn start, std::span<const std::byte> bytes, wal::Lsn from) {
  wal::BufferSource source(start, bytes);
  wal::Reader reader(source, fixture_config(), from);
  Outcome out;
  for (;;) {
    const auto step = reader.next();
    if (step.status == wal::Status::kRecord) {
      check_record(*step.record);
      out.records.push_back({step.record->lsn, step.record->crc, step.record->tot_len});
      continue;
    }
    out.status = step.status;
    if (step.problem != nullptr) {
      out.kind = step.problem->kind;
      out.message = step.problem->message;
    }
    return out;
  }
}

// Feeds the bytes in pieces whose sizes come from rng (1..max_piece).
Outcome decode_pieces(wal::Lsn start, std::span<const std::byte> bytes, std::mt19937& rng, size_t max_piece) {
  wal::StreamDecoder decoder(fixture_config(), start);
  Outcome out;
  size_t off = 0;
  std::uniform_int_distribution<size_t> piece(1, max_piece);
  for (;;) {
    const auto step = decoder.next();
    if (step.status == wal::Status::kRecord) {
      check_record(*step.record);
      out.records.push_back({step.record->lsn, step.record->crc, step.record->tot_len});
      continue;
    }
    if (step.status == wal::Status::kNeedMore) {
      if (off >= bytes.size()) {
        const auto end = decoder.end_of_input();
        out.status = end.status;
        out.kind = end.problem->kind;
        return out;
      }
      // Feed from the decoder's wanted position when it jumped ahead (XLOG_SWITCH), else continue.
      const uint64_t wanted = decoder.wanted() - start;
      if (wanted > off) off = std::min<uint64_t>(wanted, bytes.size());
      if (off >= bytes.size()) continue;
      const size_t n = std::min(piece(rng), bytes.size() - off);
      decoder.feed(start + off, bytes.subspan(off, n));
      off += n;
      continue;
    }
    out.status = step.status;
    out.kind = step.problem->kind;
    out.message = step.problem->message;
    return out;
  }
}

}  // namespace

TEST_CASE("decoding the golden fixture lists exactly pg_waldump's records", "[wal][decoder]") {
  const auto& f = wal_fixture();
  const auto& golden = golden_records();
  REQUIRE(golden.size() > 30000);

  wal::BufferSource source(f.start, f.bytes);
  wal::Reader reader(source, fixture_config(), f.start);
  size_t i = 0;
  bool crossed_segment = false;
  for (auto step = reader.next(); step.status == wal::Status::kRecord; step = reader.next(), ++i) {
    const wal::Record& r = *step.record;
    check_record(r);
    REQUIRE(i < golden.size());
    INFO("record " << i << " at " << r.lsn.to_string());
    CHECK(r.lsn == golden[i].lsn);
    CHECK(r.prev == golden[i].prev);
    CHECK(r.tot_len == golden[i].tot_len);
    CHECK(r.xid == golden[i].xid);
    CHECK(wal::rmgr_name(r.rmid) == golden[i].rmgr);
    if (wal::segment_of(r.lsn, kFixtureSegmentSize) != wal::segment_of_end(r.end_lsn, kFixtureSegmentSize)) {
      crossed_segment = true;
    }
  }
  CHECK(i == golden.size());
  CHECK(crossed_segment);
  CHECK(reader.decoder().system_identifier().has_value());
  CHECK(reader.decoder().format()->pg_major == 15);
}

TEST_CASE("the push decoder gives the same records whatever the piece sizes", "[wal][decoder]") {
  const auto& f = wal_fixture();
  const auto whole = decode_buffer(f.start, f.bytes, f.start);
  REQUIRE(whole.records.size() == golden_records().size());
  std::mt19937 rng(7);
  for (size_t max_piece : {1UL << 17, 9000UL, 100UL, 1UL}) {
    INFO("max piece " << max_piece);
    const auto span = max_piece < 1000 ? std::span<const std::byte>(f.bytes).first(300000)
                                       : std::span<const std::byte>(f.bytes);
    const auto pieces = decode_pieces(f.start, span, rng, max_piece);
    REQUIRE(!pieces.records.empty());
    REQUIRE(pieces.records.size() <= whole.records.size());
    for (size_t i = 0; i < pieces.records.size(); ++i) {
      CHECK(pieces.records[i].lsn == whole.records[i].lsn);
      CHECK(pieces.records[i].crc == whole.records[i].crc);
    }
    if (span.size() == f.bytes.size()) CHECK(pieces.records.size() == whole.records.size());
  }
}

TEST_CASE("decoding can start at a page or record in the middle of the wal", "[wal][decoder]") {
  const auto& f = wal_fixture();
  const auto whole = decode_buffer(f.start, f.bytes, f.start);
  // Every page start: the first record returned is the first one starting on or after it.
  for (uint64_t page = 3; page < 40; page += 7) {
    const wal::Lsn from = f.start + page * wal::kWalPageSize;
    const auto part = decode_buffer(f.start, f.bytes, from);
    REQUIRE(!part.records.empty());
    const auto it = std::find_if(whole.records.begin(), whole.records.end(), [&](const Seen& s) { return s.lsn >= from; });
    REQUIRE(it != whole.records.end());
    CHECK(part.records.front().lsn == it->lsn);
    CHECK(part.records.size() == static_cast<size_t>(whole.records.end() - it));
  }
  // A record start mid-page.
  const auto& mid = whole.records[1234];
  const auto part = decode_buffer(f.start, f.bytes, mid.lsn);
  CHECK(part.records.size() == whole.records.size() - 1234);
}

TEST_CASE("the end of the fixture is a clean end of wal after the switch", "[wal][decoder]") {
  const auto& f = wal_fixture();
  const auto whole = decode_buffer(f.start, f.bytes, f.start);
  CHECK(whole.status == wal::Status::kEndOfWal);
  CHECK(whole.kind == wal::ProblemKind::kEndOfSource);
}

TEST_CASE("zeroed, recycled and torn tails end the wal cleanly", "[wal][decoder]") {
  const auto& f = wal_fixture();
  const auto whole = decode_buffer(f.start, f.bytes, f.start);
  const auto cut = whole.records[500];
  std::vector<std::byte> bytes(f.bytes.begin(), f.bytes.begin() + static_cast<long>(cut.lsn - f.start + 4 * 8192));

  SECTION("zeroed") {
    std::fill(bytes.begin() + static_cast<long>(cut.lsn - f.start), bytes.end(), std::byte{0});
    const auto out = decode_buffer(f.start, bytes, f.start);
    CHECK(out.records.size() == 500);
    CHECK(out.status == wal::Status::kEndOfWal);
    CHECK(out.kind == wal::ProblemKind::kZeroed);
  }
  SECTION("recycled: the next page carries an old address") {
    const uint64_t page = (cut.lsn - f.start + 8191) / 8192 * 8192;
    const uint64_t old = (f.start + page).value() - 16 * kFixtureSegmentSize;
    std::memcpy(bytes.data() + page + 8, &old, 8);
    const auto out = decode_buffer(f.start, bytes, f.start);
    CHECK(out.status == wal::Status::kEndOfWal);
    CHECK(out.kind == wal::ProblemKind::kRecycled);
  }
  SECTION("torn: the source ends inside a record") {
    const auto out = decode_buffer(f.start, std::span<const std::byte>(bytes).first(cut.lsn - f.start + 10), f.start);
    CHECK(out.records.size() == 500);
    CHECK(out.kind == wal::ProblemKind::kIncomplete);
  }
}

TEST_CASE("an unknown page magic is a typed error that names it", "[wal][decoder]") {
  const auto& f = wal_fixture();
  std::vector<std::byte> bytes(f.bytes.begin(), f.bytes.begin() + 3 * 8192);
  const uint16_t magic = 0xD0FF;
  std::memcpy(bytes.data() + 8192, &magic, 2);
  const auto out = decode_buffer(f.start, bytes, f.start);
  CHECK(out.status == wal::Status::kError);
  CHECK(out.kind == wal::ProblemKind::kUnknownMagic);
  CHECK(out.message.find("0xD0FF") != std::string::npos);
  const auto parsed = wal::parse_page_header(std::span<const std::byte>(bytes).subspan(8192, 24));
  REQUIRE_FALSE(parsed.has_value());
  CHECK(parsed.error().kind == wal::PageErrorKind::kUnknownMagic);
}

TEST_CASE("the version table holds PG15 to PG18, with each version's layouts", "[wal][page]") {
  CHECK(wal::wal_format_for_magic(0xD110)->pg_major == 15);
  CHECK(wal::wal_format_for_magic(0xD113)->pg_major == 16);
  CHECK(wal::wal_format_for_magic(0xD116)->pg_major == 17);
  CHECK(wal::wal_format_for_magic(0xD118)->pg_major == 18);
  CHECK_FALSE(wal::wal_format_for_magic(0xD111).has_value());
  // 13 and 14 are known only to be refused by name.
  CHECK_FALSE(wal::wal_format_for_magic(0xD106).has_value());
  CHECK_FALSE(wal::wal_format_for_magic(0xD10D).has_value());
  CHECK(wal::pg_major_for_magic(0xD106) == 13);
  CHECK(wal::pg_major_for_magic(0xD10D) == 14);
  CHECK_FALSE(wal::wal_format_for_major(14).has_value());
  CHECK_FALSE(wal::wal_format_for_major(19).has_value());
  for (int major = wal::kOldestSupportedMajor; major <= wal::kNewestSupportedMajor; ++major) {
    const auto format = wal::wal_format_for_major(major);
    REQUIRE(format.has_value());
    CHECK(wal::wal_format_for_magic(format->magic)->pg_major == major);
    CHECK(format->dbase_drop_opcode == 0x20);
    CHECK(format->dropped_stats_item_size == (major >= 18 ? 16 : 12));
    CHECK(format->heap2_prune_split == (major >= 17));
  }
  CHECK(wal::record_type_name(9, 0x10, *wal::wal_format_for_major(16)) == "PRUNE");
  CHECK(wal::record_type_name(9, 0x10, *wal::wal_format_for_major(17)) == "PRUNE_ON_ACCESS");
  CHECK(wal::record_type_name(9, 0x30, *wal::wal_format_for_major(18)) == "PRUNE_VACUUM_CLEANUP");
  const auto& f = wal_fixture();
  const auto h = wal::parse_page_header(std::span<const std::byte>(f.bytes).first(40));
  REQUIRE(h.has_value());
  CHECK(h->is_long());
  CHECK(h->segment_size == kFixtureSegmentSize);
  CHECK(h->page_address == f.start);
}

TEST_CASE("wal of PostgreSQL 13 or 14 is refused by name and wal of another version than expected is foreign",
          "[wal][decoder]") {
  const auto& f = wal_fixture();
  for (const auto& [magic, major] : {std::pair<uint16_t, int>{0xD106, 13}, {0xD10D, 14}}) {
    std::vector<std::byte> bytes(f.bytes.begin(), f.bytes.begin() + 2 * 8192);
    std::memcpy(bytes.data(), &magic, 2);
    const auto out = decode_buffer(f.start, bytes, f.start);
    CHECK(out.status == wal::Status::kError);
    CHECK(out.kind == wal::ProblemKind::kUnknownMagic);
    CHECK(out.message == "wal of PostgreSQL " + std::to_string(major) +
                             (major == 13 ? " (page magic 0xD106)" : " (page magic 0xD10D)") +
                             " is not supported: walvault reads PostgreSQL 15 to 18");
  }
  wal::DecoderConfig config = fixture_config();
  config.pg_major = 18;
  wal::BufferSource source(f.start, f.bytes);
  wal::Reader reader(source, config, f.start);
  const auto step = reader.next();
  REQUIRE(step.status == wal::Status::kError);
  CHECK(step.problem->kind == wal::ProblemKind::kForeignWal);
  CHECK(step.problem->message == "wal of PostgreSQL 15 where PostgreSQL 18 wal was expected");
}

TEST_CASE("feeding past the wanted position is a contract error", "[wal][decoder]") {
  const auto& f = wal_fixture();
  wal::StreamDecoder decoder(fixture_config(), f.start);
  decoder.feed(f.start + 8192, std::span<const std::byte>(f.bytes).subspan(8192, 8192));
  const auto step = decoder.next();
  CHECK(step.status == wal::Status::kError);
  CHECK(step.problem->kind == wal::ProblemKind::kContract);
}

TEST_CASE("flipped bytes and truncations never yield a record with a bad crc", "[wal][decoder][corruption]") {
  const auto& f = wal_fixture();
  const auto region = std::span<const std::byte>(f.bytes).first(96 * 1024);
  const auto clean = decode_buffer(f.start, region, f.start);
  std::mt19937 rng(1234);
  std::uniform_int_distribution<size_t> pos(0, region.size() - 1);
  for (int trial = 0; trial < 300; ++trial) {
    std::vector<std::byte> bytes(region.begin(), region.end());
    const size_t at = pos(rng);
    bytes[at] ^= static_cast<std::byte>(1U << (trial % 8));
    const auto out = decode_buffer(f.start, bytes, f.start);  // check_record() asserts every CRC
    // Records wholly before the flipped byte are unchanged.
    for (size_t i = 0; i < out.records.size() && i < clean.records.size(); ++i) {
      if (clean.records[i].lsn - f.start + clean.records[i].tot_len > at) break;
      CHECK(out.records[i].lsn == clean.records[i].lsn);
    }
  }
  for (int trial = 0; trial < 100; ++trial) {
    const size_t len = pos(rng);
    const auto out = decode_buffer(f.start, region.first(len), f.start);
    REQUIRE(out.records.size() <= clean.records.size());
    for (size_t i = 0; i < out.records.size(); ++i) CHECK(out.records[i].lsn == clean.records[i].lsn);
  }
}
