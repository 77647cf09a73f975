// PosixStorage: the Storage interface over a local directory (the repository root).
//
// Every object is a file under the root. New objects are written to a temporary file in the same directory
// (".<name>.<pid>.<n>.tmp", never listed), fsync'ed, moved into place with a no-replace rename (renameat2
// RENAME_NOREPLACE, or link()+unlink() where the filesystem lacks it) and the directory is fsync'ed, so an object
// is either absent or complete and durable. Missing parent directories are created and their parents fsync'ed.
// A writer holds an flock on its temporary file until it is published or discarded; temporary files left by a
// killed process are ignored by list() and removed by sweep_temporaries() once old and unlocked. view() maps the
// file read-only (objects never change once written, so the mapping cannot be cut short under a reader).
// lock(name) is an flock on <root>/locks/<name>.lock, so it excludes other processes and is dropped by the kernel
// when its holder dies.
// Errors as in storage.hpp; kIo messages name the path and the system error (ENOSPC and EDQUOT: disk_full()).
#pragma once

#include <string>

#include "storage/storage.hpp"

namespace walvault::storage {

class PosixStorage final : public Storage {
 public:
  // root: the repository directory. It is created (with its parents) on the first write if missing.
  explicit PosixStorage(std::string root);

  [[nodiscard]] Capabilities capabilities() const override;
  [[nodiscard]] std::vector<ObjectInfo> list(std::string_view prefix) const override;
  [[nodiscard]] std::optional<uint64_t> info(std::string_view name) const override;
  [[nodiscard]] std::optional<uint64_t> version(std::string_view name) const override;
  [[nodiscard]] Bytes read(std::string_view name) const override;
  [[nodiscard]] Bytes read_range(std::string_view name, uint64_t offset, uint64_t length) const override;
  [[nodiscard]] std::unique_ptr<ObjectView> view(std::string_view name) const override;
  void write_atomic(std::string_view name, std::span<const std::byte> bytes) override;
  [[nodiscard]] std::unique_ptr<ObjectWriter> open_writer(std::string_view name,
                                                          WriteMode mode = WriteMode::kCreate) override;
  void remove(std::string_view name) override;
  [[nodiscard]] std::unique_ptr<AppendFile> open_append(std::string_view name) override;
  void publish_append(std::string_view from, std::string_view to) override;
  [[nodiscard]] std::unique_ptr<StorageLock> lock(std::string_view name, LockWait wait) override;
  [[nodiscard]] std::optional<LockHolder> lock_holder(std::string_view name) const override;
  [[nodiscard]] std::vector<ObjectInfo> sweep_temporaries(std::string_view prefix,
                                                          std::chrono::system_clock::time_point modified_before,
                                                          bool dry_run) override;

  [[nodiscard]] const std::string& root() const noexcept { return root_; }

 private:
  std::string root_;
};

}  // namespace walvault::storage
