// Test data shared by the container and tip tests: WAL-like bytes, a segment container header, and a readable
// comparison of byte vectors.
#pragma once

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "format/segment_container.hpp"

namespace walvault::test {

// The header of a container for segment 4 of 1 MiB segments (starting start_offset into it).
inline format::ContainerHeader segment_header(uint32_t chunk_size = format::kMinChunkSize, uint64_t start_offset = 0) {
  constexpr uint32_t kSegSize = 1U << 20;
  format::ContainerHeader h;
  h.kind = format::ContainerKind::kSegment;
  h.chunk_size = chunk_size;
  h.system_identifier = 7301234567890123456ULL;
  h.pg_version = 150018;
  h.timeline = wal::TimelineId(1);
  h.segment_no = wal::SegmentNo(4);
  h.segment_size = kSegSize;
  h.start_lsn = wal::Lsn(4ULL * kSegSize + start_offset);
  return h;
}

// WAL-like bytes: compressible but not trivial; different seeds give different bytes.
inline std::vector<std::byte> sample(std::size_t n, uint32_t seed = 1) {
  std::mt19937 rng(seed);
  std::vector<std::byte> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    out[i] = (i % 64 < 40) ? static_cast<std::byte>(i / 64 + seed) : static_cast<std::byte>(rng() & 0x0F);
  }
  return out;
}

// "" when equal, else the sizes and the first difference (Catch would print the vectors whole).
inline std::string difference(const std::vector<std::byte>& a, const std::vector<std::byte>& b) {
  if (a == b) return "";
  const std::size_t n = std::min(a.size(), b.size());
  std::size_t i = 0;
  while (i < n && a[i] == b[i]) ++i;
  return "sizes " + std::to_string(a.size()) + " and " + std::to_string(b.size()) + ", first difference at " +
         std::to_string(i);
}

}  // namespace walvault::test

#define CHECK_SAME_BYTES(a, b) CHECK(walvault::test::difference((a), (b)) == "")
