// The content of an append file held in memory by a store that cannot write in place (S3's pieces, encrypted append
// logs): write_at() and truncate() as AppendFile defines them, and the lowest offset changed since the last sync,
// which is what the next sync must write. Errors: kInternal for a write or a cut past the end (a caller's bug).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "storage/storage.hpp"

namespace walvault::storage {

class BufferedContent {
 public:
  explicit BufferedContent(std::string name) : name_(std::move(name)) {}

  [[nodiscard]] const Bytes& bytes() const { return bytes_; }
  [[nodiscard]] uint64_t size() const { return bytes_.size(); }
  void write_at(uint64_t offset, std::span<const std::byte> bytes);
  void truncate(uint64_t length);
  // Everything replaced: changed from offset 0.
  void assign(std::span<const std::byte> bytes);
  // Content that is already durable (read back when the file is opened): nothing changed.
  void load(Bytes bytes);

  // The lowest offset changed since mark_synced(); nullopt when nothing changed.
  [[nodiscard]] std::optional<uint64_t> changed_from() const { return changed_from_; }
  void mark_changed_from(uint64_t offset) { changed_from_ = std::min(changed_from_.value_or(offset), offset); }
  void mark_synced() { changed_from_.reset(); }

 private:
  std::string name_;
  Bytes bytes_;
  std::optional<uint64_t> changed_from_;
};

}  // namespace walvault::storage
