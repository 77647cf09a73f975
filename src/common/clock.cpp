#include "common/clock.hpp"

#include <date/date.h>

#include <thread>

namespace walvault {

std::chrono::system_clock::time_point SystemClock::now() const { return std::chrono::system_clock::now(); }

std::chrono::steady_clock::time_point SystemClock::steady() const { return std::chrono::steady_clock::now(); }

void SystemClock::sleep_for(std::chrono::milliseconds duration) { std::this_thread::sleep_for(duration); }

int64_t to_pg_timestamp(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count() -
         kPostgresEpochUnixMicros;
}

std::chrono::system_clock::time_point from_pg_timestamp(int64_t pg_micros) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::microseconds(pg_micros + kPostgresEpochUnixMicros)));
}

std::string format_time(std::chrono::system_clock::time_point t) {
  return date::format("%FT%TZ", std::chrono::time_point_cast<std::chrono::microseconds>(t));
}

}  // namespace walvault
