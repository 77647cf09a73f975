#include <CLI/CLI.hpp>
#include <memory>

#include "cli/registry.hpp"
#include "command/events.hpp"

namespace walvault::cli {

void register_events(CLI::App& app, Action& selected) {
  auto o = std::make_shared<command::EventsOptions>();
  CLI::App* sub = app.add_subcommand(
      "events",
      "List destructive events (drops, truncates, mass deletes/updates, column drops, rewriting type changes), grouped "
      "into incidents, each with its restore command");
  add_repo_option(*sub, o->repo);
  sub->add_option("--since", o->since, "Only events committed at or after this time");
  sub->add_option("--until", o->until, "Only events committed at or before this time");
  sub->add_option("--kind", o->kind,
                  "Only this kind: drop_database, drop_table, truncate, mass_delete, mass_update, drop_column, "
                  "alter_type");
  sub->add_option("--incident-gap", o->incident_gap,
                  "Seconds between events of one database that make them one incident (default 10)");
  sub->add_option("--table", o->table,
                  "Only events that hit this table: schema.table, or a table name in any schema (never drop_database)");
  sub->add_option("--database", o->database, "Only events in (or dropping) the database of this name");
  sub->add_option("--limit", o->limit,
                  "Only the newest N events of the selection (still listed oldest first)");
  add_json_flag(*sub, o->json);
  sub->callback([o, &selected] { selected = [o] { return command::run_events(*o); }; });
}

}  // namespace walvault::cli
