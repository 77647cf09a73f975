// `walvault recover`: put the rows an event destroyed back into the live database, next to everything written
// since, while the application keeps running.
//
//   1. Refusals first, before anything is created: --into must reach the primary of the repository's cluster (a
//      walvault side copy, such as `walvault preview`'s, or a server in recovery, such as a standby, is kUnsafe;
//      another cluster kUsage), in the database the event hit, and the staging schema must not exist (kUnsafe: recover never
//      touches existing objects). A drop_database event has no live database to merge into (kUsage: restore it).
//   2. A side copy restored to just before the event (restore/side_copy.hpp), promoted (a copy paused there would
//      still hold the destroying transaction's locks on the very tables to read), private, only read.
//   With --before-incident, the side copy stops before the incident's first event, and the tables are those of
//   every event of the incident, each with the strongest damage any of them did.
//   3. The tables the event damaged (the relations it names, resolved in the side copy's catalog, which is the
//      catalog of just before the event), or --tables; each compared with production by oid: the same table,
//      recreated since, or absent.
//   4. Every row of each such table is copied from the side copy into production's staging schema
//      (walvault_recovered_<timeline>_<commit LSN> unless --schema), one table per damaged table, named
//      "schema.table". Nothing outside that schema changes.
//   5. The report, per table, from recover/merge_plan.hpp's predicates: rows to restore, already present,
//      conflicts (keys reused since), changed since (left alone), deleted since, references to missing rows;
//      then the merge's SQL.
//   6. --apply (recover/merge_run.hpp): the sequences of production's tables moved past every staged key and
//      committed, the transactions open then waited out (one may hold an old key), then the merge in one
//      transaction (lock_timeout 10 s, so it never queues the application's writes behind it for long), which
//      writes exactly the rows it counts in its own snapshot, and runs again when the application's write collides
//      with it. The report gives those counts and the rows written. The staging schema stays, holding what was not
//      merged.
// Production is only ever read and written through ordinary connections: staging creates new objects, the merge
// takes the locks of its INSERTs and UPDATEs (and, for a table created again, of adding its foreign keys).
//
// Output: human text or --json. Exit 0 when the report (and the merge, every counted row written) completed.
// Errors: kUsage, kUnsafe (also: transactions older than the sequences' move still open after 60 s), kConnection
// (the merge failed: rolled back, production unchanged outside the staging schema but for sequences moved forward),
// kInternal (the merge would have written other rows than counted: rolled back), and the side copy's
// (kNotRestorable, kNotFound, ...).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "repo/address.hpp"

namespace walvault::command {

struct RecoverOptions {
  repo::RepoAddress repo;
  std::optional<std::string> before_event;     // --before-event ID
  std::optional<std::string> before_incident;  // --before-incident ID: every event of the incident (restore/incidents.hpp)
  double incident_gap = 10;                    // --incident-gap SECONDS
  std::string into;                       // --into CONNSTR: production
  std::vector<std::string> tables;        // --tables schema.table,... (default: the event's)
  std::optional<std::string> schema;      // --schema NAME: the staging schema
  std::string on_conflict = "skip";       // --on-conflict skip|renumber
  bool apply = false;                     // --apply
  std::optional<std::string> pg_bindir;      // --pg-bindir DIR
  std::optional<std::string> pg_bindir_env;  // WALVAULT_PG_BINDIR
  bool json = false;
};

int run_recover(const RecoverOptions& options);

}  // namespace walvault::command
