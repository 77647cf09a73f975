// A side copy: the cluster restored into scratch space and running privately, for commands that read the past
// next to the present (drill, preview, recover).
//
// SideCopy plans the restore (restore/plan_inputs.hpp) and pins its backup under the pin lock (repo/pins.hpp), so
// an expire running meanwhile keeps it; finds the server programs of the backup's major version
// (restore/pg_binaries.hpp; none is kUsage before anything is created); creates a new directory under $TMPDIR
// (default /tmp), executes the plan into it (restore/execute.hpp) and starts PostgreSQL on a free port,
// listening on 127.0.0.1 only, with its Unix socket inside the directory, and waits until the target is reached and
// the copy promoted. Never paused: paused just before an event, the copy would still hold the locks the destroying
// transaction took (replayed from its WAL) on the very tables to read. The copy gets the setting
// walvault.side_copy = <command>-pid-<N> (postgres -c), so that recover refuses it as production. The destructor
// stops the server (immediate: the copy is thrown away) and removes the directory on every way out, also when a
// step of the constructor fails.
//
// SIGINT and SIGTERM (common/stop_signals.hpp, installed here) stop the construction at its next step with
// kInterrupted, and the copy is removed; the command using the copy checks the flag at its own steps.
// Runs as PostgreSQL's OS user: PostgreSQL refuses root, and so does SideCopy (kUsage, naming the command).
// Errors: those of planning, execute_plan and start_restored_server (kNotRestorable, kNotFound, kIo, ...).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "repo/pins.hpp"
#include "repo/repository.hpp"
#include "restore/execute.hpp"
#include "restore/pg_binaries.hpp"
#include "restore/plan.hpp"

namespace walvault::restore {

// The custom setting that marks a running side copy (its value names the command and its pid).
inline constexpr std::string_view kSideCopySetting = "walvault.side_copy";

struct SideCopyOptions {
  std::string command;  // "drill", "preview", ...: names the pin's reader and the root refusal
  TargetRequest request;
  std::optional<std::string> pg_bindir;      // --pg-bindir
  std::optional<std::string> pg_bindir_env;  // WALVAULT_PG_BINDIR
};

class SideCopy {
 public:
  SideCopy(const repo::Repository& repository, const SideCopyOptions& options);
  ~SideCopy();
  SideCopy(const SideCopy&) = delete;
  SideCopy& operator=(const SideCopy&) = delete;

  [[nodiscard]] const RestorePlan& plan() const { return plan_; }
  [[nodiscard]] const PgBinaries& binaries() const { return binaries_; }
  [[nodiscard]] const StartResult& started() const { return started_; }
  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] std::string data_dir() const { return dir_ + "/data"; }
  // host= (the socket directory, or 127.0.0.1 when the socket path would be too long) port= dbname= for `db`.
  [[nodiscard]] std::string conninfo(const std::string& db) const;

 private:
  void stop_and_remove() noexcept;

  RestorePlan plan_;
  std::unique_ptr<repo::BackupPin> pin_;
  PgBinaries binaries_;
  std::string dir_;
  int port_ = 0;
  StartResult started_;
};

// The target of --time T (kUsage when T does not parse) or --before-event ID; kLatest when neither is given.
[[nodiscard]] TargetRequest side_copy_target(const std::optional<std::string>& time,
                                             const std::optional<std::string>& before_event);

// Throws kUsage when this process runs as root: PostgreSQL refuses root, so `command` must run as its OS user.
void refuse_root(const std::string& command);

}  // namespace walvault::restore
