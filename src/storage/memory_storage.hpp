// MemoryStorage: the Storage interface in memory, with fault injection, for tests.
//
// Behaves like PosixStorage (same contract, same behavioural test suite) and adds three faults:
//   - fail_operation(n): the n-th operation from now throws kIo ("injected failure", retryable). Every Storage
//     method call counts as one operation, and so does every ObjectWriter write/commit and AppendFile
//     write_at/truncate/sync call. A failed write_at is torn: the first half of its bytes lands (unsynced).
//   - set_capacity(bytes): a full disk. Objects, append files and pending writers together may hold at most that
//     many bytes; a write that does not fit lands the part that does (a short write) and throws disk_full().
//     nullopt (the default) is unlimited.
//   - crash(): what a power loss does. Bytes written to append files since their last sync() are dropped, and
//     pending ObjectWriters are lost (their commit throws kIo). Every handle opened before the crash is dead:
//     its calls throw kIo. Committed objects and synced bytes survive.
// Handles (ObjectWriter, AppendFile) must not outlive the MemoryStorage that made them.
#pragma once

#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <set>

#include "storage/storage.hpp"

namespace walvault::storage {

class MemoryStorage final : public Storage {
 public:
  // append: whether to offer open_append() (false mimics an object store).
  explicit MemoryStorage(bool append = true) : append_(append) {}

  [[nodiscard]] Capabilities capabilities() const override;
  [[nodiscard]] std::vector<ObjectInfo> list(std::string_view prefix) const override;
  [[nodiscard]] std::optional<uint64_t> info(std::string_view name) const override;
  [[nodiscard]] Bytes read(std::string_view name) const override;
  [[nodiscard]] Bytes read_range(std::string_view name, uint64_t offset, uint64_t length) const override;
  void write_atomic(std::string_view name, std::span<const std::byte> bytes) override;
  [[nodiscard]] std::unique_ptr<ObjectWriter> open_writer(std::string_view name,
                                                          WriteMode mode = WriteMode::kCreate) override;
  void remove(std::string_view name) override;
  [[nodiscard]] std::unique_ptr<AppendFile> open_append(std::string_view name) override;
  void publish_append(std::string_view from, std::string_view to) override;
  [[nodiscard]] std::unique_ptr<StorageLock> lock(std::string_view name, LockWait wait) override;
  [[nodiscard]] std::optional<LockHolder> lock_holder(std::string_view name) const override;

  // Fault injection (see the top of this file). n ≥ 1; n == 1 fails the very next operation.
  void fail_operation(uint64_t n);
  void set_capacity(std::optional<uint64_t> bytes);
  // Operations counted so far.
  [[nodiscard]] uint64_t operations() const;
  void crash();

 private:
  friend class MemoryObjectWriter;
  friend class MemoryAppendFile;
  friend class MemoryLock;

  struct Object {
    Bytes data;
    uint64_t synced = 0;  // durable prefix (== data.size() for committed objects)
  };

  // Counts one operation and throws the injected failure when it is due. Caller holds mutex_.
  void count_operation() const;
  void check_generation(uint64_t generation) const;
  void commit_object(const std::string& name, Bytes data);
  // How many of `wanted` more bytes fit under the capacity. Caller holds mutex_.
  [[nodiscard]] uint64_t room_for(uint64_t wanted) const;
  void unlock(const std::string& name);

  mutable std::mutex mutex_;
  std::map<std::string, Object, std::less<>> objects_;
  mutable uint64_t operations_ = 0;
  mutable uint64_t fail_at_ = 0;  // operation number that fails; 0 = none
  uint64_t generation_ = 0;       // bumped by crash()
  bool append_;
  std::optional<uint64_t> capacity_;
  uint64_t pending_bytes_ = 0;  // held by uncommitted ObjectWriters
  std::set<std::string, std::less<>> locks_;
  std::condition_variable unlocked_;
};

}  // namespace walvault::storage
