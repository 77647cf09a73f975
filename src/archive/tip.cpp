#include "archive/tip.hpp"

#include <algorithm>

#include "common/error.hpp"

namespace walvault::archive {

std::string tip_object_name(wal::TimelineId timeline, wal::SegmentNo segno, uint32_t segment_size) {
  return "tip/" + wal::segment_file_name(timeline, segno, segment_size) + ".partial";
}

Tip::Tip(storage::Storage& storage, wal::TimelineId timeline, wal::SegmentNo segno, uint32_t segment_size)
    : storage_(storage),
      timeline_(timeline),
      segno_(segno),
      segment_size_(segment_size),
      name_(tip_object_name(timeline, segno, segment_size)),
      file_(storage.open_append(name_)) {
  if (file_->size() > segment_size) file_->truncate(segment_size);  // never more than one segment
}

bool Tip::write(uint32_t offset, std::span<const std::byte> bytes) {
  if (offset != written_ || bytes.size() > segment_size_ - offset) {
    throw Error(ErrorCode::kInternal, "tip write at offset " + std::to_string(offset) + " of " + name_ +
                                          " would leave a hole or overflow the segment");
  }
  bool same = true;
  const uint64_t existing = file_->size();
  if (offset < existing) {
    const uint64_t overlap = std::min<uint64_t>(existing - offset, bytes.size());
    const storage::Bytes old = storage_.read_range(name_, offset, overlap);
    same = old.size() == overlap && std::equal(old.begin(), old.end(), bytes.begin());
  }
  if (!same || offset + bytes.size() > existing) file_->write_at(offset, bytes);
  written_ = static_cast<uint32_t>(offset + bytes.size());
  return same;
}

void Tip::sync() {
  if (synced_ == written_) return;
  file_->sync();
  synced_ = written_;
}

}  // namespace walvault::archive
