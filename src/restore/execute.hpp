// Carrying out a restore plan (restore/plan.hpp) on disk, and optionally running the restored server until it
// reaches the target: the IO half of `walvault restore`, reused by `walvault drill`.
//
// check_target_directory() is the first safety rule, applied before anything is written: the directory must
// not exist or must be empty (then there is no postmaster.pid either); otherwise kUnsafe, and it is never
// touched. execute_plan() then
//   1. extracts the plan's backup with PostgreSQL's permissions and verifies every file against its
//      backup_manifest (restore/extract.hpp);
//   2. appends the recovery settings to postgresql.auto.conf (recovery_conf_text(): restore_command calling
//      this walvault binary's wal-fetch by absolute path with a prefetch spool in pg_wal/walvault-spool,
//      recovery_end_command removing that spool, the recovery_target_* settings, the timeline and the action,
//      archive_mode = off, primary_conninfo/primary_slot_name emptied, and port/listen_addresses/socket
//      directory when given);
//   3. creates recovery.signal, and fsyncs the files it wrote and the directory.
// The result starts with a plain `pg_ctl start`. If any step fails, everything it created is removed again
// (the directory itself when it did not exist before), so a failed restore leaves no files behind.
//
// start_restored_server() runs `pg_ctl start` on the directory (as the current user: PostgreSQL refuses root,
// and so does this function, with kUsage) and waits until the target is reached and the server is consistent:
// promoted (pg_is_in_recovery() false) for promote, paused at the target for pause, stopped for shutdown (its
// log says "shutdown at recovery target"). A server that stops otherwise (recovery failed) or never comes up is
// kNotRestorable with the server's last FATAL line, as soon as it is gone. So is a recovery that did not end at
// its target: every plan has one, so the server must log "recovery stopping ..." (or "shutdown at recovery
// target"), and where replay ended (pg_last_wal_replay_lsn()) must lie in [replay_end_min, replay_end_max]; the
// error names both. When the process installed the stop handlers (common/stop_signals.hpp: a side copy's command),
// a SIGINT or SIGTERM ends the wait with kInterrupted, the server left running for the caller to stop.
// Errors: walvault::Error (kUnsafe, kIo, kCorrupt, kNotRestorable, kUsage, kConnection, kInterrupted); Storage errors
// pass through.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "repo/repository.hpp"
#include "restore/extract.hpp"
#include "restore/plan.hpp"

namespace walvault::restore {

// The spool directory relative to the data directory (restore_command runs there).
inline constexpr std::string_view kSpoolDir = "pg_wal/walvault-spool";
// The server log --start writes, in the data directory.
inline constexpr std::string_view kStartLog = "walvault-restore.log";

// Throws kUnsafe unless dir does not exist or is an empty directory, and kUsage unless this process can create it
// (or write into it). Reads only.
void check_target_directory(const std::string& dir);

// What `--start` needs, checked before anything is written (kUsage, naming the problem): not root (PostgreSQL
// refuses it), the port free on 127.0.0.1, and the Unix socket path <dir>/.s.PGSQL.<port> within PostgreSQL's
// limit (107 bytes: sizeof sun_path less its NUL).
void check_start_preconditions(const std::string& dir, int port);

// Who will own the restored directory. As root, a data directory that root owns cannot be started (PostgreSQL
// refuses root, and refuses a directory it does not own), so root must name the owner (--owner USER): the rest
// of the restore then runs as that user (setuid), so the directory, and the pin and lock files in the repository,
// are that user's. As anyone else, --owner may only name that user. Throws kUsage (kIo if setuid fails).
void become_owner(const std::optional<std::string>& requested);

struct ExecuteOptions {
  std::string target_dir;       // absolute
  std::string walvault_binary;  // absolute path of the walvault executable restore_command runs
  TargetAction action = TargetAction::kPromote;
  std::optional<int> port;
  bool loopback_only = false;  // listen on 127.0.0.1 only, Unix socket in the data directory
  uint32_t prefetch_depth = 8;
  std::string pin_id;  // the restore's backup pin (repo/pins.hpp), removed by recovery_end_command; "" for none
};

struct ExecuteResult {
  ExtractSummary extracted;
  std::chrono::duration<double> extract_time{};
  std::string settings;  // the block appended to postgresql.auto.conf
};

ExecuteResult execute_plan(const repo::Repository& repository, const RestorePlan& plan, const ExecuteOptions& options);

struct StartOptions {
  std::string pg_bindir;  // where pg_ctl is: the backup's major version (restore/pg_binaries.hpp)
  int port = 0;
  TargetAction action = TargetAction::kPromote;
  std::chrono::seconds timeout{24 * 3600};
  // Where replay must end (RestorePlan::replay_end_min/max): checked against pg_last_wal_replay_lsn().
  wal::Lsn replay_from;  // the backup's start: replay progress counts from here
  wal::Lsn replay_end_min;
  std::optional<wal::Lsn> replay_end_max;
  // Extra settings for this start only (postgres -c name=value); values without spaces or quotes.
  std::vector<std::pair<std::string, std::string>> settings;
};

struct StartResult {
  std::chrono::duration<double> elapsed{};
  std::string stop_line;  // the server's "recovery stopping ..." log line, when it wrote one
  std::string state;      // "promoted", "paused at the target", "shut down at the target"
  std::optional<wal::Lsn> replay_end;  // pg_last_wal_replay_lsn() (not known after a shutdown)
};

StartResult start_restored_server(const std::string& data_dir, const StartOptions& options);

}  // namespace walvault::restore
