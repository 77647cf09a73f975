#include "format/checksum.hpp"

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace walvault::format {

struct Hasher::State {
  XXH3_state_t xxh;
};

uint64_t checksum(std::span<const std::byte> bytes) noexcept { return XXH3_64bits(bytes.data(), bytes.size()); }

Hasher::Hasher() : state_(std::make_unique<State>()) { XXH3_64bits_reset(&state_->xxh); }
Hasher::~Hasher() = default;
Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;

void Hasher::update(std::span<const std::byte> bytes) noexcept {
  XXH3_64bits_update(&state_->xxh, bytes.data(), bytes.size());
}

uint64_t Hasher::digest() const noexcept { return XXH3_64bits_digest(&state_->xxh); }

}  // namespace walvault::format
