#include "storage/storage.hpp"

#include <cerrno>
#include <cstring>
#include <string>

namespace walvault::storage {

void check_object_name(std::string_view name) {
  const auto bad = [&] { return Error(ErrorCode::kInternal, "invalid object name \"" + std::string(name) + "\""); };
  if (name.empty() || name.size() > 1024) throw bad();
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = name.find('/', start);
    const std::string_view part =
        name.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (part.empty() || part.front() == '.') throw bad();
    for (const char c : part) {
      if (c == '\0' || c == '\\') throw bad();
    }
    if (slash == std::string_view::npos) return;
    start = slash + 1;
  }
}

void check_lock_name(std::string_view name) {
  check_object_name(name);
  if (name.find('/') != std::string_view::npos) {
    throw Error(ErrorCode::kInternal, "invalid lock name \"" + std::string(name) + "\"");
  }
}

Error content_conflict(std::string_view name) {
  return Error(ErrorCode::kCorrupt, "object " + std::string(name) + " exists with different content",
               "the repository already holds different bytes under this name; check that only one cluster and one "
               "walvault process write to this repository");
}

Error disk_full(std::string message) {
  return Error(ErrorCode::kIo, std::move(message),
               "the repository's filesystem is full: free space or grow it ('walvault expire' removes old backups "
               "and the WAL only they needed); 'walvault stream' waits and resumes by itself",
               /*retryable=*/true, ErrorCause::kDiskFull);
}

Error file_error(const std::string& what, const std::string& path, int err) {
  std::string message = "cannot " + what + " " + path + ": " + std::strerror(err);
  if (err == ENOSPC || err == EDQUOT) return disk_full(std::move(message));
  return Error(ErrorCode::kIo, std::move(message), "check the permissions and free space of the repository directory",
               err == EINTR || err == EAGAIN);
}

namespace {

// The default view: a read() copy.
class ReadView final : public ObjectView {
 public:
  explicit ReadView(Bytes bytes) : bytes_(std::move(bytes)) {}
  [[nodiscard]] std::span<const std::byte> bytes() const noexcept override { return bytes_; }

 private:
  Bytes bytes_;
};

}  // namespace

std::unique_ptr<ObjectView> Storage::view(std::string_view name) const {
  return std::make_unique<ReadView>(read(name));
}

std::function<Bytes(uint64_t offset, uint64_t length)> range_reader(const Storage& storage, std::string name) {
  return [&storage, name = std::move(name)](uint64_t offset, uint64_t length) {
    return storage.read_range(name, offset, length);
  };
}

}  // namespace walvault::storage
