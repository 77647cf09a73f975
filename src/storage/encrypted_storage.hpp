// EncryptedStorage: the Storage of an encrypted repository (FORMAT.md, "Encryption"). It wraps the store that holds
// the bytes and encrypts every object but the few that must stay readable without the key (walvault.json, the
// keyrings, the locks): callers read and write plaintext exactly as on an unencrypted repository.
//
// - Immutable objects become encrypted objects (format/encrypted_object.hpp): written chunk by chunk under the
//   current data key and a fresh salt, read back chunk by chunk (ranged reads decrypt only the chunks they touch).
//   Encrypting the same plaintext twice gives different bytes, so the immutability rule compares plaintext: a
//   write of a name that exists succeeds when the existing object decrypts to the same bytes.
// - Append files become encrypted append logs: the file's content is kept in memory, and each sync() appends one
//   record holding what changed since the last one, so bytes already synced are never rewritten. A log is
//   rewritten whole (AppendFile::replace, atomic) under a fresh salt when it has grown to more than twice its
//   content, when it was opened with a torn last record or under a data key other than the current one.
// - Sizes (list, info) are plaintext sizes: computed from the stored size for immutable objects, read for append
//   logs (the `append` predicate names them: the streamer's tip and index tip logs).
//
// Errors: those of the inner store, and kCorrupt "<name> is damaged: ..." naming the chunk or record and its stored
// byte range when authentication fails (damage, or bytes written under another key), when an object that must be
// encrypted is not, or when it names a data key the keyring does not hold. Safe for concurrent use like any Storage.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "format/keyring.hpp"
#include "storage/storage.hpp"

namespace walvault::storage {

struct EncryptionNames {
  std::function<bool(std::string_view)> plain;   // stored as they are (walvault.json, keys/, locks/)
  std::function<bool(std::string_view)> append;  // append files
};

struct DataKeys {
  format::KeyId current{};
  std::vector<format::DataKey> keys;
};

class EncryptedStorage final : public Storage {
 public:
  // reload returns the newest keyring's data keys; it is called when an object names a data key that `keys` lacks
  // (another process re-encrypted meanwhile).
  EncryptedStorage(std::unique_ptr<Storage> inner, DataKeys keys, EncryptionNames names,
                   std::function<DataKeys()> reload);
  ~EncryptedStorage() override;

  // The store holding the encrypted bytes (copying a repository byte for byte, keyrings).
  [[nodiscard]] Storage& inner() { return *inner_; }
  [[nodiscard]] const Storage& inner() const { return *inner_; }
  // The data keys in use (the newest keyring's, as last read).
  [[nodiscard]] DataKeys data_keys() const;
  // The data key an encrypted object or log was written under (reads its header). Throws kNotFound, kCorrupt.
  [[nodiscard]] format::KeyId key_of(std::string_view name) const;

  [[nodiscard]] Capabilities capabilities() const override { return inner_->capabilities(); }
  [[nodiscard]] std::vector<ObjectInfo> list(std::string_view prefix) const override;
  [[nodiscard]] std::optional<uint64_t> info(std::string_view name) const override;
  [[nodiscard]] Bytes read(std::string_view name) const override;
  [[nodiscard]] Bytes read_range(std::string_view name, uint64_t offset, uint64_t length) const override;
  [[nodiscard]] std::optional<uint64_t> version(std::string_view name) const override { return inner_->version(name); }
  void write_atomic(std::string_view name, std::span<const std::byte> bytes) override;
  [[nodiscard]] std::unique_ptr<ObjectWriter> open_writer(std::string_view name,
                                                          WriteMode mode = WriteMode::kCreate) override;
  void remove(std::string_view name) override;
  [[nodiscard]] std::unique_ptr<AppendFile> open_append(std::string_view name) override;
  void publish_append(std::string_view from, std::string_view to) override;
  [[nodiscard]] std::unique_ptr<StorageLock> lock(std::string_view name, LockWait wait) override {
    return inner_->lock(name, wait);
  }
  [[nodiscard]] std::optional<LockHolder> lock_holder(std::string_view name) const override {
    return inner_->lock_holder(name);
  }
  [[nodiscard]] std::vector<ObjectInfo> sweep_temporaries(std::string_view prefix,
                                                          std::chrono::system_clock::time_point modified_before,
                                                          bool dry_run) override {
    return inner_->sweep_temporaries(prefix, modified_before, dry_run);
  }

 private:
  friend class EncryptedWriter;
  friend class EncryptedAppendFile;

  struct ObjectMeta {  // what ranged reads of an immutable object need, cached (objects do not change)
    std::array<std::byte, format::kEncryptedHeaderSize> header{};
    format::KeyBytes key{};  // the object's own key
    uint64_t plain_size = 0;
  };

  [[nodiscard]] format::KeyBytes data_key(std::string_view name, const format::KeyId& id) const;
  [[nodiscard]] format::DataKey current() const;
  [[nodiscard]] ObjectMeta object_meta(std::string_view name) const;
  [[nodiscard]] std::optional<Bytes> read_chunks(std::string_view name, const ObjectMeta& meta, uint64_t offset,
                                                 uint64_t length, std::string& failure) const;
  [[nodiscard]] Bytes decrypt(std::string_view name, std::span<const std::byte> stored) const;
  [[nodiscard]] uint64_t plain_size(std::string_view name, uint64_t stored_size) const;
  // Writes an encrypted object, with the immutability rule on plaintext.
  void write_encrypted(std::string_view name, std::span<const std::byte> plaintext, WriteMode mode);
  // Whether the existing object `name` decrypts to plaintext with this size and xxh3 checksum.
  [[nodiscard]] bool holds_plaintext(std::string_view name, uint64_t size, uint64_t checksum) const;

  std::unique_ptr<Storage> inner_;
  EncryptionNames names_;
  std::function<DataKeys()> reload_;
  mutable std::mutex mutex_;
  mutable DataKeys keys_;
  mutable std::map<std::string, ObjectMeta, std::less<>> metas_;
  std::map<std::string, class EncryptedAppendFile*, std::less<>> open_files_;
};

// The kCorrupt error for an encrypted object that fails to decrypt; detail names the chunk and its byte range.
[[nodiscard]] Error damaged_object(std::string_view name, const std::string& detail);

}  // namespace walvault::storage
