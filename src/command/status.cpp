#include "command/status.hpp"

#include <algorithm>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "archive/index_problems.hpp"
#include "archive/stream_state.hpp"
#include "archive/verify_state.hpp"
#include "common/clock.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "pg/replication.hpp"
#include "repo/drill_record.hpp"
#include "repo/encryption.hpp"
#include "repo/lock.hpp"
#include "repo/repository.hpp"
#include "repo/wal_chains.hpp"
#include "restore/backup_catalog.hpp"

namespace walvault::command {
namespace {

struct Status {
  std::optional<storage::LockHolder> streamer;  // set when the stream lock is held
  std::optional<archive::StreamState> state;
  std::optional<wal::Lsn> server_lsn;
  std::string server_error;
  std::optional<std::string> idle_slot_timeout;  // PostgreSQL 18+: SHOW idle_replication_slot_timeout
  std::optional<std::string> idle_slot_warning;
  uint64_t segments_archived = 0;
  std::optional<uint64_t> lag_bytes;
  std::optional<double> lag_seconds;
  std::vector<archive::IndexProblem> index_problems;  // WAL the streamer could not index
  std::string slot_problem;  // "" when the slot is fine or the server unreachable; else one line
  std::optional<wal::Lsn> slot_restart_lsn;
  std::optional<pg::SlotView> slot_view;  // pg_replication_slots, when the server could be asked
  archive::VerifyState last_verify;  // finished "" when no verify has recorded its result
  std::optional<repo::DrillRecord> last_drill;
  std::size_t backups = 0;
  std::optional<double> newest_backup_age_seconds;
  std::optional<std::string> chain_without_backup;  // repo::chain_without_backup
  uint64_t repository_bytes = 0;
  Health health = Health::kHealthy;
  std::vector<std::string> reasons;  // why not healthy, one line each, worst first
  std::vector<std::string> damaged;                    // sealed objects that failed their check, one line each
  std::optional<std::string> encryption;  // "aes-256-gcm, 1 data key, keyring keys/keyring-..." when encrypted
  std::vector<std::string> key_problems;  // an interrupted re-encryption, keyrings a rotation left behind
};

// Takes the worse of the current health and `level`, and records why.
void degrade(Status& s, Health level, std::string reason) {
  if (level == Health::kBroken) {
    s.reasons.insert(s.reasons.begin(), std::move(reason));
  } else {
    s.reasons.push_back(std::move(reason));
  }
  s.health = std::max(s.health, level);
}

void judge(Status& s, const StatusOptions& options) {
  if (!s.streamer) degrade(s, Health::kBroken, "the streamer is not running: no WAL is being captured");
  if (s.backups == 0) {
    degrade(s, Health::kBroken, "the repository holds no backup: nothing can be restored");
  } else if (*s.newest_backup_age_seconds > options.max_backup_age_hours * 3600.0) {
    degrade(s, Health::kDegraded,
            "the newest backup is " + std::to_string(static_cast<long>(*s.newest_backup_age_seconds / 3600)) +
                " hours old (more than " + std::to_string(options.max_backup_age_hours) + ")");
  }
  if (s.chain_without_backup) degrade(s, Health::kBroken, *s.chain_without_backup);
  if (!s.server_lsn) degrade(s, Health::kDegraded, "the server is unreachable: " + s.server_error);
  if (!s.slot_problem.empty()) degrade(s, Health::kBroken, s.slot_problem);
  if (s.lag_seconds && *s.lag_seconds > options.max_lag_seconds) {
    degrade(s, Health::kDegraded,
            "the repository is " + std::to_string(static_cast<long>(*s.lag_seconds)) + " s behind the server (more than " +
                std::to_string(options.max_lag_seconds) + ")");
  }
  if (!s.index_problems.empty()) {
    degrade(s, Health::kDegraded,
            std::to_string(s.index_problems.size()) + " index problem(s): commits and events missing from the index");
  }
  for (const auto& damage : s.damaged) degrade(s, Health::kBroken, damage);
  for (const auto& problem : s.key_problems) degrade(s, Health::kDegraded, problem);
  if (s.last_drill && !s.last_drill->ok) {
    degrade(s, Health::kBroken, "the last drill (" + s.last_drill->finished + ") failed: " + s.last_drill->message);
  }
  if (!s.last_verify.damaged.empty()) {
    degrade(s, Health::kBroken, "the last verify (" + s.last_verify.finished + ") found " +
                                    std::to_string(s.last_verify.damaged.size()) + " damaged object(s), the first " +
                                    s.last_verify.damaged.front() + "; 'walvault verify' lists them");
  }
}

Status collect(const repo::Repository& repository) {
  Status s;
  s.streamer = repo::RepositoryLock::holder(*repository.storage, repo::kStreamLockName);
  try {
    s.state = archive::read_stream_state(*repository.storage);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kCorrupt) throw;
    s.damaged.push_back(e.what());  // reported, never shown as positions
  }
  // One listing for both (on S3 each listing of 1000 objects is a request).
  for (const auto& object : repository.storage->list("")) {
    s.repository_bytes += object.size;
    if (object.name.starts_with("wal/") && object.name.ends_with(".wvs")) ++s.segments_archived;
  }
  s.index_problems = archive::read_index_problems(*repository.storage);
  if (const auto* encrypted = dynamic_cast<const storage::EncryptedStorage*>(repository.storage.get())) {
    const storage::DataKeys keys = encrypted->data_keys();
    const auto retired = std::count_if(keys.keys.begin(), keys.keys.end(), [](const auto& k) { return k.retired; });
    const auto keyrings = repo::keyring_objects(encrypted->inner());
    s.encryption = "aes-256-gcm, " + std::to_string(keys.keys.size()) + " data key(s), keyring " +
                   (keyrings.empty() ? std::string("none") : keyrings.back());
    if (retired > 0) {
      s.key_problems.push_back("a re-encryption was interrupted: objects may still be under " +
                               std::to_string(retired) + " retired data key(s); run 'walvault key rotate --reencrypt' "
                               "again to finish it");
    }
    if (keyrings.size() > 1) {
      s.key_problems.push_back("a key rotation was interrupted: " + keyrings.front() +
                               " still wraps the data keys under an older key; run 'walvault key rotate --new-key-file NEW' again");
    }
  }
  s.last_verify = archive::read_verify_state(*repository.storage);
  try {
    s.last_drill = repo::read_last_drill(*repository.storage);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kCorrupt) throw;
    s.damaged.push_back(e.what());
  }
  restore::BackupCatalog catalog = restore::read_backup_catalog(*repository.storage);
  for (const auto& damaged : catalog.damaged) s.damaged.push_back(damaged.what());
  const auto backups = std::move(catalog.backups);
  s.backups = backups.size();
  s.newest_backup_age_seconds = restore::newest_backup_age_seconds(backups, std::chrono::system_clock::now());
  std::vector<repo::ChainBreak> breaks;
  try {
    breaks = repo::read_chain_breaks(*repository.storage);
    s.chain_without_backup = repo::chain_without_backup(breaks, restore::backup_starts(backups));
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kCorrupt) throw;
    s.damaged.push_back(e.what());
  }
  try {
    pg::LibpqReplicationSource source(repository.config.conninfo);
    s.server_lsn = source.identify_system().flush_lsn;
    const auto info = source.read_slot(repository.config.slot);
    if (info) s.slot_restart_lsn = info->restart_lsn;
    s.slot_problem = pg::slot_problem(repository.config.slot, info,
                                      repo::slot_needed_from(archive::positioned_durable_lsn(s.state), breaks),
                                      repository.config.segment_size)
                         .value_or("");
    try {
      s.slot_view = pg::read_slot_view(repository.config.conninfo, repository.config.slot);
    } catch (const Error& e) {
      log::warning(std::string("cannot read pg_replication_slots: ") + e.what());
    }
    if (!s.slot_problem.empty() && s.slot_view) s.slot_problem += s.slot_view->describe();
    if (source.server_version() >= pg::kIdleSlotTimeoutVersion) {
      try {
        s.idle_slot_timeout = source.show("idle_replication_slot_timeout");
        s.idle_slot_warning = pg::idle_slot_timeout_warning(source.server_version(), *s.idle_slot_timeout);
      } catch (const Error& e) {
        log::warning(std::string("cannot read the server's idle_replication_slot_timeout: ") + e.what());
      }
    }
  } catch (const Error& e) {
    s.server_error = e.what();
  }
  if (s.state && s.server_lsn) {
    const wal::Lsn durable = s.state->durable_lsn;
    s.lag_bytes = *s.server_lsn > durable ? *s.server_lsn - durable : 0;
    if (*s.lag_bytes == 0) {
      s.lag_seconds = 0.0;
    } else if (const auto caught_up = parse_time(s.state->caught_up)) {
      s.lag_seconds = std::chrono::duration<double>(std::chrono::system_clock::now() - *caught_up).count();
    }
  }
  return s;
}

