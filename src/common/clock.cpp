#include "common/clock.hpp"

#include <date/date.h>

#include <cstdio>
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

std::optional<std::chrono::system_clock::time_point> parse_time(std::string_view text) {
  int year = 0;
  unsigned month = 0, day = 0, hour = 0, minute = 0, second = 0;
  int used = 0;
  const std::string s(text);
  if (std::sscanf(s.c_str(), "%4d-%2u-%2uT%2u:%2u:%2u%n", &year, &month, &day, &hour, &minute, &second, &used) != 6 ||
      used != 19) {
    return std::nullopt;
  }
  std::size_t pos = 19;
  int64_t micros = 0;
  if (pos < s.size() && s[pos] == '.') {
    int digits = 0;
    for (++pos; pos < s.size() && s[pos] >= '0' && s[pos] <= '9' && digits < 6; ++pos, ++digits) {
      micros = micros * 10 + (s[pos] - '0');
    }
    if (digits == 0) return std::nullopt;
    for (; digits < 6; ++digits) micros *= 10;
  }
  if (pos + 1 != s.size() || s[pos] != 'Z') return std::nullopt;
  const date::year_month_day ymd{date::year(year), date::month(month), date::day(day)};
  if (!ymd.ok() || hour > 23 || minute > 59 || second > 60) return std::nullopt;
  const auto t = date::sys_days(ymd) + std::chrono::hours(hour) + std::chrono::minutes(minute) +
                 std::chrono::seconds(second) + std::chrono::microseconds(micros);
  return std::chrono::time_point_cast<std::chrono::system_clock::duration>(t);
}

}  // namespace walvault
