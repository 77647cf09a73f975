// RepositoryLock: one process at a time for a role in a repository (the streamer), a storage::FileLock on
// <repo>/locks/<name>.lock. The lock file holds the owner's pid, so a second process can name it.
//
// The lock is released when the RepositoryLock is destroyed or the process dies (the kernel drops flocks), so a
// kill -9 never leaves a stale lock. Only for local repositories (Storage::capabilities().local_root).
// Errors: kRepository "repository is locked by another streamer (pid N)" when held; kIo when the lock file cannot
// be created.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "storage/file_lock.hpp"

namespace walvault::repo {

// The lock `walvault backup` holds while it writes a backup (and expire while it removes them).
inline constexpr const char* kBackupLockName = "backup";

class RepositoryLock {
 public:
  // Takes the lock <root>/locks/<name>.lock without waiting; `role` names the holder in the error message.
  RepositoryLock(const std::string& root, const std::string& name, const std::string& role);

  // The pid of the process holding the lock (0 when held but the pid is unreadable), or nullopt when nobody
  // holds it. Never takes it. Throws nothing.
  [[nodiscard]] static std::optional<long> holder(const std::string& root, const std::string& name);

 private:
  std::unique_ptr<storage::FileLock> lock_;
};

// The stream lock, taken by a command that changes what the streamer works with (its slot, its connection string):
// kRepository naming `command` and how to stop the streamer when one runs.
[[nodiscard]] RepositoryLock lock_stopped_streamer(const std::string& root, const std::string& command);

}  // namespace walvault::repo
