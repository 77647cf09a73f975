// `walvault events`: the destructive events the streamer saw (drop_database, drop_table, truncate, mass_delete,
// mass_update), oldest first, each with the command that restores to just before it.
//
// Read from the index alone (restore/plan_inputs.hpp read_events). Names: tables as "schema.table" and the
// database by name when the streamer's relation-name snapshots knew them, as oids otherwise. --json prints an
// array of objects with exactly the fields id, kind, commit_time, xid, lsn, timeline, database, tables, rows,
// restore_command (rows is null except for mass_delete/mass_update). Ids are stable (restore/plan.hpp).
// Errors: kUsage (bad --since/--until/--kind), kRepository, kCorrupt (damaged index).
#pragma once

#include <optional>
#include <string>

namespace walvault::command {

struct EventsOptions {
  std::string repo;
  std::optional<std::string> since;
  std::optional<std::string> until;
  std::optional<std::string> kind;
  bool json = false;
};

int run_events(const EventsOptions& options);

}  // namespace walvault::command
