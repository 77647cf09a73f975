#include "repo/lock.hpp"

#include <filesystem>

#include "common/error.hpp"

namespace walvault::repo {
namespace {

std::string lock_path(const std::string& root, const std::string& name) { return root + "/locks/" + name + ".lock"; }

}  // namespace

RepositoryLock::RepositoryLock(const std::string& root, const std::string& name, const std::string& role) {
  const std::string path = lock_path(root, name);
  std::error_code ec;
  std::filesystem::create_directories(root + "/locks", ec);
  lock_ = storage::FileLock::take(path, storage::LockWait::kTry, 0644);
  if (!lock_) {
    const auto pid = storage::FileLock::holder(path);
    throw Error(ErrorCode::kRepository,
                "repository is locked by another " + role +
                    (pid && *pid > 0 ? " (pid " + std::to_string(*pid) + ")" : ""),
                "only one " + role + " may run per repository; stop the other one first (see 'walvault status')");
  }
  lock_->record_pid();
}

std::optional<long> RepositoryLock::holder(const std::string& root, const std::string& name) {
  return storage::FileLock::holder(lock_path(root, name));
}

RepositoryLock lock_stopped_streamer(const std::string& root, const std::string& command) {
  try {
    return RepositoryLock(root, "stream", command);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kRepository) throw;
    throw Error(ErrorCode::kRepository, std::string(e.what()) + ": '" + command + "' needs the streamer stopped",
                "stop 'walvault stream' for this repository (systemctl stop walvault-stream), then run it again");
  }
}

}  // namespace walvault::repo
