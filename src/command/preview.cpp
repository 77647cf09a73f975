#include "command/preview.hpp"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "common/stop_signals.hpp"
#include "pg/connection.hpp"
#include "pg/table_rows.hpp"
#include "repo/repository.hpp"
#include "restore/incidents.hpp"
#include "restore/side_copy.hpp"

namespace walvault::command {

using nlohmann::ordered_json;

int run_preview(const PreviewOptions& options) {
  restore::refuse_root("preview");
  restore::TargetRequest request =
      restore::side_copy_target(options.time, options.before_incident ? options.before_incident : options.before_event);
  request.incident = options.before_incident.has_value();
  request.incident_gap_us = restore::incident_gap_option(options.incident_gap);
  if (request.kind == restore::TargetKind::kLatest) {
    throw Error(ErrorCode::kUsage, "preview needs a target",
                "give --before-event ID or --before-incident ID (walvault events), or --time T");
  }
  (void)install_stop_handlers();  // from the start: a Ctrl-C during the restore still removes the copy
  const repo::Repository repository = repo::open_repository(repo::absolute(options.repo));
  restore::SideCopyOptions side;
  side.command = "preview";
  side.request = request;
  side.pg_bindir = options.pg_bindir;
  side.pg_bindir_env = options.pg_bindir_env;
  const restore::SideCopy copy(repository, side);

  ordered_json j;
  j["target"] = copy.plan().description;
  j["backup"] = copy.plan().backup.id;
  j["pg_version"] = copy.binaries().version.version;
  j["data_directory"] = copy.data_dir();
  j["databases"] = ordered_json::array();
  const pg::Connection postgres(copy.conninfo("postgres"), pg::Mode::kRegular);
  (void)postgres.exec("ALTER SYSTEM SET default_transaction_read_only = on", PGRES_COMMAND_OK);
  (void)postgres.exec("SELECT pg_reload_conf()");
  for (const auto& db : pg::connectable_databases(postgres)) {
    const pg::Connection conn(copy.conninfo(db), pg::Mode::kRegular);
    ordered_json tables = ordered_json::object();
    for (const auto& t : pg::count_table_rows(conn)) {
      tables[t.table] = t.rows ? ordered_json(*t.rows) : ordered_json(nullptr);
    }
    j["databases"].push_back({{"name", db}, {"conninfo", copy.conninfo(db)}, {"tables", tables}});
  }
  if (options.json) {
    j["waiting"] = !options.no_wait;
    std::puts(j.dump(2).c_str());
  } else {
    std::printf("preview of %s\n  %s\n  backup %s, PostgreSQL %s, a private copy, read-only by default\n",
                repository.path.c_str(), copy.plan().description.c_str(), copy.plan().backup.id.c_str(),
                copy.binaries().version.version.c_str());
    for (const auto& db : j["databases"]) {
      std::printf("  database %s: psql \"%s\"\n", db["name"].get<std::string>().c_str(),
                  db["conninfo"].get<std::string>().c_str());
      for (const auto& [table, rows] : db["tables"].items()) {
        std::printf("    %-40s %s\n", table.c_str(), rows.is_null() ? "count failed" : rows.dump().c_str());
      }
    }
    std::printf(options.no_wait ? "removing the side copy (--no-wait)\n"
                                : "the side copy runs until Ctrl-C (or SIGTERM); then it is stopped and removed\n");
  }
  std::fflush(stdout);
  if (!options.no_wait) wait_for_stop();
  return 0;
}

}  // namespace walvault::command
