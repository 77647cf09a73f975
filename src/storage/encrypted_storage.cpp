#include "storage/encrypted_storage.hpp"

#include <algorithm>

#include "common/random.hpp"
#include "format/checksum.hpp"
#include "format/encrypted_object.hpp"

namespace walvault::storage {
namespace {

constexpr std::size_t kMetaCacheEntries = 4096;
constexpr uint64_t kLogSlack = 64 * 1024;  // a log is rewritten once it exceeds twice its content plus this
constexpr uint64_t kRewriteRecord = 1 << 20;  // a rewritten log's records hold at most this (memory when replayed)

format::EncryptedHeader fresh_header(uint16_t kind, const format::KeyId& key) {
  format::EncryptedHeader header{kind, key, {}};
  fill_random(header.salt);
  return header;
}

}  // namespace

Error damaged_object(std::string_view name, const std::string& detail) {
  return Error(ErrorCode::kCorrupt, std::string(name) + " is damaged: " + detail,
               "the object changed after walvault wrote it (or was written under another key); 'walvault verify "
               "--full' lists every damaged object");
}

// --- immutable objects: a streaming writer ----------------------------------------------------------------------

class EncryptedWriter final : public ObjectWriter {
 public:
  EncryptedWriter(EncryptedStorage& owner, std::string name, WriteMode mode)
      : owner_(owner), name_(std::move(name)), inner_(owner.inner_->open_writer(name_, mode)), mode_(mode) {
    const format::DataKey key = owner_.current();
    const auto header = fresh_header(format::kEncryptedObjectKind, key.id);
    header_ = format::encode_encrypted_header(header);
    key_ = format::object_key(key.key, header.salt);
    inner_->write(header_);
  }

  void write(std::span<const std::byte> bytes) override {
    check_open();
    hasher_.update(bytes);
    size_ += bytes.size();
    while (!bytes.empty()) {
      if (pending_.size() == format::kEncryptedChunkSize) seal(false);  // more follows: not the last chunk
      const std::size_t n = std::min<std::size_t>(bytes.size(), format::kEncryptedChunkSize - pending_.size());
      pending_.insert(pending_.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
      bytes = bytes.subspan(n);
    }
  }

  void commit() override {
    check_open();
    open_ = false;
    seal(true);
    try {
      inner_->commit();
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kCorrupt || mode_ == WriteMode::kReplace ||
          !owner_.holds_plaintext(name_, size_, hasher_.digest())) {
        throw;
      }
    }
  }
  void abort() noexcept override {
    open_ = false;
    inner_->abort();
  }
  [[nodiscard]] uint64_t size() const override { return size_; }

 private:
  void check_open() const {
    if (!open_) throw Error(ErrorCode::kInternal, "object writer for " + name_ + " used after commit or abort");
  }

  void seal(bool last) {
    const auto sealed = format::seal_chunk(key_, header_, index_++, last, pending_);
    inner_->write(sealed);
    pending_.clear();
  }

  EncryptedStorage& owner_;
  std::string name_;
  std::unique_ptr<ObjectWriter> inner_;
  WriteMode mode_;
  std::array<std::byte, format::kEncryptedHeaderSize> header_{};
  format::KeyBytes key_{};
  Bytes pending_;
  uint64_t index_ = 0;
  uint64_t size_ = 0;
  format::Hasher hasher_;
  bool open_ = true;
};

// --- append files: an append log of records -------------------------------------------------------------------

class EncryptedAppendFile final : public AppendFile {
 public:
  EncryptedAppendFile(EncryptedStorage& owner, std::string name)
      : owner_(owner), name_(std::move(name)), inner_(owner.inner_->open_append(name_)) {
    if (inner_->size() == 0) {  // new, or its creation was cut short before the header
      rewrite({});
    } else {
      const Bytes bytes = owner_.inner_->read(name_);
      const auto header = log_header(bytes);
      const auto log = format::parse_encrypted_log(owner_.data_key(name_, header.key_id), bytes);
      if (!log) throw damaged_object(name_, log.error());
      size_ = log->content.size();
      if (log->valid_length != bytes.size() || header.key_id != owner_.current().id) {
        rewrite(log->content);  // a torn record (its nonce must not be used again), or a retired data key
      } else {
        std::copy_n(bytes.begin(), format::kEncryptedHeaderSize, header_.begin());
        key_ = format::object_key(owner_.data_key(name_, header.key_id), header.salt);
        records_ = log->records;
        stored_ = bytes.size();
      }
    }
    const std::lock_guard lock(owner_.mutex_);
    owner_.open_files_[name_] = this;
  }
  ~EncryptedAppendFile() override {
    const std::lock_guard lock(owner_.mutex_);
    if (const auto it = owner_.open_files_.find(name_); it != owner_.open_files_.end() && it->second == this) {
      owner_.open_files_.erase(it);
    }
  }
  EncryptedAppendFile(const EncryptedAppendFile&) = delete;
  EncryptedAppendFile& operator=(const EncryptedAppendFile&) = delete;

