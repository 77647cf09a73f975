// Tip: the in-progress WAL segment, kept raw in "tip/<segment name>.partial" (an append file) until it is
// complete and archived as a container.
//
// Bytes are written at their segment offset. After a restart the streamer fetches the tip's segment again from
// its start, so writes may land on bytes the file already holds: Tip compares them first and reports a mismatch
// (a damaged tip), then overwrites. Only bytes made durable by sync() count: synced() is the length, from the
// segment start, of what this Tip wrote and synced, and it is the only length the streamer may acknowledge.
// Lifetime: a Tip borrows the Storage, which must outlive it. Errors: Storage errors (kIo) pass through;
// kInternal for a write that would leave a hole.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "storage/storage.hpp"
#include "wal/lsn.hpp"

namespace walvault::archive {

// "tip/<24-hex name>.partial".
[[nodiscard]] std::string tip_object_name(wal::TimelineId timeline, wal::SegmentNo segno, uint32_t segment_size);

class Tip {
 public:
  // Opens (creating if missing) the tip object of segment segno on timeline.
  Tip(storage::Storage& storage, wal::TimelineId timeline, wal::SegmentNo segno, uint32_t segment_size);

  // Writes bytes at offset, which must be written() (no holes). Returns false when the file already held other
  // bytes there (they are replaced).
  bool write(uint32_t offset, std::span<const std::byte> bytes);
  // Makes everything written durable.
  void sync();

  [[nodiscard]] uint32_t written() const { return written_; }
  [[nodiscard]] uint32_t synced() const { return synced_; }
  [[nodiscard]] bool complete() const { return written_ == segment_size_; }
  [[nodiscard]] wal::TimelineId timeline() const { return timeline_; }
  [[nodiscard]] wal::SegmentNo segno() const { return segno_; }
  [[nodiscard]] const std::string& name() const { return name_; }

 private:
  storage::Storage& storage_;
  wal::TimelineId timeline_;
  wal::SegmentNo segno_;
  uint32_t segment_size_;
  std::string name_;
  std::unique_ptr<storage::AppendFile> file_;
  uint32_t written_ = 0;
  uint32_t synced_ = 0;
};

}  // namespace walvault::archive
