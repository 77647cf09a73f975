#include <CLI/CLI.hpp>
#include <memory>

#include "cli/registry.hpp"
#include "command/recover.hpp"

namespace walvault::cli {

void register_recover(CLI::App& app, Action& selected) {
  auto o = std::make_shared<command::RecoverOptions>();
  CLI::App* sub = app.add_subcommand(
      "recover", "Put the rows an event destroyed back into the live database (staged, reported; merged with --apply)");
  add_repo_option(*sub, o->repo);
  auto* event = sub->add_option("--before-event", o->before_event, "The event whose damage to undo (from walvault events)");
  auto* incident = sub->add_option("--before-incident", o->before_incident,
                                   "Undo every event of this incident (its id, or any of its events' ids)");
  event->excludes(incident);
  sub->add_option("--incident-gap", o->incident_gap,
                  "Seconds between events of one database that make them one incident (default 10)");
  sub->add_option("--into", o->into, "Connection string of the production database the event hit")->required();
  sub->add_option("--tables", o->tables, "Only these tables (schema.table, comma-separated; default: the event's)")
      ->delimiter(',');
  sub->add_option("--schema", o->schema,
                  "Staging schema to create in production (default walvault_recovered_<timeline>_<commit LSN>)");
  sub->add_option("--on-conflict", o->on_conflict,
                  "Rows whose keys the application reused since: skip (leave them staged, the default) or renumber "
                  "(restore them under new keys)");
  sub->add_flag("--apply", o->apply, "Run the merge (one transaction); without it nothing outside the staging schema "
                "changes");
  sub->add_option("--pg-bindir", o->pg_bindir,
                  "PostgreSQL server programs of the backup's major version, for the side copy (default: "
                  "$WALVAULT_PG_BINDIR, then the distributions' paths, pg_config --bindir)");
  add_json_flag(*sub, o->json);
  sub->callback([o, &selected] {
    o->pg_bindir_env = pg_bindir_from_environment();
    selected = [o] { return command::run_recover(*o); };
  });
}

}  // namespace walvault::cli
