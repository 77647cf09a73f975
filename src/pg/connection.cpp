#include "pg/connection.hpp"

#include <charconv>
#include <optional>
#include <string_view>

#include "common/error.hpp"

namespace walvault::pg {
namespace {

std::string one_line(const char* message) {
  std::string s = message == nullptr ? "" : message;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (auto& c : s) {
    if (c == '\n') c = ' ';
  }
  return s;
}

// The whole of text as a number, or nullopt.
template <typename T>
std::optional<T> whole_number(const std::string& text) {
  T v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

// A failure another transaction's concurrent write caused: the transaction can run again.
ErrorCause cause_of(const Result& res) {
  const char* state = libpq().PQresultErrorField(res.get(), PG_DIAG_SQLSTATE);
  const std::string_view s = state == nullptr ? "" : state;
  return s == "23505" || s == "40001" || s == "40P01" ? ErrorCause::kConcurrentWrite : ErrorCause::kUnspecified;
}

}  // namespace

int64_t Result::integer(int row, int col) const {
  const std::string text = value(row, col);
  const auto v = whole_number<int64_t>(text);
  if (!v) {
    throw Error(ErrorCode::kConnection, "the server returned '" + text + "' where a number was expected",
                "check that the connection reaches a PostgreSQL server");
  }
  return *v;
}

uint64_t Result::rows_written() const {
  const auto v = whole_number<uint64_t>(libpq().PQcmdTuples(res_.get()));
  if (!v) {
    throw Error(ErrorCode::kConnection, "the server did not say how many rows the statement wrote",
                "check that the connection reaches a PostgreSQL server");
  }
  return *v;
}

int Result::column(const char* name) const {
  const int col = libpq().PQfnumber(res_.get(), name);
  if (col < 0) throw Error(ErrorCode::kConnection, std::string("server result has no column '") + name + "'");
  return col;
}

Connection::Connection(const std::string& conninfo, Mode mode) {
  // Parse ourselves first so a malformed string is a usage error, not a connection failure.
  char* parse_error = nullptr;
  PQconninfoOption* parsed = libpq().PQconninfoParse(conninfo.c_str(), &parse_error);
  if (parsed == nullptr) {
    const std::string reason = one_line(parse_error);
    libpq().PQfreemem(parse_error);
    throw Error(ErrorCode::kUsage, "invalid connection string: " + reason,
                "use libpq syntax, e.g. 'host=db.example port=5432 user=walvault'");
  }
  libpq().PQconninfoFree(parsed);

  const char* keys[] = {"dbname", "replication", "application_name", "fallback_application_name", nullptr};
  const char* values[] = {conninfo.c_str(), mode == Mode::kPhysicalReplication ? "true" : nullptr, nullptr,
                          "walvault", nullptr};
  if (mode != Mode::kPhysicalReplication) {
    keys[1] = "fallback_application_name";
    values[1] = "walvault";
    keys[2] = nullptr;
  }
  conn_.reset(libpq().PQconnectdbParams(keys, values, /*expand_dbname=*/1));
  if (libpq().PQstatus(conn_.get()) != CONNECTION_OK) {
    throw Error(ErrorCode::kConnection, "cannot connect to PostgreSQL: " + error_message(),
                mode == Mode::kPhysicalReplication
                    ? "check that the server runs, that the role has REPLICATION, and that pg_hba.conf has a "
                      "'replication' line for this host"
                    : "check that the server runs and that pg_hba.conf allows this connection",
                /*retryable=*/true);
  }
}

std::string Connection::error_message() const { return one_line(libpq().PQerrorMessage(conn_.get())); }

void Connection::fail(const std::string& what, ErrorCause cause) const {
  const bool lost = libpq().PQstatus(conn_.get()) != CONNECTION_OK;
  throw Error(ErrorCode::kConnection, what + " failed: " + error_message(),
              lost ? "the connection to the server was lost" : "", /*retryable=*/lost, cause);
}

Result Connection::exec(const std::string& sql, ExecStatusType expected) const {
  Result res(libpq().PQexec(conn_.get(), sql.c_str()));
  if (res.status() != expected) fail(sql.substr(0, sql.find(' ')), cause_of(res));
  return res;
}

SystemIdentity Connection::identify_system() const {
  const Result res = exec("IDENTIFY_SYSTEM");
  if (res.rows() != 1 || res.columns() < 3) {
    throw Error(ErrorCode::kConnection, "IDENTIFY_SYSTEM returned an unexpected result",
                "connect in replication mode to a PostgreSQL server");
  }
  SystemIdentity id;
  const std::string sysid = res.value(0, 0);
  const std::string tli = res.value(0, 1);
  uint32_t tli_value = 0;
  const auto [p1, e1] = std::from_chars(sysid.data(), sysid.data() + sysid.size(), id.system_identifier);
  const auto [p2, e2] = std::from_chars(tli.data(), tli.data() + tli.size(), tli_value);
  const auto lsn = wal::Lsn::parse(res.value(0, 2));
  if (e1 != std::errc() || e2 != std::errc() || !lsn) {
    throw Error(ErrorCode::kConnection, "IDENTIFY_SYSTEM returned malformed values");
  }
  id.timeline = wal::TimelineId(tli_value);
  id.flush_lsn = *lsn;
  return id;
}

uint32_t Connection::wal_segment_size() const {
  const Result res = exec("SHOW wal_segment_size");
  const auto size = res.rows() == 1 ? parse_size_with_unit(res.value(0, 0)) : std::nullopt;
  if (!size || !wal::valid_segment_size(*size)) {
    throw Error(ErrorCode::kConnection, "server reported an unusable wal_segment_size");
  }
  return static_cast<uint32_t>(*size);
}

std::optional<uint64_t> parse_size_with_unit(const std::string& text) {
  uint64_t number = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec != std::errc()) return std::nullopt;
  const std::string unit(ptr, text.data() + text.size());
  if (unit == "B" || unit.empty()) return number;
  if (unit == "kB") return number << 10;
  if (unit == "MB") return number << 20;
  if (unit == "GB") return number << 30;
  if (unit == "TB") return number << 40;
  return std::nullopt;
}

}  // namespace walvault::pg
