// `walvault drill`: prove a repository restores, end to end, on a schedule (cron or a systemd timer in staging).
//
// It plans a restore (restore/plan_inputs.hpp: --time T, --before-event ID, or --latest, the default), finds the
// server programs of the backup's major version (restore/pg_binaries.hpp: --pg-bindir, WALVAULT_PG_BINDIR, the
// distributions' paths, pg_config; none is kUsage before anything is created), executes
// it into a new temporary directory (restore/execute.hpp: extract, verify against backup_manifest, recovery
// settings), starts PostgreSQL on it on a free loopback port (Unix socket inside the temporary directory), and
// waits until the target is reached and the server is promoted. Then it runs the checks:
//   - rows: in every database that accepts connections (templates excluded), count(*) of every ordinary table
//     outside pg_catalog, information_schema and pg_toast; fails if any count fails;
//   - pg_amcheck: `pg_amcheck --all --install-missing` (heap and B-tree checks; installing amcheck touches only
//     the throwaway copy); fails on a non-zero exit. When the bin directory has no pg_amcheck the report says so
//     and does not fail the drill ("drill passed (1 check(s) not run ...)", "skip pg_amcheck: not run, not in
//     DIR"; JSON: "skipped": true with that detail);
//   - each --check SQL, run in the "postgres" database: it PASSES when the query runs without error, returns at
//     least one row, and the first column of the first row is not NULL, false ("f"/"false") or 0.
// It reports the RTO (wall time from the drill's start to the promoted server), the RPO (the time from the
// target to the last commit the repository holds: how much a restore to that target gives up), the WAL
// replayed (bytes, from the backup's start LSN to the server's last replayed LSN) and the backup used.
// Then it stops the server and removes the temporary directory, always, also when a step fails.
//
// Runs as PostgreSQL's OS user (PostgreSQL refuses root; so does drill: kUsage). Output: human text, or --json.
// Exit: 0 when every check passes; kCorrupt (5) after the report when a check fails; otherwise the error of the
// failing step (kNotRestorable when the target cannot be reached, and so on).
#pragma once

#include <optional>
#include <string>

#include "repo/address.hpp"
#include <vector>

namespace walvault::command {

struct DrillOptions {
  repo::RepoAddress repo;
  std::optional<std::string> time;          // --time T (restore/… time text: ISO 8601 or timestamptz)
  std::optional<std::string> before_event;  // --before-event ID (from `walvault events`)
  std::optional<std::string> before_incident;  // --before-incident ID (restore/incidents.hpp)
  double incident_gap = 10;                    // --incident-gap SECONDS
  bool latest = false;                      // --latest (the default when no target is given)
  std::vector<std::string> checks;          // --check SQL, repeatable
  std::optional<std::string> pg_bindir;      // --pg-bindir DIR
  std::optional<std::string> pg_bindir_env;  // WALVAULT_PG_BINDIR
  bool json = false;
};

int run_drill(const DrillOptions& options);

}  // namespace walvault::command
