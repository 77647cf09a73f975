// FileLock: an exclusive flock(2) on a local file, held while the FileLock lives. The kernel drops it when the
// process dies, so a kill -9 never leaves a stale lock. Every lock walvault takes on local files goes through
// here: the repository's role locks (repo/lock.hpp), PosixStorage::lock (it is the StorageLock PosixStorage
// returns), and wal-fetch's spool.
//
// The file may record the holder's pid (record_pid), so that another process can name it (holder).
// Errors: kIo when the file cannot be opened or created, or flock fails for a reason other than another holder.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>

#include "storage/storage.hpp"

namespace walvault::storage {

class FileLock final : public StorageLock {
 public:
  // Takes the lock on path, creating the file (with `mode`) if missing; with kTry, nullptr when another holder
  // has it.
  [[nodiscard]] static std::unique_ptr<FileLock> take(const std::string& path, LockWait wait, mode_t mode = 0600);
  // The pid recorded in path by its current holder (0 when held without one), or nullopt when nobody holds it.
  // Never takes the lock. Throws nothing.
  [[nodiscard]] static std::optional<long> holder(const std::string& path);

  ~FileLock() override;

  // Writes this process's pid into the file, for holder(). Throws kIo.
  void record_pid() const;

 private:
  FileLock(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_;
  std::string path_;
};

}  // namespace walvault::storage
