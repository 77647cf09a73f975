#include "storage/buffered_content.hpp"

#include <algorithm>

namespace walvault::storage {

void BufferedContent::write_at(uint64_t offset, std::span<const std::byte> bytes) {
  if (offset > bytes_.size()) {
    throw Error(ErrorCode::kInternal, "append file " + name_ + ": write at " + std::to_string(offset) +
                                          " past its end " + std::to_string(bytes_.size()));
  }
  if (bytes.empty()) return;
  if (bytes_.size() < offset + bytes.size()) bytes_.resize(offset + bytes.size());
  std::copy(bytes.begin(), bytes.end(), bytes_.begin() + static_cast<std::ptrdiff_t>(offset));
  mark_changed_from(offset);
}

void BufferedContent::truncate(uint64_t length) {
  if (length > bytes_.size()) {
    throw Error(ErrorCode::kInternal, "append file " + name_ + ": truncate to " + std::to_string(length) +
                                          " past its end " + std::to_string(bytes_.size()));
  }
  if (length == bytes_.size()) return;
  bytes_.resize(length);
  mark_changed_from(length);
}

void BufferedContent::assign(std::span<const std::byte> bytes) {
  bytes_.assign(bytes.begin(), bytes.end());
  changed_from_ = 0;
}

void BufferedContent::load(Bytes bytes) {
  bytes_ = std::move(bytes);
  changed_from_.reset();
}

}  // namespace walvault::storage
