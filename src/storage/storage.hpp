// Storage: the one interface through which walvault reads and writes its repository (see format/FORMAT.md,
// "Repository layout").
//
// Objects are named by relative paths such as "wal/000000010000000000000004.wvs": '/'-separated, no leading
// '/', no empty, "." or ".." components, and no component starting with '.' (reserved for temporary files).
// Objects are immutable once written: write_atomic() and ObjectWriter::commit() never replace an existing object
// with different content (pgBackRest archive-push semantics: the same bytes again succeed, different bytes are a
// hard error). The only mutable objects are append files (the live tip), available when capabilities().append.
//
// The interface is shaped for object stores too: everything a caller needs is list/read/read_range/write/remove;
// directories, renames and fsync are the backend's business. An S3 backend maps ObjectWriter to a multipart
// upload and reports capabilities().append == false; the streamer's append files then live in a local store and
// publish_append() becomes an upload.
//
// Errors: every method throws walvault::Error. kNotFound when a named object does not exist (only where stated),
// kCorrupt when an object exists with different content, kIo for any failure of the underlying store (retryable
// when the backend says so; a full store is retryable with ErrorCause::kDiskFull, see disk_full()), kInternal for
// an invalid object name or an unsupported optional operation (both are programmer errors). Implementations are
// safe to call from several threads; a single ObjectWriter or AppendFile is used by one thread at a time.
#pragma once

#include <chrono>
#include <functional>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace walvault::storage {

using Bytes = std::vector<std::byte>;

struct ObjectInfo {
  std::string name;  // full relative name, e.g. "wal/000000010000000000000004.wvs"
  uint64_t size = 0;
  auto operator<=>(const ObjectInfo&) const = default;
};

struct Capabilities {
  // open_append() is supported: an object can be grown in place and made durable with sync().
  bool append = false;
  // The objects are plain files under this directory (so, for example, locks/ can use flock). Unset for
  // remote stores.
  std::optional<std::string> local_root;
};

// A streaming write of one new object. Bytes become visible under the name only at commit(), atomically and
// durably. Destroying a writer that was not committed aborts it. After commit() or abort() no call but the
// destructor is allowed (kInternal).
class ObjectWriter {
 public:
  virtual ~ObjectWriter() = default;
  ObjectWriter() = default;
  ObjectWriter(const ObjectWriter&) = delete;
  ObjectWriter& operator=(const ObjectWriter&) = delete;

  // Appends bytes to the pending object. Throws kIo.
  virtual void write(std::span<const std::byte> bytes) = 0;
  // Makes the object durable and visible. If an object of that name already exists: same content → success
  // (the pending copy is discarded), different content → kCorrupt "object exists with different content".
  // Throws kIo. On any throw the pending object is discarded.
  virtual void commit() = 0;
  // Discards the pending object. Never throws.
  virtual void abort() noexcept = 0;
  // Bytes written so far.
  [[nodiscard]] virtual uint64_t size() const = 0;
};

// A mutable object grown in place (the in-progress WAL segment, the index tip log). Writes are durable only
// after sync(); a crash may drop anything written since the last sync(), but never earlier bytes.
class AppendFile {
 public:
  virtual ~AppendFile() = default;
  AppendFile() = default;
  AppendFile(const AppendFile&) = delete;
  AppendFile& operator=(const AppendFile&) = delete;

  // Current size in bytes (including unsynced writes).
  [[nodiscard]] virtual uint64_t size() const = 0;
  // Writes bytes at offset (≤ size(); the file grows as needed). Throws kIo, kInternal when offset > size().
  virtual void write_at(uint64_t offset, std::span<const std::byte> bytes) = 0;
  // write_at(size(), bytes).
  void append(std::span<const std::byte> bytes) { write_at(size(), bytes); }
  // Cuts the file to length bytes (≤ size(); used to drop a torn tail). Throws kIo, kInternal.
  virtual void truncate(uint64_t length) = 0;
  // Makes everything written so far durable. Throws kIo.
  virtual void sync() = 0;
  // Replaces the whole content with bytes, atomically and durably: a crash leaves the old content or the new, never
  // a mix (local stores write a new file and rename it over; S3 writes one piece at offset 0). Throws kIo.
  virtual void replace(std::span<const std::byte> bytes) = 0;
};

// How Storage::lock() behaves when another holder has the lock.
// A whole object held for reading (Storage::view): its bytes stay valid and unchanged while the view lives.
class ObjectView {
 public:
  virtual ~ObjectView() = default;
  ObjectView() = default;
  ObjectView(const ObjectView&) = delete;
  ObjectView& operator=(const ObjectView&) = delete;
  [[nodiscard]] virtual std::span<const std::byte> bytes() const noexcept = 0;
};

enum class LockWait { kWait, kTry };

// What open_writer() does when the name exists. kCreate: the immutability rule (same bytes succeed, different bytes
// are a conflict). kReplace: the new bytes replace the old ones atomically (readers see the old object or the new,
// never neither); only for rewriting an object with the same content in another form (re-encryption, `walvault key
// rotate --reencrypt`).
enum class WriteMode { kCreate, kReplace };

// An exclusive repository-wide lock, released when destroyed (or when the process dies).
class StorageLock {
 public:
  virtual ~StorageLock() = default;
  StorageLock() = default;
  StorageLock(const StorageLock&) = delete;
  StorageLock& operator=(const StorageLock&) = delete;
  // Whether the lock was taken away from this holder (a lease whose renewals failed for longer than it lasts, and
  // that another process then took over). Local locks are never lost.
  [[nodiscard]] virtual bool lost() const noexcept { return false; }
};

