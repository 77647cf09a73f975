#include "command/restore.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "archive/stream_state.hpp"
#include "command/locate.hpp"
#include "common/clock.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "common/process.hpp"
#include "common/time_text.hpp"
#include "repo/lock.hpp"
#include "repo/pins.hpp"
#include "repo/repository.hpp"
#include "restore/execute.hpp"
#include "restore/incidents.hpp"
#include "restore/pg_binaries.hpp"
#include "restore/plan_inputs.hpp"

namespace walvault::command {
namespace {

using nlohmann::ordered_json;

restore::TargetRequest target_request(const RestoreOptions& o) {
  const int given = int{o.time.has_value()} + int{o.lsn.has_value()} + int{o.xid.has_value()} +
                    int{o.before_event.has_value()} + int{o.before_incident.has_value()} + int{o.latest};
  if (given != 1) {
    throw Error(ErrorCode::kUsage,
                "give exactly one target: --time, --lsn, --xid, --before-event, --before-incident or --latest",
                "'walvault events' lists events; 'walvault locate --time T' shows where a time falls");
  }
  restore::TargetRequest r;
  if (o.time) {
    r.kind = restore::TargetKind::kTime;
    r.time = time_option("--time", *o.time);
  } else if (o.lsn) {
    r.kind = restore::TargetKind::kLsn;
    const auto lsn = wal::Lsn::parse(*o.lsn);
    if (!lsn) throw Error(ErrorCode::kUsage, "--lsn: \"" + *o.lsn + "\" is not an LSN", "write it as pg_lsn does: 0/4019D50");
    r.lsn = *lsn;
  } else if (o.xid) {
    r.kind = restore::TargetKind::kXid;
    r.xid = *o.xid;
  } else if (o.before_event || o.before_incident) {
    r.kind = restore::TargetKind::kBeforeEvent;
    r.event_id = o.before_event ? *o.before_event : *o.before_incident;
    r.incident = o.before_incident.has_value();
    r.incident_gap_us = restore::incident_gap_option(o.incident_gap);
  }
  if (o.timeline) r.timeline = wal::TimelineId(*o.timeline);
  r.backup_id = o.backup;
  return r;
}

restore::TargetAction target_action(const std::string& name) {
  for (const auto a : {restore::TargetAction::kPromote, restore::TargetAction::kPause, restore::TargetAction::kShutdown}) {
    if (restore::target_action_name(a) == name) return a;
  }
  throw Error(ErrorCode::kUsage, "--target-action: unknown action \"" + name + "\"", "use promote, pause or shutdown");
}

std::string segments_text(const restore::RestorePlan& plan, uint32_t segment_size) {
  std::string out;
  for (const auto& need : plan.wal) {
    out += (out.empty() ? "" : ", ") + wal::segment_file_name(need.timeline, need.first, segment_size) + " .. " +
           wal::segment_file_name(need.timeline, need.last, segment_size);
  }
  return std::to_string(plan.segment_count) + " segment" + (plan.segment_count == 1 ? "" : "s") +
         (out.empty() ? "" : ": " + out);
}

ordered_json plan_json(const restore::RestorePlan& plan, uint32_t segment_size) {
  ordered_json j;
  j["skipped_damaged_backups"] = plan.skipped_damaged;
  j["backup"] = {{"id", plan.backup.id},
                 {"timeline", plan.backup.timeline.value()},
                 {"start_lsn", plan.backup.start_lsn.to_string()},
                 {"stop_lsn", plan.backup.stop_lsn.to_string()},
                 {"stop_time", plan.backup.stop_time}};
  j["target"] = {{"description", plan.description},
                 {"stop_lsn", plan.stop_lsn.to_string()},
                 {"timeline", plan.timeline.value()},
                 {"replay_end_min", plan.replay_end_min.to_string()},
                 {"replay_end_max", plan.replay_end_max ? ordered_json(plan.replay_end_max->to_string())
                                                        : ordered_json(nullptr)}};
  ordered_json settings = ordered_json::object();
  for (const auto& s : plan.recovery) settings[s.name] = s.value;
  j["recovery_settings"] = settings;
  ordered_json wal = ordered_json::array();
  for (const auto& need : plan.wal) {
    wal.push_back({{"timeline", need.timeline.value()},
                   {"first_segment", wal::segment_file_name(need.timeline, need.first, segment_size)},
                   {"last_segment", wal::segment_file_name(need.timeline, need.last, segment_size)}});
  }
  j["wal"] = wal;
  j["segments"] = plan.segment_count;
  j["last_replayed"] = commit_json(plan.last_replayed);
  j["first_skipped"] = commit_json(plan.first_skipped);
  j["window"] = {{"earliest", plan.window.earliest_time},
                 {"latest", plan.window.latest ? ordered_json(print_time(plan.window.latest->time)) : ordered_json(nullptr)}};
  return j;
}

std::string plan_text(const restore::RestorePlan& plan, uint32_t segment_size) {
  std::string out = "Plan:\n";
  out += "  backup    " + plan.backup.id + " (timeline " + std::to_string(plan.backup.timeline.value()) +
         ", consistent at " + plan.backup.stop_lsn.to_string() + ", " + plan.backup.stop_time + ")\n";
  for (const auto& id : plan.skipped_damaged) {
    out += "  skipped   backup " + id + ": the last 'walvault verify' found it damaged\n";
  }
  out += "  target    " + plan.description + "\n";
  for (const auto& s : plan.recovery) out += "            " + s.name + " = '" + s.value + "'\n";
  out += "  WAL       " + segments_text(plan, segment_size) + "\n";
  out += "  window    " + plan.window.text() + "\n";
  return out;
}

std::string binaries_text(const std::optional<restore::PgBinaries>& binaries) {
  if (!binaries) return {};
  return "  server    " + binaries->bindir + " (PostgreSQL " + binaries->version.version + ", " + binaries->source +
         ")\n";
}

// --latest is "everything the repository holds": say so when that may be less than the server has.
void warn_if_behind(const repo::Repository& repository) {
  constexpr auto kStale = std::chrono::seconds(60);
  if (!repo::RepositoryLock::holder(*repository.storage, repo::kStreamLockName)) {
    log::warning("the streamer is not running: --latest restores what the repository holds, and WAL the server "
                 "wrote since the streamer stopped is not in it");
    return;
  }
  const auto state = archive::read_stream_state(*repository.storage);
  const auto caught_up = state ? parse_time(state->caught_up) : std::nullopt;
  if (state && state->server_lsn > state->durable_lsn && caught_up &&
      std::chrono::system_clock::now() - *caught_up > kStale) {
    log::warning("the repository is behind the server (durable " + state->durable_lsn.to_string() + ", the server at " +
                 state->server_lsn.to_string() + ", last caught up " + state->caught_up +
                 "): --latest restores what the repository holds");
  }
}

// --before-event on a later event of an incident: the state it restores still lacks what the incident's earlier
// events destroyed (a Django migration's dropped column before its dropped tables).
void warn_if_incident_began_earlier(const repo::Repository& repository, const restore::TargetRequest& request) {
  const auto incident = restore::find_incident(*repository.storage, repository.config.segment_size, request.event_id,
                                               request.incident_gap_us);
  if (!incident || incident->events.size() < 2 ||
      restore::event_id(incident->timeline, incident->first) == request.event_id) {
    return;
  }
  log::warning("event " + request.event_id + " belongs to incident " + incident->id + " of " +
               std::to_string(incident->events.size()) + " events, whose first (" +
               restore::event_id(incident->timeline, incident->first) +
               ") came earlier: this restore keeps its damage; --before-incident " + incident->id +
               " restores to before all of them");
}

}  // namespace

int run_restore(const RestoreOptions& options) {
  const restore::TargetRequest request = target_request(options);
  const restore::TargetAction action = target_action(options.target_action);
  if (options.port && (*options.port <= 0 || *options.port > 65535)) {
    throw Error(ErrorCode::kUsage, "--port: out of range");
  }
  const std::string target_dir = std::filesystem::absolute(options.target_dir).lexically_normal().string();
  // Every precondition of the directory and of --start before anything is read or written: a refusal after an
  // extraction of hours would also leave a directory that blocks the retry.
  std::optional<int> port = options.port;
  if (options.start && !port) port = free_loopback_port();
  if (options.start) restore::check_start_preconditions(target_dir, *port);
  const bool as_root = ::geteuid() == 0;
  restore::become_owner(options.owner);
  restore::check_target_directory(target_dir);
  const repo::Repository repository = repo::open_repository(repo::absolute(options.repo));
  const uint32_t seg = repository.config.segment_size;

  if (request.kind == restore::TargetKind::kLatest) warn_if_behind(repository);
  // Planned and pinned under the pin lock, so a concurrent expire keeps the backup chosen (repo/pins.hpp).
  auto pin_lock = repository.storage->lock(repo::kPinLockName, storage::LockWait::kWait);
  const restore::RestorePlan plan = restore::make_plan(repository, request);
  if (request.kind == restore::TargetKind::kBeforeEvent && !request.incident) {
    warn_if_incident_began_earlier(repository, request);
  }
  // The server programs of the backup's version, before anything is written: --start runs them, and a --pg-bindir
  // of the wrong version is refused even without it.
  std::optional<restore::PgBinaries> binaries;
  if (options.start || options.pg_bindir) {
    restore::BinariesRequest wanted;
    wanted.major = plan.backup.pg_version / 10000;
    wanted.flag_dir = options.pg_bindir;
    if (options.start) wanted.env_dir = options.pg_bindir_env;
    binaries = restore::find_pg_binaries(wanted);
  }
  if (options.dry_run) {
    if (options.json) {
      ordered_json j = plan_json(plan, seg);
      j["target_dir"] = target_dir;
      j["pg_bindir"] = binaries ? ordered_json(binaries->bindir) : ordered_json(nullptr);
      j["dry_run"] = true;
      std::fputs((j.dump(2) + "\n").c_str(), stdout);
    } else {
      std::fputs((plan_text(plan, seg) + binaries_text(binaries) + "(dry run: nothing written)\n").c_str(), stdout);
    }
    return 0;
  }

  repo::BackupPin pin(*repository.storage, plan.backup.id,
                      "restore into " + target_dir + " (pid " + std::to_string(::getpid()) + ")");
  pin_lock.reset();

  restore::ExecuteOptions exec;
  exec.target_dir = target_dir;
  exec.pin_id = pin.id();
  exec.walvault_binary = self_executable();
  exec.action = action;
  exec.port = port;
  exec.loopback_only = options.start;
  exec.prefetch_depth = options.prefetch;
  if (!options.json) std::fputs((plan_text(plan, seg) + binaries_text(binaries)).c_str(), stdout);
  std::fflush(stdout);
  const restore::ExecuteResult done = restore::execute_plan(repository, plan, exec);
  pin.release();  // the restored server's recovery_end_command removes it when recovery is over
  char line[256];
  std::snprintf(line, sizeof line, "restored backup %s into %s: %llu files, %.1f MiB, extracted and verified in %.1f s\n",
                plan.backup.id.c_str(), target_dir.c_str(), static_cast<unsigned long long>(done.extracted.files),
                static_cast<double>(done.extracted.bytes) / (1 << 20), done.extract_time.count());
  std::string out = line;

  std::optional<restore::StartResult> started;
  if (options.start) {
    restore::StartOptions start;
    start.pg_bindir = binaries->bindir;
    start.port = *exec.port;
    start.replay_from = plan.backup.start_lsn;
    start.replay_end_min = plan.replay_end_min;
    start.replay_end_max = plan.replay_end_max;
    start.action = action;
    started = restore::start_restored_server(target_dir, start);
    std::snprintf(line, sizeof line, "target reached: server %s on port %d after %.1f s of recovery\n",
                  started->state.c_str(), *exec.port, started->elapsed.count());
    out += line;
    if (!started->stop_line.empty()) out += "  " + started->stop_line + "\n";
    if (started->replay_end) {
      out += "  replay ended at " + started->replay_end->to_string() + " (the plan requires at least " +
             plan.replay_end_min.to_string() + ")\n";
    }
  } else {
    out += "start it with: " + (as_root ? "runuser -u " + restore::shell_quote(*options.owner) + " -- " : "") +
           "pg_ctl start -D " + restore::shell_quote(target_dir) +
           (exec.port ? "" : "   (it keeps the backup's port; add --port to restore to choose one)") + "\n";
  }
  if (options.json) {
    ordered_json j = plan_json(plan, seg);
    j["target_dir"] = target_dir;
    j["pg_bindir"] = binaries ? ordered_json(binaries->bindir) : ordered_json(nullptr);
    j["dry_run"] = false;
    j["extract"] = {{"files", done.extracted.files},
                    {"bytes", done.extracted.bytes},
                    {"seconds", done.extract_time.count()}};
    if (started) {
      j["start"] = {{"port", *exec.port},
                    {"state", started->state},
                    {"recovery_seconds", started->elapsed.count()},
                    {"stop_line", started->stop_line},
                    {"replay_end", started->replay_end ? ordered_json(started->replay_end->to_string())
                                                       : ordered_json(nullptr)}};
    }
    std::fputs((j.dump(2) + "\n").c_str(), stdout);
  } else {
    std::fputs(out.c_str(), stdout);
  }
  return 0;
}

}  // namespace walvault::command
