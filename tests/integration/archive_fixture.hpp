// Test support for the verify / expire / drill / fault tests: a real PostgreSQL cluster of the version under test
// with a walvault repository that a real `walvault stream` process fills.
//
// ArchivedCluster runs `walvault init` against a fresh PgCluster (repository at <work_dir>/repo unless told
// otherwise) and can start, kill and restart the streamer, take backups, and wait until the repository durably
// holds the server's WAL. Everything runs the real binary (WALVAULT_BINARY) as the postgres OS user when root.
// The streamer is stopped and the cluster removed on destruction. Failures throw std::runtime_error.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "pg_cluster.hpp"
#include "process.hpp"
#include "wal/lsn.hpp"

namespace walvault::test {

class ArchivedCluster {
 public:
  // repo: the repository directory ("" = <work_dir>/repo); it must be writable by the postgres OS user.
  explicit ArchivedCluster(ClusterOptions options = {}, std::string repo = "");
  ~ArchivedCluster();
  ArchivedCluster(const ArchivedCluster&) = delete;
  ArchivedCluster& operator=(const ArchivedCluster&) = delete;

  [[nodiscard]] PgCluster& pg() { return cluster_; }
  [[nodiscard]] const std::string& repo() const { return repo_; }

  // Runs `walvault <args...>` (as postgres when root), with extra "NAME=value" environment entries.
  [[nodiscard]] ProcessResult walvault(const std::vector<std::string>& args,
                                       const std::vector<std::string>& env = {}) const;

  void start_streamer();
  // Sends sig to the streamer and waits for it to exit.
  void stop_streamer(int sig);
  [[nodiscard]] bool streamer_running();
  [[nodiscard]] std::string streamer_log() const;

  // The end of WAL the repository holds durably (tip/stream.state), 0/0 when unknown.
  [[nodiscard]] wal::Lsn durable_lsn() const;
  // Waits until the repository durably holds the server's WAL up to its current insert position.
  void wait_durable(std::chrono::seconds timeout = std::chrono::seconds(60));
  // Switches to a new WAL segment and waits until the one it ended is archived as a container.
  void switch_and_archive(std::chrono::seconds timeout = std::chrono::seconds(60));
  // `walvault backup --fast --json`; returns the backup id.
  std::string backup();
  // `walvault events --json` once everything the server wrote so far is durable and indexed (a checkpoint, the
  // repository durable up to it, and the second within which the index publishes).
  [[nodiscard]] ProcessResult events_json();

 private:
  PgCluster cluster_;
  std::string repo_;
  std::string log_;
  std::unique_ptr<Background> streamer_;
};

// A data directory written by `walvault restore`, started, stopped and queried as a user would: pg_ctl, and psql
// over 127.0.0.1 on its port (restore --port P or --start listen there). The server log of starts made here is
// <dir>.log. A server still running on destruction is stopped (immediately).
class RestoredServer {
 public:
  RestoredServer(std::string dir, int port) : dir_(std::move(dir)), port_(port) {}
  ~RestoredServer();
  RestoredServer(const RestoredServer&) = delete;
  RestoredServer& operator=(const RestoredServer&) = delete;

  [[nodiscard]] const std::string& dir() const { return dir_; }
  [[nodiscard]] int port() const { return port_; }
  // `pg_ctl start` (with -w -t 60 when wait); returns its result.
  ProcessResult start(bool wait) const;
  // `pg_ctl status`: a postmaster runs on the directory.
  [[nodiscard]] bool running() const;
  // psql -X -A -t -c sql; the result as it came (exit code, output, errors).
  [[nodiscard]] ProcessResult psql(const std::string& sql, const std::string& db = "postgres") const;
  // The first line psql printed; throws std::runtime_error when psql fails.
  [[nodiscard]] std::string scalar(const std::string& sql, const std::string& db = "postgres") const;
  // `pg_controldata`'s "Database cluster state" ("in production", "shut down in recovery", ...).
  [[nodiscard]] std::string cluster_state() const;

 private:
  std::string dir_;
  int port_;
};

// Flips one bit of the byte at offset in file path (as root or its owner).
void flip_byte(const std::string& path, uint64_t offset);
// Every file under dir whose name (relative to dir) starts with prefix, sorted.
std::vector<std::string> files_under(const std::string& dir, const std::string& prefix = "");

}  // namespace walvault::test