  [[nodiscard]] uint64_t size() const override { return size_; }

  // Only what changed since the last sync is in memory: the content from changed_from_ on. A change that starts
  // below it takes along what the synced content holds between its end and changed_from_ (read back: the stream
  // state rewrites itself whole, the tip only appends and cuts, so that read is rare).
  void write_at(uint64_t offset, std::span<const std::byte> bytes) override {
    if (offset > size_) throw Error(ErrorCode::kInternal, "append file " + name_ + ": write beyond the end");
    if (bytes.empty()) return;
    const uint64_t from = changed_from_.value_or(size_);
    if (offset < from) {
      Bytes changed = offset + bytes.size() < from ? synced_range(offset + bytes.size(), from) : Bytes();
      changed.insert(changed.begin(), bytes.begin(), bytes.end());
      const uint64_t end = offset + changed.size();  // the changes now start at offset and run to end
      if (end < size_) {
        changed.insert(changed.end(), pending_.begin() + static_cast<std::ptrdiff_t>(end - from), pending_.end());
      }
      changed_from_ = offset;
      pending_ = std::move(changed);
    } else {
      const uint64_t at = offset - from;
      if (pending_.size() < at + bytes.size()) pending_.resize(at + bytes.size());
      std::copy(bytes.begin(), bytes.end(), pending_.begin() + static_cast<std::ptrdiff_t>(at));
      changed_from_ = from;
    }
    size_ = std::max<uint64_t>(size_, offset + bytes.size());
  }

  void truncate(uint64_t length) override {
    if (length > size_) throw Error(ErrorCode::kInternal, "append file " + name_ + ": truncate beyond the end");
    if (length == size_) return;
    const uint64_t from = changed_from_.value_or(size_);
    if (length >= from) {
      pending_.resize(length - from);
    } else {
      changed_from_ = length;  // a record that only cuts
      pending_.clear();
    }
    size_ = length;
  }

  void sync() override {
    if (!changed_from_) return;
    const auto record = format::seal_log_record(key_, header_, records_, *changed_from_, pending_);
    if (stored_ + record.size() > 2 * (size_ + format::kEncryptedHeaderSize) + kLogSlack) {
      Bytes content = synced_range(0, *changed_from_);
      content.insert(content.end(), pending_.begin(), pending_.end());
      rewrite(content);
      return;
    }
    inner_->append(record);
    inner_->sync();
    stored_ += record.size();
    ++records_;
    changed_from_.reset();
    pending_.clear();
  }

  void replace(std::span<const std::byte> bytes) override {
    size_ = bytes.size();
    rewrite(bytes);
  }

  // Writes the synced content to out, a record at a time (publish_append: never the whole segment in memory).
  void copy_to(ObjectWriter& out) {
    sync();
    const Bytes bytes = owner_.inner_->read(name_);
    const auto header = log_header(bytes);
    const auto replayed = format::replay_encrypted_log(owner_.data_key(name_, header.key_id), bytes,
                                                       [&](std::span<const std::byte> piece) { out.write(piece); });
    if (!replayed) throw damaged_object(name_, replayed.error());
    if (*replayed != size_) {
      throw damaged_object(name_, "it holds " + std::to_string(*replayed) + " bytes where " + std::to_string(size_) +
                                      " were written");
    }
  }

 private:
  [[nodiscard]] format::EncryptedHeader log_header(std::span<const std::byte> bytes) const {
    const auto header = format::decode_encrypted_header(bytes);
    if (!header || header->kind != format::kEncryptedLogKind) {
      throw damaged_object(name_, header ? "it is an encrypted object, not an append log" : "it " + header.error());
    }
    return *header;
  }

