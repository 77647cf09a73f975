#include "format/checksum.hpp"

#include <catch2/catch.hpp>
#include <string_view>
#include <vector>

using walvault::format::checksum;
using walvault::format::Hasher;

namespace {
std::span<const std::byte> bytes_of(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }
}  // namespace

TEST_CASE("xxh3-64 matches the reference values and streams", "[format][checksum]") {
  // Reference values of XXH3_64bits with seed 0 (xxhsum -H3).
  CHECK(checksum(bytes_of("")) == 0x2D06800538D394C2ULL);
  const std::string_view text = "walvault: to the instant before the wipe";
  Hasher h;
  h.update(bytes_of(text.substr(0, 7)));
  h.update(bytes_of(text.substr(7)));
  CHECK(h.digest() == checksum(bytes_of(text)));
  CHECK(checksum(bytes_of("a")) != checksum(bytes_of("b")));
}
