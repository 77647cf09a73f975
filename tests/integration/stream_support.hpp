// Test support for the streamer's integration tests (stream_*_test.cpp): run `walvault` against a PgCluster's
// repository, read the streamer's state, generate WAL, and compare the repository's segments with pg_wal.
// Failures are reported through Catch2 assertions; helpers throw std::runtime_error only for broken setups.
#pragma once

#include <signal.h>

#include <optional>
#include <string>
#include <vector>

#include "archive/stream_state.hpp"
#include "pg_cluster.hpp"
#include "process.hpp"
#include "wal/lsn.hpp"

namespace walvault::test {

// Runs the walvault binary as the postgres user.
ProcessResult walvault_cli(const std::vector<std::string>& args, const std::vector<std::string>& env = {});

// The streamer's state record, if written.
std::optional<archive::StreamState> stream_state(const std::string& repo);
// Waits until the repository's durable LSN reaches lsn; returns whether it did within timeout.
bool wait_durable(const std::string& repo, wal::Lsn lsn, std::chrono::milliseconds timeout);
// The server's current WAL flush position.
wal::Lsn server_lsn(const PgCluster& cluster);
// The pid in locks/stream.lock (the walvault process itself, not the runuser wrapper).
std::optional<pid_t> streamer_pid(const std::string& repo);
// Sends sig to the streamer named by the lock file.
void signal_streamer(const std::string& repo, int sig);

// A streaming standby of `primary`, built with pg_basebackup -R, on its own port (127.0.0.1, socket in the
// primary's work dir), in <primary work dir>/<name>. Stopped (immediately) when destroyed; removed with the
// primary's work dir. Failures throw std::runtime_error.
class StreamingStandby {
 public:
  explicit StreamingStandby(const PgCluster& primary, const std::string& name = "standby");
  ~StreamingStandby();
  StreamingStandby(const StreamingStandby&) = delete;
  StreamingStandby& operator=(const StreamingStandby&) = delete;

  // pg_ctl promote -w: the standby leaves recovery on a new timeline.
  void promote() const;
  [[nodiscard]] std::string conninfo() const;
  // Runs sql with psql and returns the first line it printed.
  std::string scalar(const std::string& sql) const;
  // Waits until the standby has replayed the primary's WAL up to its current flush position.
  [[nodiscard]] bool wait_replayed(const PgCluster& primary, std::chrono::milliseconds timeout) const;
  [[nodiscard]] const std::string& data_dir() const { return dir_; }
  [[nodiscard]] int port() const { return port_; }

 private:
  void pg_ctl(const std::vector<std::string>& args) const;

  std::string dir_;
  std::string log_;
  int port_;
};

struct SegmentCheck {
  std::vector<std::string> segments;  // names checked, in order
  std::vector<std::string> mismatches;
};
// Every wal/*.wvs of timeline tli decompressed and compared with pg_wal_dir/<name>; segments must be consecutive.
SegmentCheck check_segments(const std::string& repo, const std::string& pg_wal_dir, wal::TimelineId tli);
// The tip's bytes up to the durable LSN compared with the server's file; true when equal (or no tip).
bool tip_matches(const std::string& repo, const std::string& pg_wal_dir);

}  // namespace walvault::test
