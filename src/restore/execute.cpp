#include "restore/execute.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "common/clock.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "common/process.hpp"
#include "common/stop_signals.hpp"
#include "common/progress.hpp"
#include "pg/libpq.hpp"

namespace walvault::restore {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void io_error(const std::string& what, const std::string& path, int err) {
  throw Error(ErrorCode::kIo, what + " \"" + path + "\": " + std::strerror(err));
}

// Appends (or creates) a file and fsyncs it.
void append_durably(const std::string& path, std::string_view text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) io_error("cannot open", path, errno);
  while (!text.empty()) {
    const ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      io_error("cannot write", path, err);
    }
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    io_error("cannot fsync", path, err);
  }
  ::close(fd);
}

void fsync_dir(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) io_error("cannot open", path, errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) io_error("cannot fsync", path, err);
}

// Removes what a failed restore created, unless disarmed: the directory if it did not exist, else its content.
class Rollback {
 public:
  Rollback(std::string dir, bool existed) : dir_(std::move(dir)), existed_(existed) {}
  ~Rollback() {
    if (!armed_) return;
    std::error_code ec;
    if (!existed_) {
      fs::remove_all(dir_, ec);
    } else {
      for (const auto& entry : fs::directory_iterator(dir_, ec)) fs::remove_all(entry.path(), ec);
    }
    if (ec) log::warning("could not remove the partial restore in " + dir_ + ": " + ec.message());
  }
  Rollback(const Rollback&) = delete;
  Rollback& operator=(const Rollback&) = delete;
  void disarm() { armed_ = false; }

 private:
  std::string dir_;
  bool existed_;
  bool armed_ = true;
};

// '%' in a path would be read as a placeholder by PostgreSQL.
std::string percent_escaped(std::string_view text) {
  std::string out;
  for (const char c : text) {
    out += c;
    if (c == '%') out += '%';
  }
  return out;
}

std::optional<pid_t> postmaster_pid(const std::string& dir) {
  std::ifstream in(dir + "/postmaster.pid");
  long pid = 0;
  if (!(in >> pid) || pid <= 0) return std::nullopt;
  return static_cast<pid_t>(pid);
}

bool alive(pid_t pid) { return ::kill(pid, 0) == 0 || errno == EPERM; }

// The first log line from byte `from` on containing needle, if any.
std::string log_line(const std::string& log_path, std::streamoff from, std::string_view needle) {
  std::ifstream in(log_path);
  in.seekg(from);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find(needle) != std::string::npos) return line;
  }
  return {};
}

// The last FATAL or PANIC line from byte `from` on, skipping the refusals of the probes below while the server
// starts or stops ("FATAL:  the database system is starting up", "... is not accepting connections"): why the
// server stopped.
std::string last_fatal_line(const std::string& log_path, std::streamoff from) {
  std::ifstream in(log_path);
  in.seekg(from);
  std::string line;
  std::string last;
  while (std::getline(in, line)) {
    if (line.find("FATAL:  the database system is ") != std::string::npos) continue;
    if (line.find("FATAL:") != std::string::npos || line.find("PANIC:") != std::string::npos) last = line;
  }
  return last;
}

// One-row, one-column query; nullopt when the server cannot be reached or the query fails.
std::optional<std::string> query_value(const std::string& conninfo, const char* sql) {
  PGconn* conn = pg::libpq().PQconnectdb(conninfo.c_str());
  std::optional<std::string> out;
  if (pg::libpq().PQstatus(conn) == CONNECTION_OK) {
    PGresult* res = pg::libpq().PQexec(conn, sql);
    if (pg::libpq().PQresultStatus(res) == PGRES_TUPLES_OK && pg::libpq().PQntuples(res) == 1) out = pg::libpq().PQgetvalue(res, 0, 0);
    pg::libpq().PQclear(res);
  }
  pg::libpq().PQfinish(conn);
  return out;
}

