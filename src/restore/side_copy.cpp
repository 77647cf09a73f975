#include "restore/side_copy.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "common/error.hpp"
#include "common/log.hpp"
#include "common/process.hpp"
#include "common/stop_signals.hpp"
#include "common/time_text.hpp"
#include "pg/sql_text.hpp"
#include "restore/plan_inputs.hpp"

namespace walvault::restore {
namespace {

namespace fs = std::filesystem;

std::string make_scratch_dir(const std::string& command) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/walvault-" + command + "-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw Error(ErrorCode::kIo, "cannot create a temporary directory " + pattern + ": " + std::strerror(errno),
                "set TMPDIR to a writable directory with room for the restored database");
  }
  return pattern;
}

}  // namespace

TargetRequest side_copy_target(const std::optional<std::string>& time,
                               const std::optional<std::string>& before_event) {
  TargetRequest r;  // kLatest unless told otherwise
  if (time) {
    const auto t = parse_user_time(*time);
    if (!t) throw Error(ErrorCode::kUsage, "--time: " + t.error(), "for example: --time '2026-11-21 04:15:59+00'");
    r.kind = TargetKind::kTime;
    r.time = *t;
  } else if (before_event) {
    r.kind = TargetKind::kBeforeEvent;
    r.event_id = *before_event;
  }
  return r;
}

void refuse_root(const std::string& command) {
  if (::geteuid() == 0) {
    throw Error(ErrorCode::kUsage, command + " as root: PostgreSQL refuses to run as root",
                "run it as PostgreSQL's OS user, e.g. 'runuser -u postgres -- walvault " + command + " ...'");
  }
}

SideCopy::SideCopy(const repo::Repository& repository, const SideCopyOptions& options) {
  refuse_root(options.command);
  (void)install_stop_handlers();  // a Ctrl-C stops the command at its next step, and the copy is removed
  {
    // Planned and pinned under the pin lock, so a concurrent expire keeps the backup chosen (repo/pins.hpp).
    auto pin_lock = repository.storage->lock(repo::kPinLockName, storage::LockWait::kWait);
    plan_ = make_plan(repository, options.request);
    pin_ = std::make_unique<repo::BackupPin>(*repository.storage, plan_.backup.id,
                                             options.command + " (pid " + std::to_string(::getpid()) + ")");
  }
  BinariesRequest wanted;
  wanted.major = plan_.backup.pg_version / 10000;
  wanted.flag_dir = options.pg_bindir;
  wanted.env_dir = options.pg_bindir_env;
  binaries_ = find_pg_binaries(wanted);

  dir_ = make_scratch_dir(options.command);
  try {
    ExecuteOptions exec;
    exec.target_dir = data_dir();
    exec.walvault_binary = self_executable();
    exec.port = free_loopback_port();
    exec.loopback_only = true;
    port_ = *exec.port;
    execute_plan(repository, plan_, exec);
    throw_if_stopped(options.command);
    StartOptions start;
    start.pg_bindir = binaries_.bindir;
    start.port = port_;
    start.replay_from = plan_.backup.start_lsn;
    start.replay_end_min = plan_.replay_end_min;
    start.replay_end_max = plan_.replay_end_max;
    // Marked, so that recover can tell a side copy from production (they share the system identifier).
    start.settings.emplace_back(kSideCopySetting, options.command + "-pid-" + std::to_string(::getpid()));
    started_ = start_restored_server(data_dir(), start);
    throw_if_stopped(options.command);
  } catch (...) {
    stop_and_remove();
    throw;
  }
}

SideCopy::~SideCopy() { stop_and_remove(); }

void SideCopy::stop_and_remove() noexcept {
  try {
    const std::string pgdata = data_dir();
    if (fs::exists(pgdata + "/postmaster.pid")) {
      // Immediate: the copy is thrown away, so nothing is gained by a shutdown checkpoint, and a stop signal's
      // sender (runuser, systemd) may not wait long.
      (void)run_program({binaries_.bindir + "/pg_ctl", "stop", "-D", pgdata, "-m", "immediate", "-w"});
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
    if (ec) log::warning("could not remove the side copy's temporary directory " + dir_ + ": " + ec.message());
  } catch (const std::exception& e) {
    log::warning("could not stop or remove the side copy in " + dir_ + ": " + e.what());
  }
}

std::string SideCopy::conninfo(const std::string& db) const {
  const std::string socket = data_dir() + "/.s.PGSQL." + std::to_string(port_);
  const std::string host = socket.size() < 100 ? data_dir() : std::string("127.0.0.1");
  return "host=" + pg::quote_conninfo_value(host) + " port=" + std::to_string(port_) +
         " dbname=" + pg::quote_conninfo_value(db) + " connect_timeout=10";
}

}  // namespace walvault::restore
