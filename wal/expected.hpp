// Expected<T, E>: the result type of the pure modules (wal/, format/), which never throw on bad input.
// A value or an error; reading the wrong one is a programmer error (checked by assert in debug builds).
// g++ 12 has no std::expected, so this is the small subset we use.
#pragma once

#include <cassert>
#include <type_traits>
#include <utility>
#include <variant>

namespace walvault {

template <typename E>
struct Unexpected {
  // A constructor rather than aggregate init, so Unexpected(e) also compiles on clang < 16 (libFuzzer builds).
  explicit Unexpected(E e) : error(std::move(e)) {}
  E error;
};
template <typename E>
Unexpected(E) -> Unexpected<E>;

template <typename T, typename E>
class [[nodiscard]] Expected {
 public:
  Expected(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Expected(Unexpected<E> e) : v_(std::in_place_index<1>, std::move(e.error)) {}  // NOLINT

  [[nodiscard]] bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  [[nodiscard]] T& value() & { assert(has_value()); return std::get<0>(v_); }
  [[nodiscard]] const T& value() const& { assert(has_value()); return std::get<0>(v_); }
  [[nodiscard]] T&& value() && { assert(has_value()); return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  [[nodiscard]] const E& error() const& { assert(!has_value()); return std::get<1>(v_); }
  [[nodiscard]] E&& error() && { assert(!has_value()); return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, E> v_;
};

// Expected<void, E>.
template <typename E>
class [[nodiscard]] Expected<void, E> {
 public:
  Expected() = default;
  Expected(Unexpected<E> e) : error_(std::move(e.error)), ok_(false) {}  // NOLINT

  [[nodiscard]] bool has_value() const noexcept { return ok_; }
  explicit operator bool() const noexcept { return ok_; }
  [[nodiscard]] const E& error() const& { assert(!ok_); return error_; }

 private:
  E error_{};
  bool ok_ = true;
};

}  // namespace walvault