// Throws kUsage unless this process can create dir (or write into it).
void check_writable(const std::string& dir) {
  // The directory itself when it exists, else the nearest existing parent, which mkdir -p would write into.
  fs::path at(dir);
  std::error_code ec;
  while (!fs::exists(at, ec) && at.has_parent_path() && at != at.parent_path()) at = at.parent_path();
  if (::access(at.c_str(), W_OK | X_OK) != 0) {
    throw Error(ErrorCode::kUsage, "cannot write the target directory \"" + dir + "\": " + at.string() + ": " +
                                       std::strerror(errno),
                "run the restore as a user who can create it (the user that runs PostgreSQL), or give another "
                "--target-dir");
  }
}

}  // namespace

void check_target_directory(const std::string& dir) {
  std::error_code ec;
  const auto status = fs::symlink_status(dir, ec);
  if (ec && ec != std::errc::no_such_file_or_directory) io_error("cannot inspect", dir, ec.value());
  if (!fs::exists(status)) {
    check_writable(dir);
    return;
  }
  if (!fs::is_directory(status)) {
    throw Error(ErrorCode::kUnsafe, "target \"" + dir + "\" exists and is not a directory",
                "give a directory that does not exist yet, or an empty one");
  }
  if (fs::exists(dir + "/postmaster.pid")) {
    throw Error(ErrorCode::kUnsafe, "target directory \"" + dir + "\" holds a postmaster.pid: a server may use it",
                "never restore over a data directory; give a new directory");
  }
  if (!fs::is_empty(dir, ec) || ec) {
    throw Error(ErrorCode::kUnsafe, "target directory \"" + dir + "\" is not empty",
                "give a directory that does not exist yet, or an empty one; walvault never overwrites files");
  }
  check_writable(dir);
}

void check_start_preconditions(const std::string& dir, int port) {
  if (::geteuid() == 0) {
    throw Error(ErrorCode::kUsage, "--start as root: PostgreSQL refuses to run as root",
                "run the restore as the user that owns PostgreSQL's files, e.g. 'runuser -u postgres -- walvault "
                "restore ...'");
  }
  if (!loopback_port_free(port)) {
    throw Error(ErrorCode::kUsage, "port " + std::to_string(port) + " is in use on 127.0.0.1: the restored server could "
                                       "not listen there",
                "give another --port, or leave it out to use a free one");
  }
  const std::string socket = dir + "/.s.PGSQL." + std::to_string(port);
  if (socket.size() > 107) {
    throw Error(ErrorCode::kUsage,
                "the target directory's path is too long for the restored server's Unix socket (" + socket + " is " +
                    std::to_string(socket.size()) + " bytes, PostgreSQL allows 107)",
                "give a shorter --target-dir");
  }
}

void become_owner(const std::optional<std::string>& requested) {
  const bool root = ::geteuid() == 0;
  if (!requested) {
    if (!root) return;
    throw Error(ErrorCode::kUsage,
                "restore as root would leave a data directory that root owns, which PostgreSQL refuses to start",
                "add --owner postgres (the user that will run the restored server), or run the restore as that user");
  }
  errno = 0;
  const passwd* pw = ::getpwnam(requested->c_str());
  if (pw == nullptr) throw Error(ErrorCode::kUsage, "--owner: no user \"" + *requested + "\"", "name an existing user");
  if (pw->pw_uid == 0) {
    throw Error(ErrorCode::kUsage, "--owner: PostgreSQL refuses to run as root", "name the user that runs PostgreSQL");
  }
  if (pw->pw_uid == ::geteuid()) return;
  if (!root) {
    throw Error(ErrorCode::kUsage, "--owner " + *requested + ": only root can restore on another user's behalf",
                "run the restore as " + *requested + ", or leave --owner out");
  }
  // Everything from here on (the repository's pin and locks, the directory and its files) is that user's, as if
  // the restore had been run as that user.
  if (::initgroups(pw->pw_name, pw->pw_gid) != 0 || ::setgid(pw->pw_gid) != 0 || ::setuid(pw->pw_uid) != 0) {
    throw Error(ErrorCode::kIo, "cannot become user " + *requested + ": " + std::strerror(errno));
  }
}