  // Synced content [from, to), read back and decrypted.
  [[nodiscard]] Bytes synced_range(uint64_t from, uint64_t to) const {
    const Bytes bytes = owner_.inner_->read(name_);
    auto log = format::parse_encrypted_log(owner_.data_key(name_, log_header(bytes).key_id), bytes);
    if (!log) throw damaged_object(name_, log.error());
    if (log->content.size() < to) throw damaged_object(name_, "it is shorter than what was synced");
    return Bytes(log->content.begin() + static_cast<std::ptrdiff_t>(from),
                 log->content.begin() + static_cast<std::ptrdiff_t>(to));
  }

  // The whole content under the current data key and a fresh salt, in records of at most kRewriteRecord bytes,
  // replacing the log atomically.
  void rewrite(std::span<const std::byte> content) {
    const format::DataKey current = owner_.current();
    const auto header = fresh_header(format::kEncryptedLogKind, current.id);
    header_ = format::encode_encrypted_header(header);
    key_ = format::object_key(current.key, header.salt);
    Bytes log(header_.begin(), header_.end());
    records_ = 0;
    uint64_t at = 0;
    do {
      const auto piece = content.subspan(at, std::min<uint64_t>(kRewriteRecord, content.size() - at));
      const auto record = format::seal_log_record(key_, header_, records_++, at, piece);
      log.insert(log.end(), record.begin(), record.end());
      at += piece.size();
    } while (at < content.size());
    inner_->replace(log);
    stored_ = log.size();
    changed_from_.reset();
    pending_.clear();
  }

  EncryptedStorage& owner_;
  std::string name_;
  std::unique_ptr<AppendFile> inner_;
  uint64_t size_ = 0;
  std::optional<uint64_t> changed_from_;  // the lowest offset changed since the last sync
  Bytes pending_;                         // the content from changed_from_ on
  std::array<std::byte, format::kEncryptedHeaderSize> header_{};
  format::KeyBytes key_{};
  uint64_t records_ = 0;
  uint64_t stored_ = 0;
};

// --- the storage -----------------------------------------------------------------------------------------------

EncryptedStorage::EncryptedStorage(std::unique_ptr<Storage> inner, DataKeys keys, EncryptionNames names,
                                   std::function<DataKeys()> reload)
    : inner_(std::move(inner)), names_(std::move(names)), reload_(std::move(reload)), keys_(std::move(keys)) {}

EncryptedStorage::~EncryptedStorage() = default;

DataKeys EncryptedStorage::data_keys() const {
  const std::lock_guard lock(mutex_);
  return keys_;
}

format::DataKey EncryptedStorage::current() const {
  const std::lock_guard lock(mutex_);
  for (const auto& k : keys_.keys) {
    if (k.id == keys_.current) return k;
  }
  throw Error(ErrorCode::kInternal, "the keyring's current data key is not among its keys");
}

format::KeyBytes EncryptedStorage::data_key(std::string_view name, const format::KeyId& id) const {
  const auto find = [&]() -> std::optional<format::KeyBytes> {
    const std::lock_guard lock(mutex_);
    for (const auto& k : keys_.keys) {
      if (k.id == id) return k.key;
    }
    return std::nullopt;
  };
  if (auto key = find()) return *key;
  DataKeys newer = reload_();  // re-encrypted meanwhile by another process?
  {
    const std::lock_guard lock(mutex_);
    keys_ = std::move(newer);
  }
  if (auto key = find()) return *key;
  throw damaged_object(name, "it was written under data key " + format::key_id_text(id) +
                                 ", which the repository's keyring does not hold");
}

format::KeyId EncryptedStorage::key_of(std::string_view name) const {
  const Bytes head = inner_->read_range(name, 0, format::kEncryptedHeaderSize);
  const auto header = format::decode_encrypted_header(head);
  if (!header) throw damaged_object(name, "it " + header.error());
  return header->key_id;
}

uint64_t EncryptedStorage::plain_size(std::string_view name, uint64_t stored_size) const {
  if (names_.append(name)) {
    if (stored_size == 0) return 0;
    return read(name).size();
  }
  // A size that fits no chunking is a truncated object: reading it reports the damage.
  return format::encrypted_plain_size(stored_size).value_or(stored_size);
}

std::vector<ObjectInfo> EncryptedStorage::list(std::string_view prefix) const {
  std::vector<ObjectInfo> out;
  for (ObjectInfo info : inner_->list(prefix)) {
    if (!names_.plain(info.name)) {
      try {
        info.size = plain_size(info.name, info.size);
      } catch (const Error& e) {
        if (e.code() == ErrorCode::kNotFound) continue;  // removed since the listing
        throw;
      }
    }
    out.push_back(std::move(info));
  }
  return out;
}

std::optional<uint64_t> EncryptedStorage::info(std::string_view name) const {
  const auto stored = inner_->info(name);
  if (!stored || names_.plain(name)) return stored;
  try {
    return plain_size(name, *stored);
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kNotFound) return std::nullopt;
    throw;
  }
}

