// The code of the walvault::Error a call throws, for tests of error paths.
#pragma once

#include <catch2/catch.hpp>

#include <functional>

#include "common/error.hpp"

namespace walvault::test {

// The code of the walvault::Error that fn throws (fails the test if it throws none).
inline ErrorCode code_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.code();
  }
  FAIL("expected a walvault::Error");
  return ErrorCode::kInternal;
}

}  // namespace walvault::test
