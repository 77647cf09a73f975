#include "repo/lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/error.hpp"

namespace walvault::repo {
namespace {

std::string lock_path(const std::string& root, const std::string& name) { return root + "/locks/" + name + ".lock"; }

std::optional<long> read_pid(int fd) {
  char buf[32] = {};
  const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return std::nullopt;
  char* end = nullptr;
  const long pid = std::strtol(buf, &end, 10);
  if (end == buf || pid <= 0) return std::nullopt;
  return pid;
}

}  // namespace

RepositoryLock::RepositoryLock(const std::string& root, const std::string& name, const std::string& role) {
  const std::string path = lock_path(root, name);
  std::error_code ec;
  std::filesystem::create_directories(root + "/locks", ec);
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    throw Error(ErrorCode::kIo, "cannot open lock file " + path + ": " + std::strerror(errno),
                "check that this user may write to the repository");
  }
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    const auto pid = read_pid(fd_);
    ::close(fd_);
    fd_ = -1;
    if (err == EWOULDBLOCK) {
      throw Error(ErrorCode::kRepository,
                  "repository is locked by another " + role + (pid ? " (pid " + std::to_string(*pid) + ")" : ""),
                  "only one " + role + " may run per repository; stop the other one first (see 'walvault status')");
    }
    throw Error(ErrorCode::kIo, "cannot lock " + path + ": " + std::strerror(err));
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) != 0 ||
      ::pwrite(fd_, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    throw Error(ErrorCode::kIo, "cannot write lock file " + path + ": " + std::strerror(err));
  }
}

RepositoryLock::~RepositoryLock() {
  if (fd_ >= 0) ::close(fd_);  // closing drops the flock
}

std::optional<long> RepositoryLock::holder(const std::string& root, const std::string& name) {
  const int fd = ::open(lock_path(root, name).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::optional<long> pid;
  if (::flock(fd, LOCK_SH | LOCK_NB) != 0) {
    pid = errno == EWOULDBLOCK ? read_pid(fd).value_or(0) : std::optional<long>();
  }
  ::close(fd);  // also drops the shared lock if we got it
  return pid;
}

}  // namespace walvault::repo
