// libpq, wrapped: RAII connections and results, in regular or physical-replication mode.
//
// Connection owns a PGconn for its lifetime; Result owns a PGresult. Every failure throws walvault::Error with
// ErrorCode::kConnection, the server's message, and retryable = true when the connection itself was lost (the
// streamer reconnects on those). Replication commands use the simple query protocol only, as the walsender
// requires. Connection strings never need a password: libpq reads PG* variables and ~/.pgpass.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "common/error.hpp"
#include "pg/libpq.hpp"
#include "wal/lsn.hpp"

namespace walvault::pg {

class Result {
 public:
  Result() = default;
  explicit Result(PGresult* res) : res_(res) {}

  [[nodiscard]] PGresult* get() const { return res_.get(); }
  [[nodiscard]] ExecStatusType status() const { return libpq().PQresultStatus(res_.get()); }
  [[nodiscard]] int rows() const { return libpq().PQntuples(res_.get()); }
  [[nodiscard]] int columns() const { return libpq().PQnfields(res_.get()); }
  [[nodiscard]] bool is_null(int row, int col) const { return libpq().PQgetisnull(res_.get(), row, col) != 0; }
  [[nodiscard]] std::string value(int row, int col) const { return libpq().PQgetvalue(res_.get(), row, col); }
  // The value as an integer; throws kConnection when it is not one.
  [[nodiscard]] int64_t integer(int row, int col) const;
  // The rows an INSERT, UPDATE or DELETE wrote (PQcmdTuples); throws kConnection when the server said none.
  [[nodiscard]] uint64_t rows_written() const;
  // The column named `name`; throws kConnection if the server sent no such column.
  [[nodiscard]] int column(const char* name) const;

 private:
  struct Clear {
    void operator()(PGresult* r) const { libpq().PQclear(r); }
  };
  std::unique_ptr<PGresult, Clear> res_;
};

enum class Mode { kRegular, kPhysicalReplication };

// What IDENTIFY_SYSTEM reports.
struct SystemIdentity {
  uint64_t system_identifier = 0;
  wal::TimelineId timeline;
  wal::Lsn flush_lsn;  // the server's current WAL flush position
};

class Connection {
 public:
  // Connects; throws kConnection with the server's reason and a hint.
  Connection(const std::string& conninfo, Mode mode);

  [[nodiscard]] PGconn* get() const { return conn_.get(); }
  [[nodiscard]] int server_version() const { return libpq().PQserverVersion(conn_.get()); }

  // Runs one command and expects `expected` (PGRES_TUPLES_OK or PGRES_COMMAND_OK); throws otherwise.
  Result exec(const std::string& sql, ExecStatusType expected = PGRES_TUPLES_OK) const;

  [[nodiscard]] SystemIdentity identify_system() const;
  // SHOW wal_segment_size, in bytes ("16MB" → 16777216).
  [[nodiscard]] uint32_t wal_segment_size() const;

  // The last libpq error message, one line.
  [[nodiscard]] std::string error_message() const;
  // Throws kConnection for a failed operation `what`; retryable when the connection is gone.
  [[noreturn]] void fail(const std::string& what, ErrorCause cause = ErrorCause::kUnspecified) const;

 private:
  struct Finish {
    void operator()(PGconn* c) const { libpq().PQfinish(c); }
  };
  std::unique_ptr<PGconn, Finish> conn_;
};

// Parses a GUC size with unit as SHOW prints it ("16MB", "1GB", "512kB") into bytes.
[[nodiscard]] std::optional<uint64_t> parse_size_with_unit(const std::string& text);

}  // namespace walvault::pg
