// Clock: the one way walvault reads time and sleeps, so tests can substitute a fake (RocksDB's mock clock).
//
// now() is wall time (for timestamps users see and for the replication protocol's send times); steady() is
// monotonic (for intervals and deadlines); sleep_for() waits. SystemClock is the real one. The helpers convert
// between wall time, PostgreSQL's TimestampTz (µs since 2000-01-01 UTC) and the ISO 8601 text walvault prints.
// Nothing here throws.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace walvault {

class Clock {
 public:
  virtual ~Clock() = default;
  [[nodiscard]] virtual std::chrono::system_clock::time_point now() const = 0;
  [[nodiscard]] virtual std::chrono::steady_clock::time_point steady() const = 0;
  virtual void sleep_for(std::chrono::milliseconds duration) = 0;
};

class SystemClock final : public Clock {
 public:
  [[nodiscard]] std::chrono::system_clock::time_point now() const override;
  [[nodiscard]] std::chrono::steady_clock::time_point steady() const override;
  void sleep_for(std::chrono::milliseconds duration) override;
};

// Microseconds between the Unix epoch and PostgreSQL's epoch (2000-01-01 00:00:00 UTC).
inline constexpr int64_t kPostgresEpochUnixMicros = 946684800000000;

// Wall time as a PostgreSQL TimestampTz (µs since 2000-01-01 UTC), and back.
[[nodiscard]] int64_t to_pg_timestamp(std::chrono::system_clock::time_point t);
[[nodiscard]] std::chrono::system_clock::time_point from_pg_timestamp(int64_t pg_micros);

// ISO 8601 UTC with microseconds: "2026-11-21T04:15:59.705207Z".
[[nodiscard]] std::string format_time(std::chrono::system_clock::time_point t);
// Parses exactly that form (1..6 fraction digits, or none); nullopt otherwise.
[[nodiscard]] std::optional<std::chrono::system_clock::time_point> parse_time(std::string_view text);

}  // namespace walvault
