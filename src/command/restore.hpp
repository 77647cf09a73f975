// `walvault restore`: bring a new data directory to any instant the repository can reach.
//
// Plan first (restore/plan_inputs.hpp, restore/plan.hpp): the newest backup that reaches the target, the WAL
// from its start to the target with no gap on the right timeline, and a target inside the restorable window;
// every refusal happens here, before any disk is touched. --dry-run prints the plan (--json: as JSON) and
// stops. Then execute (restore/execute.hpp): extract and verify the backup into --target-dir (which must not
// exist or be empty), write the recovery settings and recovery.signal, fsync. --start then runs PostgreSQL on
// it (--port, default a free one; loopback and a Unix socket in the data directory only) and waits until the
// target is reached and the server is consistent, reporting how long replay took. Its pg_ctl and postgres are the
// backup's major version (restore/pg_binaries.hpp: --pg-bindir, WALVAULT_PG_BINDIR, the distributions' paths,
// pg_config), found while planning: without them --start is refused before anything is written. Without --start
// nothing is run, so none are needed, but a --pg-bindir of the wrong version is still refused.
//
// Safety: the restored copy gets archive_mode = off and no primary_conninfo, so it can neither push WAL into
// any archive nor follow the production server; without --port it keeps the backup's port, so starting it
// beside the production server fails instead of colliding. Run it as the data directory's owner: PostgreSQL
// refuses root, and --start refuses it too; as root without --start, --owner USER gives the directory to USER
// (without it, root is refused: a root-owned data directory cannot be started). Every precondition (--start's
// port, socket path and user, the directory empty and writable, --owner) is checked before anything is written.
// Errors: kUsage (also: no server programs of the backup's version), kRepository, kNotRestorable, kNotFound,
// kUnsafe, kCorrupt, kIo (see README "Exit codes").
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "repo/address.hpp"

namespace walvault::command {

struct RestoreOptions {
  repo::RepoAddress repo;
  std::string target_dir;
  std::optional<std::string> time;
  std::optional<std::string> lsn;
  std::optional<uint32_t> xid;
  std::optional<std::string> before_event;
  std::optional<std::string> before_incident;  // --before-incident ID (restore/incidents.hpp)
  double incident_gap = 10;                    // --incident-gap SECONDS
  bool latest = false;
  std::optional<uint32_t> timeline;
  std::optional<std::string> backup;  // --backup ID
  std::string target_action = "promote";
  bool dry_run = false;
  bool start = false;
  std::optional<int> port;
  std::optional<std::string> pg_bindir;      // --pg-bindir DIR
  std::optional<std::string> pg_bindir_env;  // WALVAULT_PG_BINDIR
  uint32_t prefetch = 8;
  bool json = false;
  std::optional<std::string> owner;  // --owner USER: as root, the user the restored directory is given to
};

int run_restore(const RestoreOptions& options);

}  // namespace walvault::command
