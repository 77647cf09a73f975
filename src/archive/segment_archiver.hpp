// SegmentArchiver: compresses one WAL segment into its container "wal/<segment>.wvs" as its bytes arrive.
//
// The streamer hands it every piece of the in-progress segment, in order from the segment start (streaming
// always resumes at a segment start, so a restart feeds it the whole segment again and the raw tip is never read
// back). Each 256 KiB chunk is compressed as it fills and written to a storage ObjectWriter; finish() writes the
// trailer and commits the object (visible only when complete and durable). A partial segment (the last one of a
// timeline) is finished the same way. If the container already exists (a crash after committing it, before the
// tip was removed) the archiver does nothing and finish() keeps the existing object.
// Memory: one raw chunk, one compressed frame and a zstd context sized for one chunk.
// Lifetime: borrows storage, which must outlive it; destroying it unfinished discards the pending object.
// Errors: Storage errors (kIo, kCorrupt) pass through; kInternal if the container writer rejects the input (a bug).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "format/segment_container.hpp"
#include "storage/storage.hpp"
#include "wal/lsn.hpp"

namespace walvault::archive {

struct SegmentIdentity {
  uint64_t system_identifier = 0;
  int pg_version = 0;
  wal::TimelineId timeline;
  wal::SegmentNo segno;
  uint32_t segment_size = 0;
};

class SegmentArchiver {
 public:
  SegmentArchiver(storage::Storage& storage, const SegmentIdentity& segment, int zstd_level);

  // The next raw bytes of the segment, contiguous with the previous ones.
  void append(std::span<const std::byte> bytes);
  // Completes the container with its trailer summary and commits it; returns its object name.
  std::string finish(const format::ContainerSummary& summary);

 private:
  std::string name_;
  std::unique_ptr<storage::ObjectWriter> out_;  // null when the container existed already
  std::optional<format::ContainerWriter> writer_;
};

}  // namespace walvault::archive
