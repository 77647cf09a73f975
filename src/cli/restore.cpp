#include <CLI/CLI.hpp>
#include <memory>

#include "cli/registry.hpp"
#include "command/restore.hpp"

namespace walvault::cli {

void register_restore(CLI::App& app, Action& selected) {
  auto o = std::make_shared<command::RestoreOptions>();
  CLI::App* sub = app.add_subcommand("restore", "Restore a new data directory to any instant the repository can reach");
  add_repo_option(*sub, o->repo);
  sub->add_option("--target-dir", o->target_dir, "Data directory to create (must not exist, or be empty)")->required();
  auto* time = sub->add_option("--time", o->time,
                               "The state at this instant (ISO 8601 / timestamptz text; no zone = local time)");
  auto* lsn = sub->add_option("--lsn", o->lsn, "Stop after the first record at or after this LSN");
  auto* xid = sub->add_option("--xid", o->xid, "The state just after this transaction committed");
  auto* event = sub->add_option("--before-event", o->before_event,
                                "The state just before this event (an id from 'walvault events')");
  auto* incident = sub->add_option("--before-incident", o->before_incident,
                                   "The state just before the first event of this incident (its id, or the id of "
                                   "any of its events, from 'walvault events')");
  sub->add_option("--incident-gap", o->incident_gap,
                  "Seconds between events of one database that make them one incident (default 10)");
  auto* latest = sub->add_flag("--latest", o->latest, "Replay everything the repository holds");
  for (auto* a : {time, lsn, xid, event, incident, latest}) {
    for (auto* b : {time, lsn, xid, event, incident, latest}) {
      if (a != b) a->excludes(b);
    }
  }
  sub->add_option("--timeline", o->timeline, "Follow this timeline's branch (default: the newest)");
  sub->add_option("--target-action", o->target_action, "What the server does at the target")
      ->check(CLI::IsMember({"promote", "pause", "shutdown"}))
      ->default_val("promote");
  sub->add_flag("--dry-run", o->dry_run, "Print the plan and stop; nothing is written");
  sub->add_flag("--start", o->start, "Start PostgreSQL on the restored directory and wait until the target is reached");
  sub->add_option("--port", o->port, "Port for the restored server (with --start: default a free one)")
      ->check(CLI::Range(1, 65535));
  sub->add_option("--backup", o->backup,
                  "Start from this backup (default: the newest that reaches the target and verify found undamaged)");
  sub->add_option("--owner", o->owner, "As root: give the restored directory to this user (who runs PostgreSQL)");
  sub->add_option("--pg-bindir", o->pg_bindir,
                  "PostgreSQL server programs (pg_ctl, postgres) of the backup's major version, for --start "
                  "(default: $WALVAULT_PG_BINDIR, then /usr/lib/postgresql/N/bin, /usr/pgsql-N/bin, pg_config --bindir)");
  sub->add_option("--prefetch", o->prefetch, "Segments wal-fetch decompresses ahead of PostgreSQL")
      ->default_val(8)
      ->check(CLI::Range(0, 256));
  add_json_flag(*sub, o->json);
  sub->callback([o, &selected] {
    o->pg_bindir_env = pg_bindir_from_environment();
    selected = [o] { return command::run_restore(*o); };
  });
}

}  // namespace walvault::cli