void print_json(const repo::Repository& repository, const Status& s) {
  nlohmann::ordered_json j;
  j["health"] = health_name(s.health);
  j["encryption"] = s.encryption ? nlohmann::json(*s.encryption) : nlohmann::json(nullptr);
  j["reasons"] = s.reasons;
  j["repository"] = repository.path;
  j["system_identifier"] = std::to_string(repository.config.system_identifier);
  j["streamer"] = {{"running", s.streamer.has_value()},
                   {"pid", s.streamer && s.streamer->pid > 0 ? nlohmann::json(s.streamer->pid) : nullptr},
                   {"host", s.streamer && !s.streamer->host.empty() ? nlohmann::json(s.streamer->host) : nullptr}};
  j["server"] = {{"reachable", s.server_lsn.has_value()},
                 {"lsn", s.server_lsn ? nlohmann::json(s.server_lsn->to_string()) : nullptr},
                 {"error", s.server_error.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.server_error)},
                 {"idle_replication_slot_timeout",
                  s.idle_slot_timeout ? nlohmann::json(*s.idle_slot_timeout) : nlohmann::json(nullptr)}};
  j["slot"] = {{"name", repository.config.slot},
               {"restart_lsn", s.slot_restart_lsn ? nlohmann::json(s.slot_restart_lsn->to_string()) : nullptr},
               {"wal_status", s.slot_view && !s.slot_view->wal_status.empty() ? nlohmann::json(s.slot_view->wal_status)
                                                                                : nlohmann::json(nullptr)},
               {"safe_wal_size", s.slot_view && s.slot_view->safe_wal_size ? nlohmann::json(*s.slot_view->safe_wal_size)
                                                                            : nlohmann::json(nullptr)},
               {"problem", s.slot_problem.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.slot_problem)}};
  j["warnings"] = s.idle_slot_warning ? nlohmann::json::array({*s.idle_slot_warning}) : nlohmann::json::array();
  const auto opt_lsn = [](bool has, wal::Lsn lsn) { return has ? nlohmann::json(lsn.to_string()) : nullptr; };
  const bool st = s.state.has_value();
  j["received_lsn"] = opt_lsn(st, st ? s.state->received_lsn : wal::Lsn());
  j["durable_lsn"] = opt_lsn(st, st ? s.state->durable_lsn : wal::Lsn());
  j["lag_bytes"] = s.lag_bytes ? nlohmann::json(*s.lag_bytes) : nullptr;
  j["lag_seconds"] = s.lag_seconds ? nlohmann::json(*s.lag_seconds) : nullptr;
  j["timeline"] = st ? nlohmann::json(s.state->timeline.value()) : nullptr;
  j["current_segment"] = st && !s.state->segment.empty() ? nlohmann::json(s.state->segment) : nullptr;
  j["last_commit_time"] = st && !s.state->last_commit_time.empty() ? nlohmann::json(s.state->last_commit_time) : nullptr;
  j["state_updated"] = st ? nlohmann::json(s.state->updated) : nullptr;
  j["segments_archived"] = s.segments_archived;
  j["backups"] = s.backups;
  j["newest_backup_age_seconds"] =
      s.newest_backup_age_seconds ? nlohmann::json(*s.newest_backup_age_seconds) : nlohmann::json(nullptr);
  j["repository_bytes"] = s.repository_bytes;
  j["last_verify"] = s.last_verify.finished.empty()
                         ? nlohmann::json(nullptr)
                         : nlohmann::json{{"finished", s.last_verify.finished},
                                          {"full", s.last_verify.full},
                                          {"damaged", s.last_verify.damaged}};
  j["last_drill"] = s.last_drill ? nlohmann::json{{"finished", s.last_drill->finished},
                                                  {"ok", s.last_drill->ok},
                                                  {"backup", s.last_drill->backup},
                                                  {"message", s.last_drill->message},
                                                  {"seconds", s.last_drill->seconds}}
                                : nlohmann::json(nullptr);
  nlohmann::json problems = nlohmann::json::array();
  for (const auto& p : s.index_problems) {
    problems.push_back({{"timeline", p.timeline.value()},
                        {"lsn", p.lsn.to_string()},
                        {"until", p.until.to_string()},
                        {"kind", p.kind},
                        {"message", p.message}});
  }
  j["index_problems"] = problems;
  j["damaged"] = s.damaged;
  std::cout << j.dump(2) << "\n";
}