Bytes EncryptedStorage::decrypt(std::string_view name, std::span<const std::byte> stored) const {
  if (stored.empty() && names_.append(name)) return {};  // an append file whose creation was cut short
  if (!format::looks_encrypted(stored)) {
    throw damaged_object(name, "it is not encrypted (no encrypted header), in an encrypted repository");
  }
  const auto header = format::decode_encrypted_header(stored);
  if (!header) throw damaged_object(name, "it " + header.error());
  const format::KeyBytes key = data_key(name, header->key_id);
  if (header->kind == format::kEncryptedLogKind) {
    auto log = format::parse_encrypted_log(key, stored);
    if (!log) throw damaged_object(name, log.error());
    return std::move(log->content);
  }
  auto plain = format::decrypt_object(key, stored);
  if (!plain) throw damaged_object(name, plain.error());
  return std::move(*plain);
}

Bytes EncryptedStorage::read(std::string_view name) const {
  if (names_.plain(name)) return inner_->read(name);
  return decrypt(name, inner_->read(name));
}

EncryptedStorage::ObjectMeta EncryptedStorage::object_meta(std::string_view name) const {
  {
    const std::lock_guard lock(mutex_);
    if (const auto it = metas_.find(name); it != metas_.end()) return it->second;
  }
  const auto stored = inner_->info(name);
  if (!stored) throw Error(ErrorCode::kNotFound, "object " + std::string(name) + " does not exist");
  const Bytes head = inner_->read_range(name, 0, format::kEncryptedHeaderSize);
  if (!format::looks_encrypted(head)) {
    throw damaged_object(name, "it is not encrypted (no encrypted header), in an encrypted repository");
  }
  const auto header = format::decode_encrypted_header(head);
  if (!header) throw damaged_object(name, "it " + header.error());
  ObjectMeta meta;
  std::copy_n(head.begin(), format::kEncryptedHeaderSize, meta.header.begin());
  if (header->kind == format::kEncryptedObjectKind) {
    const auto plain = format::encrypted_plain_size(*stored);
    if (!plain) {
      throw damaged_object(name, "it is truncated (" + std::to_string(*stored) + " stored bytes fit no chunking)");
    }
    meta.plain_size = *plain;
    meta.key = format::object_key(data_key(name, header->key_id), header->salt);
  }
  const std::lock_guard lock(mutex_);
  if (metas_.size() >= kMetaCacheEntries) metas_.clear();
  metas_.emplace(std::string(name), meta);
  return meta;
}

std::optional<Bytes> EncryptedStorage::read_chunks(std::string_view name, const ObjectMeta& meta, uint64_t offset,
                                                   uint64_t length, std::string& failure) const {
  const uint64_t end = std::min(meta.plain_size, offset + std::min(length, meta.plain_size - offset));
  const uint64_t first = offset / format::kEncryptedChunkSize;
  const uint64_t last = (end - 1) / format::kEncryptedChunkSize;
  const uint64_t chunks = format::encrypted_chunk_count(meta.plain_size);
  const format::StoredRange from = format::encrypted_chunk_range(meta.plain_size, first);
  const format::StoredRange to = format::encrypted_chunk_range(meta.plain_size, last);
  const Bytes stored = inner_->read_range(name, from.offset, to.offset + to.size - from.offset);
  Bytes out;
  out.reserve(end - offset);
  for (uint64_t i = first; i <= last; ++i) {
    const format::StoredRange range = format::encrypted_chunk_range(meta.plain_size, i);
    const uint64_t at = range.offset - from.offset;
    const std::string where = format::byte_range_text(range.offset, range.offset + range.size);
    if (at + range.size > stored.size()) {
      failure = "it is truncated (chunk " + std::to_string(i) + ", stored bytes " + where + ", is missing)";
      return std::nullopt;
    }
    const auto plain = format::open_chunk(meta.key, meta.header, i, i + 1 == chunks,
                                          std::span(stored).subspan(at, range.size));
    if (!plain) {
      failure = "chunk " + std::to_string(i) + " (stored bytes " + where + ") fails authentication";
      return std::nullopt;
    }
    const uint64_t chunk_start = i * format::kEncryptedChunkSize;
    const uint64_t lo = std::max(offset, chunk_start) - chunk_start;
    const uint64_t hi = std::min<uint64_t>(end, chunk_start + plain->size()) - chunk_start;
    out.insert(out.end(), plain->begin() + static_cast<std::ptrdiff_t>(lo),
               plain->begin() + static_cast<std::ptrdiff_t>(hi));
  }
  return out;
}