ExecuteResult execute_plan(const repo::Repository& repository, const RestorePlan& plan,
                           const ExecuteOptions& options) {
  const std::string& dir = options.target_dir;
  check_target_directory(dir);
  std::error_code ec;
  Rollback rollback(dir, fs::exists(dir, ec));

  ExecuteResult result;
  const auto t0 = std::chrono::steady_clock::now();
  {
    ProgressMeter progress("restore: extracting backup " + plan.backup.id);
    result.extracted =
        extract_backup(*repository.storage, plan.backup.id, dir, repository.config.system_identifier, &progress);
  }
  result.extract_time = std::chrono::steady_clock::now() - t0;

  // A backup of a standby carries standby.signal, which would win over recovery.signal and never end recovery.
  if (fs::exists(dir + "/standby.signal")) fs::remove(dir + "/standby.signal");

  const std::string bin = shell_quote(percent_escaped(options.walvault_binary));
  std::string repo;  // "--repo URL" and, for S3, the endpoint settings (credentials come from the environment)
  for (const std::string& arg : repository.address_argv()) {
    repo += (repo.empty() ? "" : " ") + shell_quote(percent_escaped(arg));
  }
  const std::string spool = std::string(kSpoolDir);
  RecoveryConfig config;
  config.restore_command = bin + " wal-fetch " + repo + " --spool " + spool + " --prefetch " +
                           std::to_string(options.prefetch_depth) + " %f %p";
  config.recovery_end_command = bin + " wal-fetch " + repo + " --spool " + spool + " --clean-spool" +
                                (options.pin_id.empty() ? "" : " --unpin " + shell_quote(percent_escaped(options.pin_id)));
  config.action = options.action;
  config.port = options.port;
  if (options.loopback_only) {
    config.listen_addresses = "127.0.0.1";
    config.unix_socket_directories = dir;
  }
  config.generated_at = format_time(std::chrono::system_clock::now());
  result.settings = recovery_conf_text(plan, config);
  append_durably(dir + "/postgresql.auto.conf", result.settings);
  append_durably(dir + "/recovery.signal", "");
  fsync_dir(dir);
  rollback.disarm();
  return result;
}

