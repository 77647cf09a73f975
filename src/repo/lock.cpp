#include "repo/lock.hpp"

#include "common/error.hpp"

namespace walvault::repo {

RepositoryLock::RepositoryLock(storage::Storage& storage, const std::string& name, const std::string& role)
    : lock_(storage.lock(name, storage::LockWait::kTry)) {
  if (lock_) return;
  const auto holder = storage.lock_holder(name);
  throw Error(ErrorCode::kRepository,
              "repository is locked by another " + role + (holder ? " (" + describe(*holder) + ")" : ""),
              "only one " + role + " may run per repository; stop the other one first (see 'walvault status')");
}

std::optional<storage::LockHolder> RepositoryLock::holder(const storage::Storage& storage, const std::string& name) {
  return storage.lock_holder(name);
}

std::string describe(const storage::LockHolder& holder) {
  std::string text = holder.pid > 0 ? "pid " + std::to_string(holder.pid) : "pid unknown";
  if (!holder.host.empty()) text += " on host " + holder.host;
  return text;
}

RepositoryLock lock_stopped_streamer(storage::Storage& storage, const std::string& command) {
  try {
    return RepositoryLock(storage, kStreamLockName, command);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kRepository) throw;
    throw Error(ErrorCode::kRepository, std::string(e.what()) + ": '" + command + "' needs the streamer stopped",
                "stop 'walvault stream' for this repository (systemctl stop walvault-stream), then run it again");
  }
}

}  // namespace walvault::repo
