// Test support: a throwaway PostgreSQL 15 cluster.
//
// The constructor runs initdb into a fresh temp directory and starts the server listening on 127.0.0.1 only,
// on a free port, with wal_level=replica, room for wal senders and slots, and trust auth for loopback
// (replication included). As root, the server runs as the postgres OS user. The destructor stops it and removes
// the directory; a watchdog process does the same if the test process dies (a crash, ctest's timeout kill).
// If PostgreSQL 15 is missing, the constructor throws: integration tests fail, they never skip.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace walvault::test {

struct ClusterOptions {
  int wal_segment_size_mb = 16;
  std::vector<std::string> settings;  // extra postgresql.conf lines, e.g. "wal_level = logical"
  bool start = true;
  // Server programs (initdb, pg_ctl, postgres) of another major, e.g. /opt/walvault-pg/17/bin; "" = pg_bindir().
  // Client programs (run_pg_program) stay PostgreSQL 15's.
  std::string bindir = {};
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

  // Runs a PostgreSQL 15 program (pg_controldata, pg_waldump, pgbench, ...) as the server's OS user.
  struct Output {
    int exit_code;
    std::string out;
    std::string err;
  };
  Output run_pg_program(const std::string& program, const std::vector<std::string>& args) const;

 private:
  std::string work_dir_;
  std::string data_dir_;
  std::string bindir_;
  int port_ = 0;
  pid_t watchdog_ = -1;
};

// Directory holding the PostgreSQL 15 server programs.
std::string pg_bindir();
// A TCP port on 127.0.0.1 that was free a moment ago.
int free_port();

}  // namespace walvault::test
