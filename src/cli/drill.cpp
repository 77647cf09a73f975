#include <CLI/CLI.hpp>
#include <memory>

#include "cli/registry.hpp"
#include "command/drill.hpp"

namespace walvault::cli {

void register_drill(CLI::App& app, Action& selected) {
  auto options = std::make_shared<command::DrillOptions>();
  CLI::App* sub = app.add_subcommand(
      "drill", "Restore into a temporary directory, start PostgreSQL, run checks, report RTO/RPO, clean up");
  add_repo_option(*sub, options->repo);
  auto* time = sub->add_option("--time", options->time, "Restore to the state at this time (ISO 8601 / timestamptz)");
  auto* event = sub->add_option("--before-event", options->before_event, "Restore to just before this event");
  auto* incident = sub->add_option("--before-incident", options->before_incident,
                                   "Restore to just before the first event of this incident");
  sub->add_option("--incident-gap", options->incident_gap,
                  "Seconds between events of one database that make them one incident (default 10)");
  auto* latest = sub->add_flag("--latest", options->latest, "Restore to the latest point held (the default)");
  time->excludes(event)->excludes(incident)->excludes(latest);
  event->excludes(incident)->excludes(latest);
  incident->excludes(latest);
  sub->add_option("--check", options->checks,
                  "Extra SQL check (repeatable), run in database postgres: passes when it returns a first value "
                  "that is not NULL, false or 0");
  sub->add_option("--pg-bindir", options->pg_bindir,
                  "PostgreSQL server programs (pg_ctl, postgres, pg_amcheck) of the backup's major version (default: "
                  "$WALVAULT_PG_BINDIR, then /usr/lib/postgresql/N/bin, /usr/pgsql-N/bin, pg_config --bindir)");
  add_json_flag(*sub, options->json);
  sub->callback([options, &selected] {
    options->pg_bindir_env = pg_bindir_from_environment();
    selected = [options] { return command::run_drill(*options); };
  });
}

}  // namespace walvault::cli
