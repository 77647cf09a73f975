#include <CLI/CLI.hpp>
#include <memory>

#include "cli/registry.hpp"
#include "command/preview.hpp"

namespace walvault::cli {

void register_preview(CLI::App& app, Action& selected) {
  auto o = std::make_shared<command::PreviewOptions>();
  CLI::App* sub = app.add_subcommand(
      "preview", "Start a read-only side copy at a past point, show its tables' row counts and a psql connection");
  add_repo_option(*sub, o->repo);
  auto* time = sub->add_option("--time", o->time, "The state at this time (ISO 8601 / timestamptz)");
  auto* event = sub->add_option("--before-event", o->before_event, "The state just before this event");
  auto* incident = sub->add_option("--before-incident", o->before_incident,
                                   "The state just before the first event of this incident");
  sub->add_option("--incident-gap", o->incident_gap,
                  "Seconds between events of one database that make them one incident (default 10)");
  time->excludes(event)->excludes(incident);
  event->excludes(incident);
  sub->add_flag("--no-wait", o->no_wait, "Remove the side copy right after the report instead of waiting for Ctrl-C");
  sub->add_option("--pg-bindir", o->pg_bindir,
                  "PostgreSQL server programs of the backup's major version (default: $WALVAULT_PG_BINDIR, then the "
                  "distributions' paths, pg_config --bindir)");
  add_json_flag(*sub, o->json);
  sub->callback([o, &selected] {
    o->pg_bindir_env = pg_bindir_from_environment();
    selected = [o] { return command::run_preview(*o); };
  });
}

}  // namespace walvault::cli
