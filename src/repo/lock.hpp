// RepositoryLock: one process at a time for a role in a repository (the streamer, a backup), the storage's lock of
// that name (Storage::lock): on a local repository an flock on <repo>/locks/<name>.lock holding the owner's pid,
// released when the RepositoryLock is destroyed or the process dies (the kernel drops flocks, so a kill -9 never
// leaves a stale lock); on S3 a lease with a heartbeat (storage/s3_storage.hpp says what it guarantees), which a
// killed holder keeps for at most the lease's duration.
// Errors: kRepository "repository is locked by another streamer (pid N)" when held; Storage errors (kIo) pass
// through.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "storage/storage.hpp"

namespace walvault::repo {

// The lock `walvault backup` holds while it writes a backup (and expire while it removes them).
inline constexpr const char* kBackupLockName = "backup";
// The lock the streamer holds.
inline constexpr const char* kStreamLockName = "stream";

class RepositoryLock {
 public:
  // Takes the lock `name` without waiting; `role` names the holder in the error message.
  RepositoryLock(storage::Storage& storage, const std::string& name, const std::string& role);

  // Who holds the lock `name`, or nullopt when nobody does. Never takes it. Throws Storage errors.
  [[nodiscard]] static std::optional<storage::LockHolder> holder(const storage::Storage& storage,
                                                                 const std::string& name);
  // Whether another process took the lock over (a lease this process could not renew in time; see StorageLock).
  [[nodiscard]] bool lost() const noexcept { return lock_->lost(); }

 private:
  std::unique_ptr<storage::StorageLock> lock_;
};

// "pid 123", "pid 123 on host db2": a lock holder for messages.
[[nodiscard]] std::string describe(const storage::LockHolder& holder);

// The stream lock, taken by a command that changes what the streamer works with (its slot, its connection string):
// kRepository naming `command` and how to stop the streamer when one runs.
[[nodiscard]] RepositoryLock lock_stopped_streamer(storage::Storage& storage, const std::string& command);

}  // namespace walvault::repo
