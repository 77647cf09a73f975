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
// Errors: kRepository when there is no repository.
#pragma once

#include <string>

namespace walvault::command {

struct StatusOptions {
  std::string repo;
  bool json = false;
  bool prometheus = false;
};

int run_status(const StatusOptions& options);

}  // namespace walvault::command
