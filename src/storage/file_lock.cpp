#include "storage/file_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "common/error.hpp"
#include "storage/storage.hpp"

namespace walvault::storage {
namespace {

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

std::unique_ptr<FileLock> FileLock::take(const std::string& path, LockWait wait, mode_t mode) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, mode);
  if (fd < 0) throw file_error("open lock file", path, errno);
  const int operation = LOCK_EX | (wait == LockWait::kTry ? LOCK_NB : 0);
  while (::flock(fd, operation) != 0) {
    const int err = errno;
    if (err == EINTR) continue;
    ::close(fd);
    if (err == EWOULDBLOCK) return nullptr;
    throw file_error("lock", path, err);
  }
  return std::unique_ptr<FileLock>(new FileLock(fd, path));
}

std::optional<long> FileLock::holder(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::optional<long> pid;
  if (::flock(fd, LOCK_SH | LOCK_NB) != 0) {
    pid = errno == EWOULDBLOCK ? read_pid(fd).value_or(0) : std::optional<long>();
  }
  ::close(fd);  // also drops the shared lock if we got it
  return pid;
}

FileLock::~FileLock() { ::close(fd_); }  // closing drops the flock

void FileLock::record_pid() const {
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    throw file_error("write lock file", path_, errno);
  }
}

}  // namespace walvault::storage
