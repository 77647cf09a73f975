#include "command/drill.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "common/process.hpp"
#include "common/stop_signals.hpp"
#include "common/time_text.hpp"
#include "pg/connection.hpp"
#include "pg/table_rows.hpp"
#include "repo/drill_record.hpp"
#include "repo/repository.hpp"
#include "restore/incidents.hpp"
#include "restore/side_copy.hpp"

namespace walvault::command {
namespace {

using nlohmann::ordered_json;

constexpr std::size_t kMaxDetail = 2000;  // bytes of a program's output kept in the report

struct CheckResult {
  std::string name;
  bool ok = false;
  bool skipped = false;
  std::string detail;
  ordered_json tables = ordered_json::object();  // rows: "schema.table" → count
  bool errored = false;  // a --check query that could not run (an SQL error): the check, not the data, is wrong
};

struct DrillReport {
  std::string backup;
  std::string target;  // the plan's description
  std::string pg_bindir;
  std::string pg_version;  // of the server programs used, e.g. "15.18"
  double rto_seconds = 0;
  std::optional<double> rpo_seconds;
  std::optional<std::string> target_time;
  std::optional<std::string> last_archived_commit;
  uint64_t wal_replayed_bytes = 0;
  std::vector<CheckResult> checks;
};

CheckResult row_counts(const restore::SideCopy& copy, const std::string& db) {
  CheckResult check{"rows in database " + db, true, false, {}, ordered_json::object(), false};
  uint64_t total = 0;
  try {
    const pg::Connection conn(copy.conninfo(db), pg::Mode::kRegular);
    const auto tables = pg::count_table_rows(conn);
    for (const auto& t : tables) {
      if (t.rows) {
        check.tables[t.table] = *t.rows;
        total += *t.rows;
      } else {
        check.ok = false;
        check.tables[t.table] = nullptr;
        if (check.detail.empty()) check.detail = t.table + ": " + t.error;
      }
    }
    if (check.ok) check.detail = std::to_string(tables.size()) + " tables, " + std::to_string(total) + " rows";
  } catch (const Error& e) {
    check.ok = false;
    check.detail = e.what();
  }
  return check;
}

CheckResult amcheck(const restore::SideCopy& copy) {
  const std::string& pg_bindir = copy.binaries().bindir;
  const std::string data_dir = copy.data_dir();
  const int port = copy.port();
  CheckResult check{"pg_amcheck", true, false, {}, ordered_json::object(), false};
  const std::string program = pg_bindir + "/pg_amcheck";
  if (::access(program.c_str(), X_OK) != 0) {
    // Said in the report, never a silent pass: the drill did not look for corruption inside the tables.
    check.skipped = true;
    check.detail = "not run, not in " + pg_bindir;
    return check;
  }
  const std::string socket = data_dir + "/.s.PGSQL." + std::to_string(port);
  const std::string host = socket.size() < 100 ? data_dir : std::string("127.0.0.1");
  const auto r = run_program({program, "--host", host, "--port", std::to_string(port), "--all", "--install-missing",
                              "--no-password"},
                             kMaxDetail);
  check.ok = r.exit_code == 0;
  check.detail = r.exit_code == 0 ? "no corruption found" : "exit code " + std::to_string(r.exit_code) + ": " + r.output;
  return check;
}

// PASSES when the query runs, returns a row, and its first value is not NULL, false or 0.
CheckResult custom_check(const restore::SideCopy& copy, const std::string& sql) {
  CheckResult check{"check: " + sql, false, false, {}, ordered_json::object(), false};
  try {
    const pg::Connection conn(copy.conninfo("postgres"), pg::Mode::kRegular);
    const pg::Result r = conn.exec(sql);
    if (r.rows() == 0 || r.columns() == 0) {
      check.detail = "returned no rows";
    } else if (r.is_null(0, 0)) {
      check.detail = "returned NULL";
    } else {
      const std::string v = r.value(0, 0);
      check.ok = v != "f" && v != "false" && v != "0";
      check.detail = "returned " + v;
    }
  } catch (const Error& e) {
    check.detail = e.what();
    check.errored = true;
  }
  return check;
}

std::optional<wal::Lsn> replayed_lsn(const restore::SideCopy& copy) {
  try {
    const pg::Connection conn(copy.conninfo("postgres"), pg::Mode::kRegular);
    const pg::Result r = conn.exec("SELECT pg_last_wal_replay_lsn()");
    if (r.rows() == 1 && !r.is_null(0, 0)) return wal::Lsn::parse(r.value(0, 0));
  } catch (const Error& e) {
    log::warning(std::string("cannot read the replayed WAL position: ") + e.what());
  }
  return std::nullopt;
}

void print_json(const DrillReport& r, bool ok) {
  ordered_json j;
  j["ok"] = ok;
  j["backup"] = r.backup;
  j["target"] = r.target;
  j["pg_bindir"] = r.pg_bindir;
  j["pg_version"] = r.pg_version;
  j["target_time"] = r.target_time ? ordered_json(*r.target_time) : ordered_json(nullptr);
  j["last_archived_commit"] = r.last_archived_commit ? ordered_json(*r.last_archived_commit) : ordered_json(nullptr);
  j["rto_seconds"] = r.rto_seconds;
  j["rpo_seconds"] = r.rpo_seconds ? ordered_json(*r.rpo_seconds) : ordered_json(nullptr);
  j["wal_replayed_bytes"] = r.wal_replayed_bytes;
  j["checks"] = ordered_json::array();
  for (const auto& c : r.checks) {
    ordered_json check = {{"name", c.name}, {"ok", c.ok}, {"skipped", c.skipped}, {"detail", c.detail}};
    if (!c.tables.empty()) check["tables"] = c.tables;
    j["checks"].push_back(check);
  }
  std::puts(j.dump(2).c_str());
}

void print_human(const DrillReport& r, bool ok) {
  std::size_t skipped = 0;
  for (const auto& c : r.checks) skipped += c.skipped ? 1 : 0;
  const std::string not_run = skipped == 0 ? "" : " (" + std::to_string(skipped) + " check(s) not run, see below)";
  std::printf("drill %s%s\n  backup %s, %s\n", ok ? "passed" : "FAILED", not_run.c_str(), r.backup.c_str(),
              r.target.c_str());
  std::printf("  server %s (PostgreSQL %s)\n", r.pg_bindir.c_str(), r.pg_version.c_str());
  std::printf("  RTO %.1f s (start to promoted server), WAL replayed %.1f MiB\n", r.rto_seconds,
              static_cast<double>(r.wal_replayed_bytes) / (1 << 20));
  if (r.rpo_seconds) {
    std::printf("  RPO %.3f s (target %s, last archived commit %s)\n", *r.rpo_seconds, r.target_time->c_str(),
                r.last_archived_commit->c_str());
  }
  for (const auto& c : r.checks) {
    std::printf("  %s %s: %s\n", c.skipped ? "skip" : (c.ok ? "ok  " : "FAIL"), c.name.c_str(), c.detail.c_str());
  }
}

// The drill itself; run_drill records its outcome. `record` gets the backup and the target once planned.
int drill(const DrillOptions& options, const repo::Repository& repository, repo::DrillRecord& record) {
  const auto started = std::chrono::steady_clock::now();
  restore::TargetRequest request =
      restore::side_copy_target(options.time, options.before_incident ? options.before_incident : options.before_event);
  request.incident = options.before_incident.has_value();
  request.incident_gap_us = restore::incident_gap_option(options.incident_gap);
  restore::SideCopyOptions side;
  side.command = "drill";
  side.request = request;
  side.pg_bindir = options.pg_bindir;
  side.pg_bindir_env = options.pg_bindir_env;
  const restore::SideCopy copy(repository, side);
  const restore::RestorePlan& plan = copy.plan();
  record.backup = plan.backup.id;
  record.message = plan.description;

  DrillReport report;
  report.rto_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  report.backup = plan.backup.id;
  report.target = plan.description;
  report.pg_bindir = copy.binaries().bindir;
  report.pg_version = copy.binaries().version.version;
  std::optional<format::TimestampTz> target_time;
  if (request.kind == restore::TargetKind::kTime) {
    target_time = request.time;
  } else if (plan.last_replayed) {
    target_time = plan.last_replayed->time;
  }
  if (target_time && plan.window.latest) {
    report.target_time = print_time(*target_time);
    report.last_archived_commit = print_time(plan.window.latest->time);
    report.rpo_seconds = static_cast<double>(std::max<int64_t>(0, plan.window.latest->time - *target_time)) / 1e6;
  }
  if (const auto replayed = replayed_lsn(copy);
      replayed && *replayed > plan.backup.start_lsn) {
    report.wal_replayed_bytes = *replayed - plan.backup.start_lsn;
  }

  const auto dbs = pg::connectable_databases(pg::Connection(copy.conninfo("postgres"), pg::Mode::kRegular));
  for (const auto& db : dbs) {
    throw_if_stopped("drill");
    report.checks.push_back(row_counts(copy, db));
  }
  throw_if_stopped("drill");
  report.checks.push_back(amcheck(copy));
  for (const auto& sql : options.checks) {
    throw_if_stopped("drill");
    report.checks.push_back(custom_check(copy, sql));
  }
  throw_if_stopped("drill");

  std::size_t failed = 0;
  std::size_t errored = 0;
  for (const auto& c : report.checks) {
    failed += c.ok || c.errored ? 0 : 1;
    errored += c.errored ? 1 : 0;
  }
  if (options.json) {
    print_json(report, failed + errored == 0);
  } else {
    print_human(report, failed + errored == 0);
  }
  std::fflush(stdout);
  if (failed > 0) {
    throw Error(ErrorCode::kCorrupt, "drill: " + std::to_string(failed) + " check(s) failed on the restored copy",
                "see the report above; the restored data or a --check query does not hold");
  }
  if (errored > 0) {
    throw Error(ErrorCode::kUsage, "drill: " + std::to_string(errored) + " --check query(ies) could not run on the "
                "restored copy (the restore itself passed every other check)",
                "see the report above for the server's error, and fix the query");
  }
  return 0;
}

}  // namespace

int run_drill(const DrillOptions& options) {
  restore::refuse_root("drill");  // before the repository is opened: nothing is written as root
  const repo::Repository repository = repo::open_repository(repo::absolute(options.repo));
  // Every outcome is recorded, so that status and the metrics show a failing drill the day it fails.
  const auto started = std::chrono::steady_clock::now();
  repo::DrillRecord record;
  // The error of a result that could not be recorded, if any.
  const auto finish = [&](bool ok, const std::string& message) -> std::optional<Error> {
    record.finished = format_time(std::chrono::system_clock::now());
    record.ok = ok;
    record.message = message;
    record.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    try {
      repo::write_drill_record(*repository.storage, record);
    } catch (const Error& e) {
      log::error(std::string("cannot record the drill's result: ") + e.what());
      return e;
    }
    return std::nullopt;
  };
  int rc = 0;
  try {
    rc = drill(options, repository, record);
  } catch (const Error& e) {
    // The drill's own failure is what the exit code says. A drill stopped by a signal proved nothing either way.
    if (e.code() != ErrorCode::kInterrupted) (void)finish(false, e.what());
    throw;
  }
  // A drill that passed but left no record would leave status and the metrics on the previous result.
  if (const auto unrecorded = finish(true, record.message)) {
    throw Error(unrecorded->code(), "the drill passed, but its result could not be recorded: " +
                                        std::string(unrecorded->what()),
                "status and the metrics still show the previous drill; " + unrecorded->hint());
  }
  return rc;
}

}  // namespace walvault::command
