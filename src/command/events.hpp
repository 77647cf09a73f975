// `walvault events`: the destructive events the streamer saw (drop_database, drop_table, truncate, mass_delete,
// mass_update, drop_column, alter_type), oldest first, each with the command that restores to just before it.
//
// Read from the index alone (restore/plan_inputs.hpp read_events). Names: tables as "schema.table" and the
// database by name when the streamer's relation-name snapshots knew them (archive/relation_names.hpp). A name no
// snapshot knew is printed with its oid and why it is unknown (no snapshot before the event, or the relation or
// database was created after the last snapshot before it, e.g. created and dropped between two snapshots).
// Filters: --since/--until (commit time), --kind, --table (see table_matches), --database (its name), and --limit N,
// which keeps the newest N events of the selection (still printed oldest first).
// --json prints an array of objects with exactly the fields id, kind, commit_time, xid, lsn, timeline, database
// (name, null when unknown), database_oid, tables (the names of the tables it hit, as the human form shows them),
// relations (every relation file: {relfilenode, name}, name null when unknown; for drop_column the tables' oids),
// names_unknown (why a name is unknown, else null), rows (null except for mass_delete/mass_update), restore_command,
// incident (the id of the incident it belongs to: restore/incidents.hpp, grouped with --incident-gap, default 10 s,
// over every event, not only the selection), columns (drop_column / alter_type: [{table, attnum}] plus type_oid and
// typmod when known, else null). Ids are stable (restore/plan.hpp). In the text form an incident of more than one event
// gets a header line with its restore command (--before-incident) above its first listed event.
// Errors: kUsage (bad --since/--until/--kind/--limit/--incident-gap), kRepository, kCorrupt (damaged index).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "repo/address.hpp"
#include <string_view>
#include <vector>

namespace walvault::command {

struct EventsOptions {
  repo::RepoAddress repo;
  std::optional<std::string> since;
  std::optional<std::string> until;
  std::optional<std::string> kind;
  std::optional<std::string> table;
  std::optional<std::string> database;
  std::optional<int64_t> limit;
  double incident_gap = 10;  // --incident-gap SECONDS (restore/incidents.hpp)
  bool json = false;
};

int run_events(const EventsOptions& options);

// ---- the selection (pure)

struct RelationView {
  uint32_t relfilenode = 0;         // for drop_column the table's oid (its files stay)
  std::optional<std::string> name;  // "schema.table"
};

struct ColumnView {
  uint32_t rel = 0;                  // the table's oid, 0 when unknown
  std::optional<std::string> table;  // "schema.table" when known
  int16_t attnum = 0;                // 0 when unknown
  std::optional<uint32_t> type_oid;
  std::optional<int32_t> typmod;
};

struct EventView {
  std::string id;
  std::string kind;
  std::string commit_time;
  uint32_t xid = 0;
  std::string lsn;
  uint32_t timeline = 0;
  std::optional<std::string> database;
  uint32_t database_oid = 0;
  std::vector<std::string> tables;      // names of the tables the event hit
  std::vector<RelationView> relations;  // every relation file of the event
  std::optional<std::string> names_unknown;
  std::optional<uint64_t> rows;
  std::vector<ColumnView> columns;
  std::string restore_command;
  std::string incident;        // the id of its incident (restore/incidents.hpp)
  size_t incident_events = 1;  // how many events the incident has
};

struct EventFilter {
  std::optional<std::string> table;
  std::optional<std::string> database;
  std::optional<uint64_t> limit;  // > 0
};

// Whether the table named `shown` ("schema.table") is the one the user asked for: `wanted` is either the whole
// "schema.table" or the bare table name, in any schema. Names compare exactly (as the catalog stores them).
[[nodiscard]] bool table_matches(std::string_view shown, std::string_view wanted);
// The events (oldest first) that pass the filter: a table filter keeps events with a table of that name (never a
// drop_database, which names none), a database filter those of the database of that name; then the newest
// `limit`. Events whose names are unknown match no name.
[[nodiscard]] std::vector<EventView> select_events(std::vector<EventView> events, const EventFilter& filter);

}  // namespace walvault::command
