// Test support: the golden WAL fixtures of each supported PostgreSQL version (tests/fixtures/wal/pg<major>, made by
// regenerate.sh), decompressed. Everything defaults to PostgreSQL 15's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "wal/lsn.hpp"

namespace walvault::test {

inline constexpr uint32_t kFixtureSegmentSize = 1U << 20;

struct WalFixture {
  wal::Lsn start;               // LSN of bytes[0]: the first segment's start
  std::vector<std::byte> bytes; // the segments, concatenated in order
};

// The fixture segments, contiguous from the first.
[[nodiscard]] const WalFixture& wal_fixture(int major = 15);
// A decompressed or plain text file under tests/fixtures/wal/pg<major>.
[[nodiscard]] std::string fixture_text(const std::string& name, int major = 15);
// The fixture's pg_walinspect.tsv.zst, one field list per record (see tests/common/walinspect_listing.hpp).
[[nodiscard]] std::vector<std::vector<std::string>> walinspect_rows(int major);

// One pg_waldump line, the fields the differential checks compare.
struct GoldenRecord {
  std::string rmgr;
  uint32_t tot_len = 0;
  uint32_t xid = 0;
  wal::Lsn lsn;
  wal::Lsn prev;
};
// pg_waldump's listing of the PostgreSQL 15 fixture.
[[nodiscard]] const std::vector<GoldenRecord>& golden_records();

}  // namespace walvault::test
