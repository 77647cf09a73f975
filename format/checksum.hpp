// xxh3-64, the checksum of every repository object (see FORMAT.md).
// checksum() hashes one buffer; Hasher hashes a stream incrementally with the same result. No allocation
// beyond the Hasher's state; nothing here fails.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace walvault::format {

[[nodiscard]] uint64_t checksum(std::span<const std::byte> bytes) noexcept;

class Hasher {
 public:
  Hasher();
  ~Hasher();
  Hasher(Hasher&&) noexcept;
  Hasher& operator=(Hasher&&) noexcept;

  void update(std::span<const std::byte> bytes) noexcept;
  [[nodiscard]] uint64_t digest() const noexcept;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace walvault::format
