// Cryptographically secure random bytes (OpenSSL's RAND_bytes), for data keys and salts.
// Throws Error(kInternal) when the generator fails (it does not on a working system).
#pragma once

#include <cstddef>
#include <span>

namespace walvault {

void fill_random(std::span<std::byte> out);

}  // namespace walvault
