// Backoff: capped exponential delays between reconnect attempts (1 s, 2 s, 4 s, ... 30 s), reset after a
// connection that worked. Pure value type; nothing throws.
#pragma once

#include <algorithm>
#include <chrono>

namespace walvault::archive {

class Backoff {
 public:
  constexpr Backoff(std::chrono::milliseconds initial = std::chrono::seconds(1),
                    std::chrono::milliseconds cap = std::chrono::seconds(30))
      : initial_(initial), cap_(cap), next_(initial) {}

  // The delay to wait now; the one after it doubles, up to the cap.
  [[nodiscard]] constexpr std::chrono::milliseconds next() {
    const auto delay = next_;
    next_ = std::min(cap_, next_ * 2);
    return delay;
  }
  // Back to the initial delay (after a connection that streamed).
  constexpr void reset() { next_ = initial_; }

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds cap_;
  std::chrono::milliseconds next_;
};

}  // namespace walvault::archive
