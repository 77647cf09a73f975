#include "wal/lsn.hpp"

#include <catch2/catch.hpp>

using walvault::wal::Lsn;
using walvault::wal::SegmentNo;
using walvault::wal::TimelineId;
namespace wal = walvault::wal;

TEST_CASE("Lsn prints as pg_lsn does and parses both forms", "[wal][lsn]") {
  CHECK(Lsn(0x4019D50).to_string() == "0/4019D50");
  CHECK(Lsn(0x16B374D848ULL).to_string() == "16/B374D848");
  CHECK(Lsn().to_string() == "0/0");
  CHECK(Lsn::parse("0/4019D50") == Lsn(0x4019D50));
  CHECK(Lsn::parse("0/04019D50") == Lsn(0x4019D50));  // pg_waldump's padded form
  CHECK(Lsn::parse("16/b374d848") == Lsn(0x16B374D848ULL));
  CHECK(Lsn::parse("FFFFFFFF/FFFFFFFF") == Lsn(~0ULL));
  for (const char* bad : {"", "/", "0/", "/1", "0x0/1", "1/2/3", "123456789/0", "0/G", " 0/1", "0/1 "}) {
    INFO(bad);
    CHECK_FALSE(Lsn::parse(bad).has_value());
  }
}

TEST_CASE("segment math matches xlog_internal.h", "[wal][lsn]") {
  constexpr uint32_t k16M = 16U << 20;
  CHECK(wal::segment_of(Lsn(0x4019D50), k16M) == SegmentNo(4));
  CHECK(wal::segment_offset(Lsn(0x4019D50), k16M) == 0x19D50);
  CHECK(wal::segment_of_end(Lsn(0x5000000), k16M) == SegmentNo(4));
  CHECK(wal::segment_start(SegmentNo(4), k16M) == Lsn(0x4000000));
  CHECK(wal::valid_segment_size(1U << 20));
  CHECK(wal::valid_segment_size(1U << 30));
  CHECK_FALSE(wal::valid_segment_size(1U << 19));
  CHECK_FALSE(wal::valid_segment_size(3U << 20));
  CHECK_FALSE(wal::valid_segment_size(1ULL << 31));
}

TEST_CASE("segment file names are XLogFileName's for every legal size", "[wal][lsn]") {
  CHECK(wal::segment_file_name(TimelineId(1), SegmentNo(4), 16U << 20) == "000000010000000000000004");
  // 16 MiB: 256 segments per xlogid.
  CHECK(wal::segment_file_name(TimelineId(2), SegmentNo(0x341), 16U << 20) == "000000020000000300000041");
  // 1 MiB: 4096 per xlogid; 1 GiB: 4 per xlogid.
  CHECK(wal::segment_file_name(TimelineId(1), SegmentNo(4097), 1U << 20) == "000000010000000100000001");
  CHECK(wal::segment_file_name(TimelineId(0xA), SegmentNo(9), 1U << 30) == "0000000A0000000200000001");
  for (uint32_t size = 1U << 20; size <= (1U << 30); size <<= 1) {
    for (const uint64_t segno : {0ULL, 1ULL, 255ULL, 4095ULL, 123456ULL}) {
      const auto name = wal::segment_file_name(TimelineId(3), SegmentNo(segno), size);
      const auto parsed = wal::parse_segment_file_name(name, size);
      REQUIRE(parsed.has_value());
      CHECK(parsed->timeline == TimelineId(3));
      CHECK(parsed->segno == SegmentNo(segno));
    }
  }
  CHECK_FALSE(wal::parse_segment_file_name("000000010000000000000100", 16U << 20).has_value());
  CHECK_FALSE(wal::parse_segment_file_name("000000000000000000000001", 16U << 20).has_value());
  CHECK_FALSE(wal::parse_segment_file_name("00000001000000000000001", 16U << 20).has_value());
  CHECK(wal::history_file_name(TimelineId(2)) == "00000002.history");
  CHECK(wal::parse_history_file_name("0000000A.history") == TimelineId(10));
  CHECK_FALSE(wal::parse_history_file_name("00000000.history").has_value());
  CHECK_FALSE(wal::parse_history_file_name("0000000A.histor").has_value());
}
