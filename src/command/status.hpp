// `walvault status`: is the streamer running, and how far behind the server is the repository?
//
// Reads the repository's stream lock (who holds it) and the streamer's state record (archive/stream_state.hpp),
// and asks the server for its current WAL position over a replication connection (IDENTIFY_SYSTEM); an
// unreachable server is reported, not an error. Lag: bytes = server LSN − durable LSN; seconds = 0 when durable
// has reached the server, else the time since the streamer was last caught up. Output: human text, --json
// (stable fields), or --prometheus (text exposition format, walvault_* metrics, for node_exporter's textfile
// collector). On PostgreSQL 18 and later it also reads the server's idle_replication_slot_timeout (SHOW, on the
// same connection) and warns when it is not 0 (pg/replication.hpp: the slot would be invalidated while the
// streamer is down): a "warning:" line, JSON "warnings", or a warning on stderr with --prometheus.
//
// Health, for monitoring (the exit code, JSON "health" and "reasons", walvault_health):
//   healthy  (exit 0)   nothing below;
//   degraded (exit 10)  recovery still works but something needs attention: the repository lags the server by more
//                       than --max-lag seconds, the newest backup is older than --max-backup-age hours, the server
//                       is unreachable, or the index has problems;
//   broken   (exit 11)  the repository cannot keep its promise: no streamer is running (no WAL is captured), there
//                       is no backup to restore from, the last verify found damage (or status met some), or the
//                       replication slot is missing, invalidated (it reserves
//                       no WAL: READ_REPLICATION_SLOT's restart_lsn is NULL) or ahead of the repository's durable
//                       position (something else acknowledges WAL on it).
// A repository that cannot be read is an error (kRepository, exit 3); with --prometheus the output is then the
// one line "walvault_up 0", so that a textfile collector alerts instead of reading an empty file.
// Errors: kRepository when there is no repository.
#pragma once

#include <string>

#include "repo/address.hpp"

namespace walvault::command {

enum class Health { kHealthy = 0, kDegraded = 1, kBroken = 2 };
[[nodiscard]] constexpr const char* health_name(Health h) {
  return h == Health::kHealthy ? "healthy" : h == Health::kDegraded ? "degraded" : "broken";
}
[[nodiscard]] constexpr int health_exit_code(Health h) {
  return h == Health::kHealthy ? 0 : h == Health::kDegraded ? 10 : 11;
}

struct StatusOptions {
  repo::RepoAddress repo;
  bool json = false;
  bool prometheus = false;
  double max_lag_seconds = 300;
  int max_backup_age_hours = 48;
};

int run_status(const StatusOptions& options);

}  // namespace walvault::command