StartResult start_restored_server(const std::string& data_dir, const StartOptions& options) {
  if (::geteuid() == 0) {
    throw Error(ErrorCode::kUsage, "PostgreSQL refuses to run as root, so walvault does not start it as root",
                "run the restore as the data directory's owner (e.g. 'runuser -u postgres -- walvault restore ...'), "
                "or start it yourself with 'pg_ctl start -D " + data_dir + "'");
  }
  const std::string log_path = data_dir + "/" + std::string(kStartLog);
  // Only this start's lines count (pg_ctl appends; a backup may carry an older log of the same name).
  std::error_code ec;
  const auto size = fs::file_size(log_path, ec);
  const std::streamoff log_from = ec ? 0 : static_cast<std::streamoff>(size);
  const auto t0 = std::chrono::steady_clock::now();
  // This start's messages must reach log_path, which is read below, whatever the backup's logging settings (a
  // logging collector would write them under log/ instead). Only this start is changed, not the configuration.
  std::string server_options = "-c logging_collector=off -c log_destination=stderr";
  for (const auto& [name, value] : options.settings) server_options += " -c " + name + "=" + value;
  const int rc = run_program({options.pg_bindir + "/pg_ctl", "start", "-W", "-D", data_dir, "-l", log_path, "-o",
                              server_options})
                     .exit_code;
  if (rc != 0) {
    throw Error(ErrorCode::kNotRestorable, "pg_ctl start failed with exit code " + std::to_string(rc),
                "see " + log_path);
  }
  // The Unix socket is in the data directory when its path fits in sun_path; else loopback TCP.
  const std::string socket = data_dir + "/.s.PGSQL." + std::to_string(options.port);
  const std::string host = socket.size() < 100 ? data_dir : std::string("127.0.0.1");
  const std::string conninfo =
      "host='" + host + "' port=" + std::to_string(options.port) + " dbname=postgres connect_timeout=5";

  StartResult result;
  const auto deadline = t0 + options.timeout;
  bool seen_running = false;
  // Replay, from the backup's start to where the plan requires it to reach (known once the server takes queries).
  ProgressMeter progress("restore: replaying WAL",
                         options.replay_end_min > options.replay_from ? options.replay_end_min - options.replay_from : 0);
  auto last_probe = t0;
  while (std::chrono::steady_clock::now() < deadline) {
    throw_if_stopped("the restore");  // a side copy's command, stopped: the caller stops the server and removes it
    if (std::chrono::steady_clock::now() - last_probe >= std::chrono::seconds(1)) {
      last_probe = std::chrono::steady_clock::now();
      const auto replayed = query_value(conninfo, "SELECT pg_last_wal_replay_lsn()");
      const auto lsn = replayed ? wal::Lsn::parse(*replayed) : std::nullopt;
      if (lsn && *lsn > options.replay_from) progress.update(*lsn - options.replay_from);
    }
    const auto pid = postmaster_pid(data_dir);
    const bool running = pid && alive(*pid);
    seen_running = seen_running || running;
    if (!running) {
      // No postmaster: shut down at the target (however briefly it ran, perhaps between two looks), stopped,
      // failed to come up (a FATAL line), or not started yet (none of these, for at most 30 s).
      if (options.action == TargetAction::kShutdown &&
          !log_line(log_path, log_from, "shutdown at recovery target").empty()) {
        result.state = "shut down at the target";
        break;
      }
      if (seen_running || !last_fatal_line(log_path, log_from).empty() ||
          std::chrono::steady_clock::now() - t0 > std::chrono::seconds(30)) {
        break;
      }
    } else if (options.action == TargetAction::kPromote) {
      if (query_value(conninfo, "SELECT pg_is_in_recovery()") == std::optional<std::string>("f")) {
        result.state = "promoted";
        break;
      }
    } else if (options.action == TargetAction::kPause) {
      if (query_value(conninfo, "SELECT pg_get_wal_replay_pause_state()") == std::optional<std::string>("paused")) {
        result.state = "paused at the target";
        break;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  result.elapsed = std::chrono::steady_clock::now() - t0;
  result.stop_line = log_line(log_path, log_from, "recovery stopping");
  if (result.state.empty()) {
    const std::string fatal = last_fatal_line(log_path, log_from);
    throw Error(ErrorCode::kNotRestorable,
                "the restored server did not reach the target" + (fatal.empty() ? std::string() : ": " + fatal),
                "see " + log_path);
  }
  if (result.stop_line.empty() && options.action != TargetAction::kShutdown) {
    throw Error(ErrorCode::kNotRestorable,
                "the restored server ended recovery without reaching its target (no \"recovery stopping\" in its log)",
                "the server is running on port " + std::to_string(options.port) + ", with less data than planned; see " +
                    log_path);
  }
  if (options.action != TargetAction::kShutdown) {
    const auto replayed = query_value(conninfo, "SELECT pg_last_wal_replay_lsn()");
    result.replay_end = replayed ? wal::Lsn::parse(*replayed) : std::nullopt;
    const bool short_of = !result.replay_end || *result.replay_end < options.replay_end_min;
    const bool beyond = result.replay_end && options.replay_end_max && *result.replay_end > *options.replay_end_max;
    if (short_of || beyond) {
      throw Error(ErrorCode::kNotRestorable,
                  "recovery ended at " + (result.replay_end ? result.replay_end->to_string() : std::string("an unknown LSN")) +
                      (short_of ? ", short of " + options.replay_end_min.to_string() + ", the end the plan requires"
                                : ", past " + options.replay_end_max->to_string() + ", where the plan stops"),
                  "the server is running on port " + std::to_string(options.port) + " with " +
                      (short_of ? "less" : "more") + " data than planned; see " + log_path);
    }
  }
  return result;
}

}  // namespace walvault::restore