void print_prometheus(const Status& s) {
  std::ostringstream out;
  const auto metric = [&](const char* name, const char* help, double value) {
    out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << " gauge\n" << name << ' ' << value << '\n';
  };
  out.precision(17);
  metric("walvault_up", "Whether walvault could read the repository.", 1);
  metric("walvault_health", "0 healthy, 1 degraded, 2 broken (walvault status explains why).",
         static_cast<double>(s.health));
  metric("walvault_backups", "Complete backups in the repository.", static_cast<double>(s.backups));
  if (s.newest_backup_age_seconds) {
    metric("walvault_newest_backup_age_seconds", "Seconds since the newest backup stopped.", *s.newest_backup_age_seconds);
  }
  metric("walvault_repository_bytes", "Bytes of every object in the repository.",
         static_cast<double>(s.repository_bytes));
  if (const auto finished = parse_time(s.last_verify.finished)) {
    metric("walvault_last_verify_timestamp_seconds", "When the last walvault verify finished.",
           std::chrono::duration<double>(finished->time_since_epoch()).count());
    metric("walvault_last_verify_damaged_objects", "Objects the last walvault verify found a problem in.",
           static_cast<double>(s.last_verify.damaged.size()));
  }
  if (s.last_drill) {
    if (const auto finished = parse_time(s.last_drill->finished)) {
      metric("walvault_last_drill_timestamp_seconds", "When the last walvault drill finished.",
             std::chrono::duration<double>(finished->time_since_epoch()).count());
    }
    metric("walvault_last_drill_ok", "Whether the last walvault drill restored and passed its checks.",
           s.last_drill->ok ? 1 : 0);
    metric("walvault_last_drill_seconds", "How long the last walvault drill took.", s.last_drill->seconds);
  }
  metric("walvault_streamer_running", "Whether a walvault streamer holds the repository's stream lock.",
         s.streamer ? 1 : 0);
  metric("walvault_server_reachable", "Whether the PostgreSQL server answered.", s.server_lsn ? 1 : 0);
  if (s.server_lsn) {
    metric("walvault_slot_ok", "Whether the replication slot exists, reserves WAL and is not ahead of the repository.",
           s.slot_problem.empty() ? 1 : 0);
  }
  if (s.slot_view && s.slot_view->safe_wal_size) {
    metric("walvault_slot_safe_wal_size_bytes",
           "Bytes of WAL the server may still write before the slot is invalidated (max_slot_wal_keep_size).",
           static_cast<double>(*s.slot_view->safe_wal_size));
  }
  if (s.server_lsn) {
    metric("walvault_server_lsn_bytes", "The server's WAL flush position, as a byte position.",
           static_cast<double>(s.server_lsn->value()));
  }
  if (s.state) {
    metric("walvault_received_lsn_bytes", "End of the WAL received by the streamer.",
           static_cast<double>(s.state->received_lsn.value()));
    metric("walvault_durable_lsn_bytes", "End of the WAL the repository holds durably.",
           static_cast<double>(s.state->durable_lsn.value()));
    metric("walvault_timeline", "The timeline being streamed.", s.state->timeline.value());
    if (const auto t = parse_time(s.state->last_commit_time)) {
      metric("walvault_last_commit_timestamp_seconds", "Commit time of the last durable commit in the repository.",
             std::chrono::duration<double>(t->time_since_epoch()).count());
    }
  }
  if (s.lag_bytes) metric("walvault_lag_bytes", "Server WAL position minus durable position.", static_cast<double>(*s.lag_bytes));
  if (s.lag_seconds) metric("walvault_lag_seconds", "Seconds since the durable position last reached the server's.", *s.lag_seconds);
  metric("walvault_segments_archived", "Completed WAL segment containers in the repository.",
         static_cast<double>(s.segments_archived));
  metric("walvault_index_problems", "WAL records the streamer could not index (commits and events missing).",
         static_cast<double>(s.index_problems.size()));
  metric("walvault_damaged_objects", "Repository objects status read that failed their checksum (see walvault verify).",
         static_cast<double>(s.damaged.size()));
  std::cout << out.str();
}