Bytes EncryptedStorage::read_range(std::string_view name, uint64_t offset, uint64_t length) const {
  if (names_.plain(name)) return inner_->read_range(name, offset, length);
  if (names_.append(name)) {
    const Bytes all = read(name);
    if (offset >= all.size()) return {};
    const auto first = all.begin() + static_cast<std::ptrdiff_t>(offset);
    return Bytes(first, first + static_cast<std::ptrdiff_t>(std::min<uint64_t>(length, all.size() - offset)));
  }
  // A cached header may belong to an object re-encrypted (replaced) since: on a failure, look again once.
  for (int attempt = 0;; ++attempt) {
    const ObjectMeta meta = object_meta(name);
    if (format::decode_encrypted_header(meta.header)->kind != format::kEncryptedObjectKind) {
      throw damaged_object(name, "it is an append log where an immutable object was expected");
    }
    if (offset >= meta.plain_size || length == 0) return {};
    std::string failure;
    if (auto out = read_chunks(name, meta, offset, length, failure)) return std::move(*out);
    {
      const std::lock_guard lock(mutex_);
      if (const auto it = metas_.find(name); it != metas_.end()) metas_.erase(it);
    }
    if (attempt == 1) throw damaged_object(name, failure);
  }
}

bool EncryptedStorage::holds_plaintext(std::string_view name, uint64_t size, uint64_t checksum) const {
  const auto existing = info(name);
  if (!existing || *existing != size) return false;
  format::Hasher hasher;
  for (uint64_t at = 0; at < size; at += 16 * format::kEncryptedChunkSize) {
    const Bytes part = read_range(name, at, 16 * format::kEncryptedChunkSize);
    hasher.update(part);
  }
  return hasher.digest() == checksum;
}

void EncryptedStorage::write_encrypted(std::string_view name, std::span<const std::byte> plaintext, WriteMode mode) {
  EncryptedWriter writer(*this, std::string(name), mode);
  writer.write(plaintext);
  writer.commit();
}

void EncryptedStorage::write_atomic(std::string_view name, std::span<const std::byte> bytes) {
  if (names_.plain(name)) {
    inner_->write_atomic(name, bytes);
    return;
  }
  write_encrypted(name, bytes, WriteMode::kCreate);
}

std::unique_ptr<ObjectWriter> EncryptedStorage::open_writer(std::string_view name, WriteMode mode) {
  if (names_.plain(name)) return inner_->open_writer(name, mode);
  if (mode == WriteMode::kReplace) {
    const std::lock_guard lock(mutex_);
    if (const auto it = metas_.find(name); it != metas_.end()) metas_.erase(it);
  }
  return std::make_unique<EncryptedWriter>(*this, std::string(name), mode);
}

void EncryptedStorage::remove(std::string_view name) {
  {
    const std::lock_guard lock(mutex_);
    if (const auto it = metas_.find(name); it != metas_.end()) metas_.erase(it);
  }
  inner_->remove(name);
}

std::unique_ptr<AppendFile> EncryptedStorage::open_append(std::string_view name) {
  if (names_.plain(name)) return inner_->open_append(name);
  return std::make_unique<EncryptedAppendFile>(*this, std::string(name));
}

void EncryptedStorage::publish_append(std::string_view from, std::string_view to) {
  EncryptedAppendFile* open = nullptr;
  {
    const std::lock_guard lock(mutex_);
    if (const auto it = open_files_.find(from); it != open_files_.end()) open = it->second;
  }
  if (open != nullptr) {
    EncryptedWriter writer(*this, std::string(to), WriteMode::kCreate);
    open->copy_to(writer);
    writer.commit();
  } else {
    if (!inner_->info(from)) throw Error(ErrorCode::kNotFound, "append file " + std::string(from) + " does not exist");
    write_encrypted(to, read(from), WriteMode::kCreate);
  }
  inner_->remove(from);
}

}  // namespace walvault::storage
