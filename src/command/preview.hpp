// `walvault preview`: look at the past before recovering it. A side copy (restore/side_copy.hpp) restored to the
// target (--before-event ID, --before-incident ID or --time T) on a private loopback port, promoted (paused just before an event it would
// still hold the destroying transaction's locks on the tables to look at), with default_transaction_read_only on.
// preview prints the target, the backup, every database's tables with their row counts, and a psql-ready
// connection string per database; then it keeps the copy running until it gets SIGINT (Ctrl-C) or SIGTERM,
// and then stops and removes it. --no-wait removes it right after the report (for scripts).
// Output: human text or --json (printed before waiting). Exit 0 after a clean stop; the side copy's errors
// otherwise (kNotRestorable, kNotFound, kUsage as root, ...).
#pragma once

#include <optional>
#include <string>

#include "repo/address.hpp"

namespace walvault::command {

struct PreviewOptions {
  repo::RepoAddress repo;
  std::optional<std::string> time;          // --time T
  std::optional<std::string> before_event;  // --before-event ID
  std::optional<std::string> before_incident;  // --before-incident ID (restore/incidents.hpp)
  double incident_gap = 10;                    // --incident-gap SECONDS
  bool no_wait = false;                     // --no-wait
  std::optional<std::string> pg_bindir;
  std::optional<std::string> pg_bindir_env;
  bool json = false;
};

int run_preview(const PreviewOptions& options);

}  // namespace walvault::command
