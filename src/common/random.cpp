#include "common/random.hpp"

#include <openssl/rand.h>

#include "common/error.hpp"

namespace walvault {

void fill_random(std::span<std::byte> out) {
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(out.size())) != 1) {
    throw Error(ErrorCode::kInternal, "the random number generator failed", "check OpenSSL's installation");
  }
}

}  // namespace walvault
