#include "wal/crc32c.hpp"

#include <catch2/catch.hpp>
#include <cstring>
#include <random>
#include <string_view>
#include <vector>

namespace wal = walvault::wal;

namespace {

std::span<const std::byte> as_bytes(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }

using Extend = uint32_t (*)(uint32_t, std::span<const std::byte>) noexcept;

void check_vectors(Extend extend) {
  const auto one_shot = [&](std::span<const std::byte> b) { return wal::crc32c_finish(extend(wal::kCrc32cInit, b)); };
  CHECK(one_shot(as_bytes("123456789")) == 0xE3069283U);  // the CRC-32C check value
  CHECK(one_shot({}) == 0U);
  const std::vector<std::byte> zeros(32, std::byte{0});
  CHECK(one_shot(zeros) == 0x8A9136AAU);  // RFC 3720 B.4
  const std::vector<std::byte> ones(32, std::byte{0xFF});
  CHECK(one_shot(ones) == 0x62A8AB43U);
  std::vector<std::byte> inc(32);
  for (size_t i = 0; i < inc.size(); ++i) inc[i] = static_cast<std::byte>(i);
  CHECK(one_shot(inc) == 0x46DD794EU);
}

}  // namespace

TEST_CASE("crc32c table implementation matches the published check values", "[wal][crc32c]") {
  check_vectors(&wal::crc32c_extend_table);
}

TEST_CASE("crc32c sse4.2 implementation matches the check values and the table", "[wal][crc32c]") {
  if (!wal::crc32c_hardware_available()) {
    WARN("no SSE4.2 on this CPU: only the table path is tested");
    return;
  }
  check_vectors(&wal::crc32c_extend_sse42);
  std::mt19937 rng(42);
  std::vector<std::byte> data(20000);
  for (auto& b : data) b = static_cast<std::byte>(rng());
  // Every path: bytes, words, three-way rounds of 128-byte blocks (384 bytes) and of 2048-byte blocks (6144), and
  // the lengths on either side of each.
  for (size_t len : {0UL,    1UL,     7UL,     8UL,    9UL,    63UL,   64UL,   383UL,
                     384UL,  385UL,   391UL,   1000UL, 6143UL, 6144UL, 6145UL, 6144UL + 384UL + 7UL,
                     8191UL, 12288UL, 12289UL, 19996UL}) {
    for (size_t offset : {0UL, 1UL, 3UL}) {
      if (offset + len > data.size()) continue;
      const auto piece = std::span<const std::byte>(data).subspan(offset, len);
      CHECK(wal::crc32c_extend_sse42(0x12345678U, piece) == wal::crc32c_extend_table(0x12345678U, piece));
      CHECK(wal::crc32c_extend_sse42(wal::kCrc32cInit, piece) == wal::crc32c_extend_table(wal::kCrc32cInit, piece));
    }
  }
}

TEST_CASE("crc32c extends over pieces exactly as over one buffer", "[wal][crc32c]") {
  const auto text = as_bytes("The quick brown fox jumps over the lazy dog, twice over for good measure.");
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    const uint32_t crc = wal::crc32c_extend(wal::crc32c_extend(wal::kCrc32cInit, text.first(cut)), text.subspan(cut));
    CHECK(wal::crc32c_finish(crc) == wal::crc32c(text));
  }
}
