// Little-endian fixed-width fields and LEB128 varints for the repository formats (FORMAT.md, "Conventions").
// put_* write into caller-owned memory, get_* read from it; the caller checks bounds first. Appender grows a
// byte vector; Cursor reads with bounds checks. Nothing allocates except Appender; nothing fails.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <span>
#include <string_view>
#include <vector>

namespace walvault::format {

template <typename T>
inline void put_le(std::byte* at, T value) noexcept {
  static_assert(std::is_integral_v<T>);
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    at[i] = static_cast<std::byte>(static_cast<std::make_unsigned_t<T>>(value) >> (8 * i));
  }
}

template <typename T>
[[nodiscard]] inline T get_le(const std::byte* at) noexcept {
  static_assert(std::is_integral_v<T>);
  std::make_unsigned_t<T> value = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    value = static_cast<std::make_unsigned_t<T>>(value | (static_cast<std::make_unsigned_t<T>>(at[i]) << (8 * i)));
  }
  return static_cast<T>(value);
}

// Appends little-endian fields to a byte vector.
class Appender {
 public:
  explicit Appender(std::vector<std::byte>& out) : out_(out) {}
  template <typename T>
  void put(T value) {
    const std::size_t at = out_.size();
    out_.resize(at + sizeof(T));
    put_le<T>(out_.data() + at, value);
  }
  void put_varint(uint64_t value) {
    for (; value >= 0x80; value >>= 7) out_.push_back(static_cast<std::byte>(value | 0x80));
    out_.push_back(static_cast<std::byte>(value));
  }
  void put_bytes(std::span<const std::byte> bytes) { out_.insert(out_.end(), bytes.begin(), bytes.end()); }
  void put_text(std::string_view text) {
    put_bytes(std::span(reinterpret_cast<const std::byte*>(text.data()), text.size()));
  }
  [[nodiscard]] std::size_t size() const { return out_.size(); }

 private:
  std::vector<std::byte>& out_;
};

// Reads little-endian fields from a span with bounds checks: a read past the end sets failed() and yields 0.
class Cursor {
 public:
  explicit Cursor(std::span<const std::byte> in) : in_(in) {}
  template <typename T>
  [[nodiscard]] T get() {
    if (!take(sizeof(T))) return T{};
    return get_le<T>(in_.data() + pos_ - sizeof(T));
  }
  // A varint of at most 10 bytes whose value fits in a u64; anything else sets failed().
  [[nodiscard]] uint64_t get_varint() {
    uint64_t value = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
      if (!take(1)) return 0;
      const auto b = static_cast<uint8_t>(in_[pos_ - 1]);
      if (shift == 63 && b > 1) break;
      value |= static_cast<uint64_t>(b & 0x7F) << shift;
      if ((b & 0x80) == 0) return value;
    }
    failed_ = true;
    return 0;
  }
  [[nodiscard]] std::span<const std::byte> bytes(std::size_t n) {
    if (!take(n)) return {};
    return in_.subspan(pos_ - n, n);
  }
  [[nodiscard]] bool failed() const { return failed_; }
  [[nodiscard]] std::size_t position() const { return pos_; }
  [[nodiscard]] std::size_t remaining() const { return in_.size() - pos_; }

 private:
  bool take(std::size_t n) {
    if (failed_ || n > in_.size() - pos_) {
      failed_ = true;
      return false;
    }
    pos_ += n;
    return true;
  }
  std::span<const std::byte> in_;
  std::size_t pos_ = 0;
  bool failed_ = false;
};

// Zigzag: signed values as unsigned ones, small magnitudes small (0, -1, 1, -2 ... -> 0, 1, 2, 3 ...).
[[nodiscard]] constexpr uint64_t zigzag(int64_t v) noexcept {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
[[nodiscard]] constexpr int64_t unzigzag(uint64_t u) noexcept {
  return static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1));
}

inline constexpr std::string_view kMagic = "WALVAULT";
inline constexpr std::string_view kEndMagic = "TLUAVLAW";
inline constexpr uint16_t kFormatVersion = 1;

// The u16 kind after the magic of every binary object.
enum class ObjectKind : uint16_t { kSegment = 1, kStream = 2, kIndexRun = 3, kIndexTipLog = 4, kTailLog = 5 };

[[nodiscard]] inline bool has_magic(const std::byte* at, std::string_view magic) noexcept {
  return std::memcmp(at, magic.data(), magic.size()) == 0;
}

// Reads `length` bytes at `offset` of one object (short only past its end). May throw (IO).
using RangeReader = std::function<std::vector<std::byte>(uint64_t offset, uint64_t length)>;

// A RangeReader over an object already in memory; object must outlive it.
[[nodiscard]] inline RangeReader ranges_of(std::span<const std::byte> object) {
  return [object](uint64_t offset, uint64_t length) {
    if (offset >= object.size()) return std::vector<std::byte>();
    const auto part = object.subspan(offset, std::min<uint64_t>(length, object.size() - offset));
    return std::vector<std::byte>(part.begin(), part.end());
  };
}

// TimestampTz: microseconds since 2000-01-01 00:00:00 UTC (PostgreSQL's). kNoTime marks "none" on disk.
using TimestampTz = int64_t;
inline constexpr TimestampTz kNoTime = INT64_MIN;

}  // namespace walvault::format
