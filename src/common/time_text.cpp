#include "common/time_text.hpp"

#include <date/date.h>
#include <date/tz.h>

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <exception>

#include "common/clock.hpp"
#include "common/error.hpp"

namespace walvault {
namespace {

using Micros = std::chrono::microseconds;

// Reads exactly n digits at pos.
bool digits(std::string_view s, std::size_t& pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int value = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  pos += n;
  out = value;
  return true;
}

Unexpected<std::string> bad(std::string_view text, const std::string& why) {
  return Unexpected<std::string>{"cannot read \"" + std::string(text) + "\" as a time: " + why};
}

const date::time_zone* local_zone() {
  if (const char* tz = std::getenv("TZ"); tz != nullptr && *tz != '\0') {
    std::string_view name(tz);
    if (name.front() == ':') name.remove_prefix(1);
    return date::locate_zone(name);
  }
  return date::current_zone();
}

}  // namespace

Expected<int64_t, std::string> parse_user_time(std::string_view text) {
  std::string_view s = text;
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  std::size_t pos = 0;
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!digits(s, pos, 4, year) || pos >= s.size() || s[pos++] != '-' || !digits(s, pos, 2, month) ||
      pos >= s.size() || s[pos++] != '-' || !digits(s, pos, 2, day)) {
    return bad(text, "expected a date as YYYY-MM-DD");
  }
  if (pos >= s.size() || (s[pos] != 'T' && s[pos] != ' ')) {
    return bad(text, "expected 'T' or a space and a time of day after the date");
  }
  ++pos;
  if (!digits(s, pos, 2, hour) || pos >= s.size() || s[pos++] != ':' || !digits(s, pos, 2, minute)) {
    return bad(text, "expected a time of day as HH:MM[:SS[.ffffff]]");
  }
  int64_t micros = 0;
  if (pos < s.size() && s[pos] == ':') {
    ++pos;
    if (!digits(s, pos, 2, second)) return bad(text, "expected two digits of seconds");
    if (pos < s.size() && s[pos] == '.') {
      ++pos;
      int n = 0;
      while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
        if (++n > 6) return bad(text, "more than 6 fraction digits (PostgreSQL keeps microseconds)");
        micros = micros * 10 + (s[pos++] - '0');
      }
      if (n == 0) return bad(text, "expected digits after the decimal point");
      for (; n < 6; ++n) micros *= 10;
    }
  }
  const date::year_month_day ymd{date::year(year), date::month(static_cast<unsigned>(month)),
                                 date::day(static_cast<unsigned>(day))};
  if (!ymd.ok()) return bad(text, "no such date");
  if (hour > 23 || minute > 59 || second > 59) return bad(text, "hour, minute or second out of range");
  const auto clock_time = std::chrono::hours(hour) + std::chrono::minutes(minute) + std::chrono::seconds(second) +
                          Micros(micros);

  // The zone.
  std::string_view zone = s.substr(pos);
  if (!zone.empty() && zone.front() == ' ') zone.remove_prefix(1);
  std::optional<Micros> offset;
  if (zone == "Z" || zone == "UTC" || zone == "GMT" || zone == "z") {
    offset = Micros(0);
  } else if (!zone.empty() && (zone.front() == '+' || zone.front() == '-')) {
    const int sign = zone.front() == '-' ? -1 : 1;
    std::size_t zp = 1;
    int oh = 0, om = 0;
    if (!digits(zone, zp, 2, oh)) return bad(text, "expected an offset as ±HH, ±HHMM or ±HH:MM");
    if (zp < zone.size() && zone[zp] == ':') ++zp;
    if (zp < zone.size() && !digits(zone, zp, 2, om)) return bad(text, "expected an offset as ±HH, ±HHMM or ±HH:MM");
    if (zp != zone.size()) return bad(text, "unexpected text after the offset");
    if (oh > 15 || om > 59) return bad(text, "offset out of range");
    offset = Micros(sign * (int64_t{oh} * 3600 + int64_t{om} * 60) * 1000000);
  } else if (!zone.empty()) {
    return bad(text, "unknown zone \"" + std::string(zone) + "\" (give Z, UTC or a numeric offset such as +02:00)");
  }

  std::chrono::sys_time<Micros> utc;
  if (offset) {
    utc = std::chrono::time_point_cast<Micros>(date::sys_days(ymd)) + clock_time - *offset;
  } else {
    const date::local_time<Micros> local{std::chrono::time_point_cast<Micros>(date::local_days(ymd)).time_since_epoch() +
                                         clock_time};
    try {
      utc = local_zone()->to_sys(local);
    } catch (const date::nonexistent_local_time&) {
      return bad(text, "that local time does not exist (a daylight-saving change); give an offset or Z");
    } catch (const date::ambiguous_local_time&) {
      return bad(text, "that local time occurs twice (a daylight-saving change); give an offset or Z");
    } catch (const std::exception& e) {
      return bad(text, std::string("no time zone is known to read local time (") + e.what() +
                           "); give an offset or Z");
    }
  }
  // In microseconds throughout: system_clock's nanoseconds would overflow past the year 2262.
  return utc.time_since_epoch().count() - kPostgresEpochUnixMicros;
}

int64_t time_option(std::string_view option, std::string_view text) {
  auto parsed = parse_user_time(text);
  if (!parsed) {
    throw Error(ErrorCode::kUsage, std::string(option) + ": " + parsed.error(),
                "write times like 2026-11-21T04:15:59.705207Z or '2026-11-21 04:15:59+02' (no zone: local time)");
  }
  return *parsed;
}

std::string print_time(int64_t pg_timestamp) {
  return date::format("%FT%TZ", std::chrono::sys_time<Micros>(Micros(pg_timestamp + kPostgresEpochUnixMicros)));
}

std::string postgres_time_literal(int64_t pg_timestamp) {
  return date::format("%F %T+00", std::chrono::sys_time<Micros>(Micros(pg_timestamp + kPostgresEpochUnixMicros)));
}

}  // namespace walvault