void print_human(const repo::Repository& repository, const Status& s) {
  std::cout << "health:          " << health_name(s.health) << "\n";
  for (const auto& reason : s.reasons) std::cout << "  - " << reason << "\n";
  std::cout << "repository:      " << repository.path << " (database system " << repository.config.system_identifier
            << ")\n";
  if (s.encryption) std::cout << "encryption:      " << *s.encryption << "\n";
  std::cout << "streamer:        "
            << (s.streamer ? "running (" + repo::describe(*s.streamer) + ")" : std::string("not running"))
            << "\n";
  std::cout << "server LSN:      " << (s.server_lsn ? s.server_lsn->to_string() : "unreachable (" + s.server_error + ")")
            << "\n";
  if (s.server_lsn) {
    std::cout << "slot:            " << repository.config.slot << ": "
              << (s.slot_problem.empty() ? "restart_lsn " + (s.slot_restart_lsn ? s.slot_restart_lsn->to_string() : "?")
                                         : s.slot_problem);
    if (s.slot_problem.empty() && s.slot_view) {
      std::cout << ", wal_status " << s.slot_view->wal_status;
      if (s.slot_view->safe_wal_size) std::cout << ", safe_wal_size " << *s.slot_view->safe_wal_size << " bytes";
    }
    std::cout << "\n";
  }
  if (s.state) {
    std::cout << "received LSN:    " << s.state->received_lsn.to_string() << "\n"
              << "durable LSN:     " << s.state->durable_lsn.to_string() << "\n";
  } else {
    std::cout << "received LSN:    "
              << (s.damaged.empty() ? "none (the streamer has not run yet)" : "unknown (damaged: below)") << "\n";
  }
  if (s.lag_bytes) {
    std::cout << "lag:             " << *s.lag_bytes << " bytes";
    if (s.lag_seconds) std::cout << ", " << *s.lag_seconds << " s";
    std::cout << "\n";
  }
  if (s.state) {
    std::cout << "timeline:        " << s.state->timeline.value() << "\n"
              << "current segment: " << (s.state->segment.empty() ? "none" : s.state->segment) << "\n"
              << "last commit:     " << (s.state->last_commit_time.empty() ? "none" : s.state->last_commit_time)
              << "\n";
  }
  std::cout << "segments:        " << s.segments_archived << " archived\n";
  std::cout << "backups:         " << s.backups;
  if (s.newest_backup_age_seconds) {
    std::cout << ", the newest " << static_cast<long>(*s.newest_backup_age_seconds / 3600) << " h old";
  }
  std::cout << "\nrepository size: " << s.repository_bytes << " bytes\n";
  std::cout << "last verify:     "
            << (s.last_verify.finished.empty()
                    ? std::string("none recorded")
                    : s.last_verify.finished + (s.last_verify.full ? " (--full), " : ", ") +
                          (s.last_verify.damaged.empty() ? std::string("clean")
                                                         : std::to_string(s.last_verify.damaged.size()) + " damaged"))
            << "\n";
  if (s.last_drill) {
    std::cout << "last drill:      " << s.last_drill->finished << ", " << (s.last_drill->ok ? "passed" : "FAILED") << ": "
              << s.last_drill->message << "\n";
  }
  if (!s.index_problems.empty()) {
    std::cout << "index problems:  " << s.index_problems.size()
              << " (commits and events missing from the index; the first: " << s.index_problems.front().message
              << "; 'walvault verify' lists them all)\n";
  }
  for (const auto& damage : s.damaged) std::cout << "damaged:         " << damage << "\n";
  if (s.idle_slot_warning) std::cout << "warning:         " << *s.idle_slot_warning << "\n";
}

}  // namespace

int run_status(const StatusOptions& options) {
  if (options.json && options.prometheus) {
    throw Error(ErrorCode::kUsage, "--json and --prometheus exclude each other", "choose one output format");
  }
  std::optional<repo::Repository> repository;
  try {
    repository.emplace(repo::open_repository(options.repo));
  } catch (const Error& e) {
    // A textfile collector must see the failure: an empty file alerts on nothing.
    if (options.prometheus) {
      std::cout << "# HELP walvault_up Whether walvault could read the repository.\n# TYPE walvault_up gauge\n"
                   "walvault_up 0\n";
    }
    throw;
  }
  Status s = collect(*repository);
  judge(s, options);
  if (options.json) {
    print_json(*repository, s);
  } else if (options.prometheus) {
    print_prometheus(s);
    if (s.idle_slot_warning) log::warning(*s.idle_slot_warning);  // the metrics go to a file: say it on stderr
    for (const auto& reason : s.reasons) log::warning(reason);
  } else {
    print_human(*repository, s);
  }
  return health_exit_code(s.health);
}

}  // namespace walvault::command
