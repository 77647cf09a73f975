// Test support: the golden PG15 WAL fixtures (tests/fixtures/wal/pg15, made by regenerate.sh), decompressed.
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
[[nodiscard]] const WalFixture& wal_fixture();
// A decompressed or plain text file under tests/fixtures/wal/pg15.
[[nodiscard]] std::string fixture_text(const std::string& name);

// One pg_waldump line, the fields the differential checks compare.
struct GoldenRecord {
  std::string rmgr;
  uint32_t tot_len = 0;
  uint32_t xid = 0;
  wal::Lsn lsn;
  wal::Lsn prev;
};
[[nodiscard]] const std::vector<GoldenRecord>& golden_records();

}  // namespace walvault::test
