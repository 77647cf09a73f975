// Test support: a throwaway PostgreSQL cluster of the version under test (15 by default; 16-18 through
// WALVAULT_PG_BINDIR, see pg_bindir()).
//
// The constructor runs initdb into a fresh temp directory and starts the server listening on 127.0.0.1 only,
// on a free port, with wal_level=replica, room for wal senders and slots, and trust auth for loopback
// (replication included). As root, the server runs as the postgres OS user. The destructor stops it and removes
// the directory; a watchdog process does the same if the test process dies (a crash, ctest's timeout kill).
// If the server binaries are missing, the constructor throws: integration tests fail, they never skip.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace walvault::test {

struct ClusterOptions {
  int wal_segment_size_mb = 16;
  std::vector<std::string> settings;  // extra postgresql.conf lines, e.g. "wal_level = logical"
  bool start = true;
};

class PgCluster {
 public:
  explicit PgCluster(ClusterOptions options = {});
  ~PgCluster();
  PgCluster(const PgCluster&) = delete;
  PgCluster& operator=(const PgCluster&) = delete;

  // A scratch directory that belongs to the test and is removed with the cluster (owned by postgres as root).
  [[nodiscard]] const std::string& work_dir() const { return work_dir_; }
  [[nodiscard]] const std::string& data_dir() const { return data_dir_; }
  [[nodiscard]] int port() const { return port_; }
  // libpq connection string for database db.
  [[nodiscard]] std::string conninfo(const std::string& db = "postgres") const;

  void start();
  void stop(const std::string& mode = "fast");
  void restart();

  // Runs SQL and returns the rows, each row's columns joined by '|'. Throws on error.
  std::vector<std::string> query(const std::string& sql, const std::string& db = "postgres") const;
  // The first column of the first row.
  std::string scalar(const std::string& sql, const std::string& db = "postgres") const;
  void exec(const std::string& sql, const std::string& db = "postgres") const;

  // Runs a PostgreSQL program (pg_program(): pgbench, psql, or one of the server's own) as the server's OS user.
  struct Output {
    int exit_code;
    std::string out;
    std::string err;
  };
  Output run_pg_program(const std::string& program, const std::vector<std::string>& args) const;

 private:
  std::string work_dir_;
  std::string data_dir_;
  int port_ = 0;
  pid_t watchdog_ = -1;
};

// Directory holding the server programs under test (initdb, pg_ctl, postgres): $WALVAULT_PG_BINDIR when set, else
// Debian's PostgreSQL 15. CTest sets it to .ci/install-pg.sh's PostgreSQL 16, 17 or 18; it is the variable walvault
// itself reads for restore and drill, so the binary under test runs the same server, as a user with such an
// install would configure it.
std::string pg_bindir();
// The major version of the server under test (from `postgres --version`), e.g. 18.
int pg_major();
// A program for the server under test: psql and pgbench are Debian's PostgreSQL 15 clients, which serve 15 to 18
// (the 16-18 packages ship only the server); every other program comes from pg_bindir() and must be there.
std::string pg_program(const std::string& name);
// A TCP port on 127.0.0.1 that was free a moment ago.
int free_port();

}  // namespace walvault::test