// Who holds a lock, as far as the store can tell: pid 0 when unknown, host empty for this machine.
struct LockHolder {
  long pid = 0;
  std::string host;
};

class Storage {
 public:
  virtual ~Storage() = default;
  Storage() = default;
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  [[nodiscard]] virtual Capabilities capabilities() const = 0;

  // Every object whose name starts with prefix (a plain string prefix, as in S3: "wal/" or "wal/00000002"),
  // sorted by name. Throws kIo.
  [[nodiscard]] virtual std::vector<ObjectInfo> list(std::string_view prefix) const = 0;
  // The size of an object, or nullopt when it does not exist. Throws kIo.
  [[nodiscard]] virtual std::optional<uint64_t> info(std::string_view name) const = 0;
  // The whole object. Throws kNotFound, kIo.
  [[nodiscard]] virtual Bytes read(std::string_view name) const = 0;
  // Up to length bytes from offset; fewer only when the object ends first (none when offset ≥ size).
  // Throws kNotFound, kIo.
  [[nodiscard]] virtual Bytes read_range(std::string_view name, uint64_t offset, uint64_t length) const = 0;
  // Optional. A token that changes whenever the object is rewritten or modified in place, without reading it
  // (POSIX: its inode, modification and change times); nullopt when the store has none, which is the default.
  // verify re-reads an object whose token changed even when its size and last bytes did not. Throws kNotFound, kIo.
  [[nodiscard]] virtual std::optional<uint64_t> version(std::string_view /*name*/) const { return std::nullopt; }
  // Optional. The whole object, held for reading until the view is destroyed. Only for immutable objects, not an
  // append file. Local stores map the file (no copy out of the page cache: about 9 % of a full verify's CPU);
  // the default holds read(). Throws kNotFound, kIo.
  [[nodiscard]] virtual std::unique_ptr<ObjectView> view(std::string_view name) const;

  // Writes a whole object atomically and durably; same semantics as ObjectWriter::commit(). Throws kCorrupt, kIo.
  virtual void write_atomic(std::string_view name, std::span<const std::byte> bytes) = 0;
  // Starts a streaming write of a new object (see ObjectWriter), or of a replacement (WriteMode). Throws kIo.
  [[nodiscard]] virtual std::unique_ptr<ObjectWriter> open_writer(std::string_view name,
                                                                  WriteMode mode = WriteMode::kCreate) = 0;
  // Removes an object; removing a missing object succeeds. Not for use on an object with an open AppendFile.
  // Throws kIo.
  virtual void remove(std::string_view name) = 0;
  // Opens (creating it empty and durable if missing) a mutable object. Only when capabilities().append, else
  // kInternal. Throws kIo.
  [[nodiscard]] virtual std::unique_ptr<AppendFile> open_append(std::string_view name) = 0;
  // Makes the append file `from` (synced first) the immutable object `to`, with the same semantics as
  // ObjectWriter::commit() for an existing `to`, and removes `from`: readers see `from` until `to` exists. Local
  // stores rename it (no copy). On a throw `from` is left as it was. Only when capabilities().append, else
  // kInternal. Throws kNotFound (no `from`), kCorrupt, kIo.
  virtual void publish_append(std::string_view from, std::string_view to) = 0;
  // Takes the exclusive lock `name` (one name component, e.g. "index") that every process using this repository
  // shares, for maintenance that must not run twice at once (index compaction). kWait blocks until it is free;
  // kTry returns nullptr when another holder has it. Not reentrant: a second lock of the same name conflicts even
  // in the same process. Throws kIo.
  [[nodiscard]] virtual std::unique_ptr<StorageLock> lock(std::string_view name, LockWait wait) = 0;
  // The holder of the lock `name`, or nullopt when nobody holds it (an expired lease counts as free). Never takes
  // it. Throws kIo.
  [[nodiscard]] virtual std::optional<LockHolder> lock_holder(std::string_view name) const = 0;

  // Optional. The temporary files of writes that a killed process left behind under prefix (a plain string prefix
  // of their path, "" for all), last modified before modified_before and not in use by a live writer: removed, or
  // only listed when dry_run. Returned by their path relative to the repository (their names start with '.', so
  // they are not object names). Stores whose interrupted writes leave nothing behind return nothing, which is the
  // default. Throws kIo.
  [[nodiscard]] virtual std::vector<ObjectInfo> sweep_temporaries(
      std::string_view /*prefix*/, std::chrono::system_clock::time_point /*modified_before*/, bool /*dry_run*/) {
    return {};
  }
};

// Ranged reads of one object as a function (the shape of format::RangeReader). storage must outlive it.
[[nodiscard]] std::function<Bytes(uint64_t offset, uint64_t length)> range_reader(const Storage& storage,
                                                                                   std::string name);

// Throws kInternal unless name is a valid object name (see the top of this file).
void check_object_name(std::string_view name);
// Throws kInternal unless name is a valid lock name (Storage::lock: one object name component).
void check_lock_name(std::string_view name);
// The kCorrupt error for a write that would replace an object with different content.
[[nodiscard]] Error content_conflict(std::string_view name);
// The kIo error for a write the store refused because it is full (ENOSPC, EDQUOT): retryable, with
// ErrorCause::kDiskFull and a hint on freeing space. message names what failed ("cannot write <path>: ...").
[[nodiscard]] Error disk_full(std::string message);
// The error for a failed system call on a local file: "cannot <what> <path>: <strerror>"; disk_full() for ENOSPC
// and EDQUOT, otherwise kIo (retryable for EINTR and EAGAIN).
[[nodiscard]] Error file_error(const std::string& what, const std::string& path, int err);

}  // namespace walvault::storage
