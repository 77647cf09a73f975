// Bounds-checked reading of the unaligned little fields inside WAL records.
//
// ByteReader walks a span forward: every read checks the bytes remaining and returns false instead of reading
// past the end, so decoders can validate before trusting. PackedArray is a view of n fixed-stride items read in
// place (WAL arrays are unaligned, so items are copied out one at a time). Both borrow the bytes they are given.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

namespace walvault::wal {

// An array of fixed-size little-endian items inside the record, read on demand.
template <typename T, size_t kStride>
struct PackedArray {
  const std::byte* data = nullptr;
  uint32_t count = 0;
  [[nodiscard]] T operator[](size_t i) const {
    T value;
    std::memcpy(&value, data + i * kStride, sizeof value);
    return value;
  }
  [[nodiscard]] uint32_t size() const { return count; }
};

class ByteReader {
 public:
  explicit ByteReader(std::span<const std::byte> bytes) : bytes_(bytes) {}
  template <typename T>
  bool read(T& out) {
    if (bytes_.size() - pos_ < sizeof(T)) return false;
    std::memcpy(&out, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  // A count followed by count items of stride bytes.
  template <typename T, size_t kStride>
  bool read_array(PackedArray<T, kStride>& out) {
    int32_t n = 0;
    if (!read(n) || n < 0) return false;
    const uint64_t bytes = static_cast<uint64_t>(n) * kStride;
    if (bytes_.size() - pos_ < bytes) return false;
    out.data = bytes_.data() + pos_;
    out.count = static_cast<uint32_t>(n);
    pos_ += static_cast<size_t>(bytes);
    return true;
  }
  bool skip_array(size_t stride, uint32_t& count) {
    int32_t n = 0;
    if (!read(n) || n < 0) return false;
    const uint64_t bytes = static_cast<uint64_t>(n) * stride;
    if (bytes_.size() - pos_ < bytes) return false;
    count = static_cast<uint32_t>(n);
    pos_ += static_cast<size_t>(bytes);
    return true;
  }
  bool read_cstring(std::string_view& out) {
    const auto* begin = reinterpret_cast<const char*>(bytes_.data() + pos_);
    const size_t left = bytes_.size() - pos_;
    const void* nul = std::memchr(begin, 0, left);
    if (nul == nullptr) return false;
    out = std::string_view(begin, static_cast<size_t>(static_cast<const char*>(nul) - begin));
    pos_ += out.size() + 1;
    return true;
  }
  [[nodiscard]] size_t remaining() const { return bytes_.size() - pos_; }
  [[nodiscard]] size_t position() const { return pos_; }
  bool seek(size_t pos) {
    if (pos > bytes_.size()) return false;
    pos_ = pos;
    return true;
  }

 private:
  std::span<const std::byte> bytes_;
  size_t pos_ = 0;
};

}  // namespace walvault::wal
