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
__attribute__((target("sse4.2"))) uint32_t crc32c_extend_sse42(uint32_t crc, std::span<const std::byte> bytes) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t n = bytes.size();
  uint64_t c = crc;
  while (n >= 8) {
    uint64_t word = 0;
    std::memcpy(&word, p, 8);
    c = _mm_crc32_u64(c, word);
    p += 8;
    n -= 8;
  }
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
