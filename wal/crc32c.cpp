#include "wal/crc32c.hpp"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace walvault::wal {
namespace {

constexpr uint32_t kPolynomial = 0x82F63B78U;  // reflected Castagnoli

// kTables[k][b]: CRC of byte b followed by k zero bytes (slicing-by-8).
constexpr std::array<std::array<uint32_t, 256>, 8> make_tables() {
  std::array<std::array<uint32_t, 256>, 8> tables{};
  for (uint32_t b = 0; b < 256; ++b) {
    uint32_t crc = b;
    for (int bit = 0; bit < 8; ++bit) crc = (crc & 1U) != 0 ? (crc >> 1) ^ kPolynomial : crc >> 1;
    tables[0][b] = crc;
  }
  for (uint32_t b = 0; b < 256; ++b) {
    for (size_t k = 1; k < 8; ++k) {
      const uint32_t prev = tables[k - 1][b];
      tables[k][b] = (prev >> 8) ^ tables[0][prev & 0xFFU];
    }
  }
  return tables;
}

constexpr auto kTables = make_tables();

using ExtendFn = uint32_t (*)(uint32_t, std::span<const std::byte>) noexcept;

ExtendFn choose() noexcept { return crc32c_hardware_available() ? &crc32c_extend_sse42 : &crc32c_extend_table; }

const ExtendFn kExtend = choose();

}  // namespace

uint32_t crc32c_extend_table(uint32_t crc, std::span<const std::byte> bytes) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t n = bytes.size();
  while (n >= 8) {
    uint32_t lo = 0;
    uint32_t hi = 0;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + 4, 4);
    lo ^= crc;
    crc = kTables[7][lo & 0xFFU] ^ kTables[6][(lo >> 8) & 0xFFU] ^ kTables[5][(lo >> 16) & 0xFFU] ^
          kTables[4][lo >> 24] ^ kTables[3][hi & 0xFFU] ^ kTables[2][(hi >> 8) & 0xFFU] ^
          kTables[1][(hi >> 16) & 0xFFU] ^ kTables[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) crc = (crc >> 8) ^ kTables[0][(crc ^ *p++) & 0xFFU];
  return crc;
}

#if defined(__x86_64__)
namespace {

// The CRC register after kLength zero bytes, as a function of the register before: linear, so a table per byte
// of the register (the 32 single-bit states advanced byte by byte, then combined).
template <size_t kLength>
struct ZeroShift {
  std::array<std::array<uint32_t, 256>, 4> table{};
  constexpr ZeroShift() {
    std::array<uint32_t, 32> bit{};
    for (size_t i = 0; i < 32; ++i) {
      uint32_t crc = 1U << i;
      for (size_t k = 0; k < kLength; ++k) crc = (crc >> 8) ^ kTables[0][crc & 0xFFU];
      bit[i] = crc;
    }
    for (size_t byte = 0; byte < 4; ++byte) {
      for (uint32_t v = 0; v < 256; ++v) {
        uint32_t out = 0;
        for (size_t i = 0; i < 8; ++i) {
          if ((v >> i & 1U) != 0) out ^= bit[byte * 8 + i];
        }
        table[byte][v] = out;
      }
    }
  }
  [[nodiscard]] constexpr uint32_t apply(uint32_t crc) const noexcept {
    return table[0][crc & 0xFFU] ^ table[1][(crc >> 8) & 0xFFU] ^ table[2][(crc >> 16) & 0xFFU] ^ table[3][crc >> 24];
  }
};

constexpr size_t kLongBlock = 2048;
constexpr size_t kShortBlock = 128;
template <size_t kLength>
constexpr ZeroShift<kLength> kShift{};

__attribute__((target("sse4.2"))) uint64_t crc32c_words(uint64_t c, const unsigned char* p, size_t words) noexcept {
  for (; words > 0; --words, p += 8) {
    uint64_t word = 0;
    std::memcpy(&word, p, 8);
    c = _mm_crc32_u64(c, word);
  }
  return c;
}

// Three blocks of kLength bytes each, back to back: their CRCs are computed as three independent chains, which
// keeps the crc32 instruction's pipeline full (one chain waits 3 cycles per word for its previous result), then
// joined with kShift: extend(c, X || Y) = shift(extend(c, X), |Y|) ^ extend(0, Y), the CRC being linear.
template <size_t kLength>
__attribute__((target("sse4.2"))) uint64_t crc32c_three_blocks(uint64_t c, const unsigned char* p) noexcept {
  static_assert(kLength % 8 == 0);
  constexpr size_t kWords = kLength / 8;
  uint64_t b = 0;
  uint64_t d = 0;
  for (size_t i = 0; i < kWords; ++i, p += 8) {
    uint64_t wa = 0;
    uint64_t wb = 0;
    uint64_t wd = 0;
    std::memcpy(&wa, p, 8);
    std::memcpy(&wb, p + kLength, 8);
    std::memcpy(&wd, p + 2 * kLength, 8);
    c = _mm_crc32_u64(c, wa);
    b = _mm_crc32_u64(b, wb);
    d = _mm_crc32_u64(d, wd);
  }
  c = kShift<kLength>.apply(static_cast<uint32_t>(c)) ^ b;
  return kShift<kLength>.apply(static_cast<uint32_t>(c)) ^ d;
}

}  // namespace

__attribute__((target("sse4.2"))) uint32_t crc32c_extend_sse42(uint32_t crc, std::span<const std::byte> bytes) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t n = bytes.size();
  uint64_t c = crc;
  // A full-page image (about 8 KiB) takes one long round and some short ones; small records go word by word.
  for (; n >= 3 * kLongBlock; n -= 3 * kLongBlock, p += 3 * kLongBlock) c = crc32c_three_blocks<kLongBlock>(c, p);
  for (; n >= 3 * kShortBlock; n -= 3 * kShortBlock, p += 3 * kShortBlock) c = crc32c_three_blocks<kShortBlock>(c, p);
  c = crc32c_words(c, p, n / 8);
  p += n / 8 * 8;
  n %= 8;
  auto c32 = static_cast<uint32_t>(c);
  while (n-- > 0) c32 = _mm_crc32_u8(c32, *p++);
  return c32;
}

bool crc32c_hardware_available() noexcept {
  __builtin_cpu_init();  // may run from a static initializer, before the runtime has probed the CPU
  return __builtin_cpu_supports("sse4.2") != 0;
}
#else
uint32_t crc32c_extend_sse42(uint32_t crc, std::span<const std::byte> bytes) noexcept {
  return crc32c_extend_table(crc, bytes);
}
bool crc32c_hardware_available() noexcept { return false; }
#endif

uint32_t crc32c_extend(uint32_t crc, std::span<const std::byte> bytes) noexcept { return kExtend(crc, bytes); }

}  // namespace walvault::wal
