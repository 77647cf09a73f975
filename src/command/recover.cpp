#include "command/recover.hpp"

#include <algorithm>
#include <map>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "common/stop_signals.hpp"
#include "pg/connection.hpp"
#include "pg/copy.hpp"
#include "pg/sql_text.hpp"
#include "recover/merge_plan.hpp"
#include "recover/merge_run.hpp"
#include "recover/table_shape.hpp"
#include "repo/repository.hpp"
#include "restore/incidents.hpp"
#include "restore/plan.hpp"
#include "restore/side_copy.hpp"

namespace walvault::command {
namespace {

using nlohmann::ordered_json;
using recover::Damage;
using recover::Presence;
using recover::TableRecovery;

using recover::Counts;

recover::ConflictPolicy parse_policy(const std::string& text) {
  if (text == "skip") return recover::ConflictPolicy::kSkip;
  if (text == "renumber") return recover::ConflictPolicy::kRenumber;
  throw Error(ErrorCode::kUsage, "--on-conflict " + text + ": not a conflict policy",
              "use skip (leave the colliding old rows in the staging schema) or renumber (give them new keys)");
}

Damage damage_of(format::EventKind kind) {
  switch (kind) {
    case format::EventKind::kTruncate: return Damage::kTruncated;
    case format::EventKind::kMassDelete: return Damage::kDeleted;
    case format::EventKind::kMassUpdate: return Damage::kUpdated;
    case format::EventKind::kDropColumn:
    case format::EventKind::kAlterType: return Damage::kAltered;
    default: return Damage::kDropped;
  }
}

// Production, checked before anything is created; returns its database.
std::string check_production(const pg::Connection& prod, const repo::RepoConfig& config, const std::string& schema) {
  const pg::Result r = prod.exec(
      "SELECT pg_is_in_recovery(), (SELECT system_identifier FROM pg_control_system()), current_database(), "
      "EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = " + pg::quote_literal(schema) + "), "
      "coalesce(current_setting(" + pg::quote_literal(restore::kSideCopySetting) + ", true), '')");
  if (!r.value(0, 4).empty()) {
    throw Error(ErrorCode::kUnsafe,
                "--into connects to a walvault side copy (" + r.value(0, 4) + "), not production: recover writes into "
                "the live primary",
                "give the connection string of the production primary, not the one preview printed");
  }
  if (r.value(0, 0) == "t") {
    throw Error(ErrorCode::kUnsafe,
                "--into connects to a server in recovery (a standby, or a side copy such as walvault preview's): "
                "recover writes into the live primary",
                "give the connection string of the production primary");
  }
  if (r.value(0, 1) != std::to_string(config.system_identifier)) {
    throw Error(ErrorCode::kUsage,
                "--into connects to another cluster (system identifier " + r.value(0, 1) + "; the repository's is " +
                    std::to_string(config.system_identifier) + ")",
                "give the connection string of the cluster this repository backs up");
  }
  if (r.value(0, 3) == "t") {
    throw Error(ErrorCode::kUnsafe, "schema " + schema + " already exists in production: recover never touches "
                "existing objects",
                "review and drop it (DROP SCHEMA " + pg::quote_identifier(schema) + " CASCADE), or stage into another "
                "with --schema NAME");
  }
  return r.value(0, 2);
}

std::string default_schema(const std::string& event_id) {
  const auto id = restore::parse_event_id(event_id);
  if (!id) {
    throw Error(ErrorCode::kUsage, event_id + ": not an event id",
                "event ids look like 1-0000000004019D50-drop_table; list them with walvault events");
  }
  char lsn[17];
  std::snprintf(lsn, sizeof lsn, "%016llx", static_cast<unsigned long long>(id->commit_lsn.value()));
  return "walvault_recovered_" + std::to_string(id->timeline.value()) + "_" + lsn;
}

std::vector<uint32_t> requested_tables(const pg::Connection& side, const std::vector<std::string>& names) {
  std::vector<uint32_t> oids;
  for (const auto& n : names) {
    const auto dot = n.find('.');
    const std::string schema = dot == std::string::npos ? "public" : n.substr(0, dot);
    const std::string table = dot == std::string::npos ? n : n.substr(dot + 1);
    const auto shape = recover::find_table_shape(side, schema, table);
    if (!shape) {
      throw Error(ErrorCode::kNotFound, "--tables: " + schema + "." + table + " did not exist just before the event",
                  "name tables as schema.table, as they were before the event");
    }
    oids.push_back(shape->oid);
  }
  return oids;
}

void print_human(const std::string& event, const restore::SideCopy& copy, const std::string& schema,
                 const std::vector<TableRecovery>& tables, const std::vector<Counts>& counts,
                 const std::string& script, bool applied, recover::ConflictPolicy policy) {
  std::printf("recover %s\n  side copy: backup %s, %s (PostgreSQL %s)\n  staged into schema %s\n", event.c_str(),
              copy.plan().backup.id.c_str(), copy.plan().description.c_str(), copy.binaries().version.version.c_str(),
              schema.c_str());
  for (size_t i = 0; i < tables.size(); ++i) {
    const auto& t = tables[i];
    const auto& c = counts[i];
    std::printf("  %s: %s, %s in production, key %s\n", t.before.display().c_str(),
                std::string(recover::damage_name(t.damage)).c_str(), std::string(recover::presence_name(t.presence)).c_str(),
                t.before.key.empty() ? "none" : t.before.key.front().c_str());
    std::printf("    %llu rows staged: %llu to %s, %llu already present, %llu conflicts (%s), %llu changed since, "
                "%llu deleted since, %llu referencing missing rows\n",
                static_cast<unsigned long long>(c.staged), static_cast<unsigned long long>(c.restore),
                t.damage == Damage::kUpdated ? "put back" : "restore", static_cast<unsigned long long>(c.present),
                static_cast<unsigned long long>(c.conflicts),
                t.renumber ? "renumbered" : (policy == recover::ConflictPolicy::kSkip ? "skipped" : "skipped: see note"),
                static_cast<unsigned long long>(c.changed), static_cast<unsigned long long>(c.deleted_since),
                static_cast<unsigned long long>(c.orphans));
    const auto keys = recover::missing_reference_keys(t);
    for (size_t k = 0; k < keys.size() && k < c.orphans_by_key.size(); ++k) {
      if (c.orphans_by_key[k] == 0) continue;
      std::printf("    %llu referencing a missing row by %s: they stay staged\n",
                  static_cast<unsigned long long>(c.orphans_by_key[k]), keys[k].c_str());
    }
    if (c.written) std::printf("    merged: %llu rows written\n", static_cast<unsigned long long>(*c.written));
    if (!t.note.empty()) std::printf("    note: %s\n", t.note.c_str());
  }
  if (applied) {
    std::printf("merge applied in one transaction. The staging schema %s stays for review (rows not merged are "
                "there); drop it when done.\n", schema.c_str());
  } else {
    std::printf("dry run: nothing outside schema %s changed. The merge --apply would run:\n%s", schema.c_str(),
                script.c_str());
  }
}

void print_json(const std::string& event, const restore::SideCopy& copy, const std::string& schema,
                const std::vector<TableRecovery>& tables, const std::vector<Counts>& counts, const std::string& script,
                bool applied, recover::ConflictPolicy policy) {
  ordered_json j;
  j["event"] = event;
  j["backup"] = copy.plan().backup.id;
  j["target"] = copy.plan().description;
  j["staging_schema"] = schema;
  j["on_conflict"] = policy == recover::ConflictPolicy::kSkip ? "skip" : "renumber";
  j["applied"] = applied;
  j["tables"] = ordered_json::array();
  for (size_t i = 0; i < tables.size(); ++i) {
    const auto& t = tables[i];
    const auto& c = counts[i];
    ordered_json by_key = ordered_json::object();
    const auto keys = recover::missing_reference_keys(t);
    for (size_t k = 0; k < keys.size() && k < c.orphans_by_key.size(); ++k) by_key[keys[k]] = c.orphans_by_key[k];
    ordered_json row = {{"table", t.before.display()},
                        {"damage", recover::damage_name(t.damage)},
                        {"production", recover::presence_name(t.presence)},
                        {"key", t.before.key},
                        {"staged", c.staged},
                        {"restore", c.restore},
                        {"present", c.present},
                        {"conflicts", c.conflicts},
                        {"renumbered", t.renumber},
                        {"changed_since", c.changed},
                        {"deleted_since", c.deleted_since},
                        {"missing_references", c.orphans},
                        {"missing_references_by_foreign_key", by_key},
                        {"lost_columns", t.lost_columns},
                        {"note", t.note}};
    row["written"] = c.written ? ordered_json(*c.written) : ordered_json(nullptr);
    j["tables"].push_back(row);
  }
  j["merge_sql"] = script;
  std::puts(j.dump(2).c_str());
}

}  // namespace

int run_recover(const RecoverOptions& options) {
  restore::refuse_root("recover");
  const recover::ConflictPolicy policy = parse_policy(options.on_conflict);
  if (options.before_event.has_value() == options.before_incident.has_value()) {
    throw Error(ErrorCode::kUsage, "recover needs one target: --before-event ID or --before-incident ID",
                "list them with walvault events");
  }
  const std::string target_id = options.before_event ? *options.before_event : *options.before_incident;
  const int64_t gap = restore::incident_gap_option(options.incident_gap);
  const std::string schema = options.schema.value_or(default_schema(target_id));
  if (schema.empty() || schema.size() > 63) {
    throw Error(ErrorCode::kUsage, "--schema: a schema name has 1 to 63 bytes", "choose a shorter name");
  }
  const repo::Repository repository = repo::open_repository(repo::absolute(options.repo));
  // The events to undo: the one named, or every event of the incident.
  std::vector<format::EventEntry> events;
  if (options.before_incident) {
    const auto incident =
        restore::find_incident(*repository.storage, repository.config.segment_size, target_id, gap);
    if (!incident) {
      throw Error(ErrorCode::kNotFound, "--before-incident " + target_id + ": no such event or incident",
                  "list them with walvault events");
    }
    events = incident->events;
  }
  const auto id = restore::parse_event_id(target_id);
  const bool drops_database = std::any_of(events.begin(), events.end(), [](const format::EventEntry& e) {
    return e.kind == format::EventKind::kDropDatabase;
  }) || (id && id->kind == format::EventKind::kDropDatabase);
  if (drops_database) {
    throw Error(ErrorCode::kUsage, "recover merges into a live database; " + target_id + " dropped the whole database",
                "restore it with walvault restore --before-event (or look first with walvault preview)");
  }
  const pg::Connection prod(options.into, pg::Mode::kRegular);
  const std::string database = check_production(prod, repository.config, schema);

  restore::SideCopyOptions side_options;
  side_options.command = "recover";
  side_options.request.kind = restore::TargetKind::kBeforeEvent;
  side_options.request.event_id = target_id;
  side_options.request.incident = options.before_incident.has_value();
  side_options.request.incident_gap_us = gap;
  side_options.pg_bindir = options.pg_bindir;
  side_options.pg_bindir_env = options.pg_bindir_env;
  const restore::SideCopy copy(repository, side_options);
  const format::EventEntry& event = *copy.plan().event;  // the incident's first
  if (events.empty()) events.push_back(event);

  std::string event_database;
  {
    const pg::Connection side_postgres(copy.conninfo("postgres"), pg::Mode::kRegular);
    const pg::Result r = side_postgres.exec("SELECT datname FROM pg_database WHERE oid = " +
                                            std::to_string(event.database_oid));
    if (r.rows() == 1) event_database = r.value(0, 0);
  }
  if (event_database != database) {
    throw Error(ErrorCode::kUsage,
                "--into connects to database " + database + ", but the event hit database " +
                    (event_database.empty() ? "oid " + std::to_string(event.database_oid) : event_database),
                "give --into the connection string of that database");
  }
  const pg::Connection side(copy.conninfo(event_database), pg::Mode::kRegular);

  // Each table with the damage of the first event that hit it (an incident's events, oldest first; a table an
  // incident truncates and then drops is recovered as dropped: the strongest damage wins).
  std::map<uint32_t, std::pair<Damage, uint32_t>> damaged;  // table oid → damage, event xid
  for (const auto& e : events) {
    for (const uint32_t oid : recover::tables_of_relations(side, e.relations)) {
      const auto [it, fresh] = damaged.try_emplace(oid, damage_of(e.kind), e.xid);
      if (!fresh && damage_of(e.kind) < it->second.first) it->second = {damage_of(e.kind), e.xid};
    }
  }
  const std::vector<uint32_t> oids = options.tables.empty() ? [&] {
    std::vector<uint32_t> all;
    for (const auto& [oid, how] : damaged) all.push_back(oid);
    return all;
  }() : requested_tables(side, options.tables);
  if (oids.empty()) {
    throw Error(ErrorCode::kNotFound, "the event names no table the side copy has (relations are known only by "
                "number, and none is a table just before the event)",
                "name the tables with --tables schema.table,...");
  }
  std::vector<TableRecovery> tables;
  for (const uint32_t oid : oids) {
    TableRecovery t;
    t.before = *recover::read_table_shape(side, oid);
    t.now = recover::find_table_shape(prod, t.before.schema, t.before.name);
    t.presence = !t.now ? Presence::kAbsent : (t.now->oid == t.before.oid ? Presence::kSame : Presence::kRecreated);
    const auto how = damaged.find(oid);  // a table named with --tables that no event hit: as the first event's
    t.damage = how != damaged.end() ? how->second.first : damage_of(events.front().kind);
    t.event_xid = how != damaged.end() ? how->second.second : events.front().xid;
    t.staging = pg::quote_qualified(schema, t.before.display());
    recover::decide_columns(t, policy);
    tables.push_back(std::move(t));
  }
  tables = recover::merge_order(std::move(tables));

  // Staging: new objects only, in one transaction, so a failure leaves no half-filled schema behind.
  (void)prod.exec("BEGIN", PGRES_COMMAND_OK);
  (void)prod.exec("CREATE SCHEMA " + pg::quote_identifier(schema), PGRES_COMMAND_OK);
  (void)prod.exec("COMMENT ON SCHEMA " + pg::quote_identifier(schema) + " IS " +
                      pg::quote_literal("walvault recover: rows as they were just before event " +
                                        target_id + " (" + copy.plan().description + ")"),
                  PGRES_COMMAND_OK);
  for (const auto& t : tables) {
    throw_if_stopped("recover");  // the staging transaction rolls back
    (void)prod.exec(recover::staging_table_sql(t), PGRES_COMMAND_OK);
    (void)pg::copy_rows(side, recover::copy_out_sql(t), prod, recover::copy_in_sql(t));
  }
  (void)prod.exec("COMMIT", PGRES_COMMAND_OK);

  const recover::Merge merge = recover::merge_statements(tables);
  const std::string script = recover::merge_script(merge);
  throw_if_stopped("recover");
  std::vector<Counts> counts;
  if (options.apply) {
    try {
      counts = recover::apply_merge(prod, tables, merge);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kConnection) throw;
      throw Error(ErrorCode::kConnection, std::string("the merge failed and was rolled back: ") + e.what(),
                  "production is unchanged outside schema " + schema + " (sequences may have moved forward, which "
                  "only leaves a gap); fix the cause and run recover again with another --schema (or drop " + schema +
                  " first)");
    }
  } else {
    counts = recover::read_counts(prod, tables);
  }
  if (options.json) {
    print_json(target_id, copy, schema, tables, counts, script, options.apply, policy);
  } else {
    print_human(target_id, copy, schema, tables, counts, script, options.apply, policy);
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace walvault::command
