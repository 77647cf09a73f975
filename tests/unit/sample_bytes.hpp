// Test data shared by the container and tip tests: WAL-like bytes, and a readable comparison of byte vectors.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace walvault::test {

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
