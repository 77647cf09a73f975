// Times as users type them and as walvault prints them (howardhinnant date).
//
// parse_user_time() accepts ISO 8601 and PostgreSQL timestamptz text, so a value can be pasted from psql, the
// server log, pg_waldump or walvault's own output:
//   2026-11-21T04:15:59.705207Z        2026-11-21 04:15:59.705207+00     2026-11-21 04:15:59+05:30
//   2026-11-21 04:15:59.705207 UTC     2026-11-21T04:15:59-0800          2026-11-21 04:15
// A date, 'T' or one space, hours and minutes, optional seconds with up to 6 fraction digits, then an optional
// zone: 'Z', "UTC"/"GMT" (optionally after a space), or a numeric offset ±HH, ±HHMM or ±HH:MM. Without a zone
// the text is LOCAL time, in the zone of the TZ environment variable or else the system's (/etc/localtime),
// as PostgreSQL's timestamptz input does with its TimeZone setting; a local time that does not exist or is
// ambiguous (a daylight-saving change) is an error rather than a guess. More than 6 fraction digits are refused
// (PostgreSQL keeps microseconds). Results are PostgreSQL TimestampTz values (µs since 2000-01-01 UTC).
//
// print_time() gives ISO 8601 UTC with microseconds ("2026-11-21T04:15:59.705207Z"); postgres_time_literal()
// the form written into recovery_target_time ("2026-11-21 04:15:59.705207+00").
// Errors: parse_user_time() returns a one-line message naming the problem and throws nothing;
// time_option() throws it as walvault::Error kUsage naming the option.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "wal/expected.hpp"

namespace walvault {

[[nodiscard]] Expected<int64_t, std::string> parse_user_time(std::string_view text);
// parse_user_time() for a command-line option: throws kUsage ("--time: cannot read ...").
[[nodiscard]] int64_t time_option(std::string_view option, std::string_view text);
[[nodiscard]] std::string print_time(int64_t pg_timestamp);
[[nodiscard]] std::string postgres_time_literal(int64_t pg_timestamp);

}  // namespace walvault
