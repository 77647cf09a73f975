// Turning a completed (or, at a timeline switch, final partial) tip into its segment container.
//
// archive_tip() reads the tip's raw bytes back in chunks and streams them through format's ContainerWriter into
// "wal/<segment>.wvs" (ObjectWriter: visible only when complete and durable). Memory: one read buffer plus the
// container writer's chunk (256 KiB each). If the container already exists (a crash after writing it, before removing the tip)
// it is left as it is. Errors: Storage errors (kIo, kCorrupt) pass through; kInternal if the writer rejects the
// input (a bug).
#pragma once

#include <cstdint>
#include <string>

#include "format/segment_container.hpp"
#include "storage/storage.hpp"
#include "wal/lsn.hpp"

namespace walvault::archive {

struct SegmentToArchive {
  std::string tip_object;  // where the raw bytes are
  uint64_t length = 0;     // raw bytes to take from its start
  uint64_t system_identifier = 0;
  int pg_version = 0;
  wal::TimelineId timeline;
  wal::SegmentNo segno;
  uint32_t segment_size = 0;
};

// Writes the container; returns its object name.
std::string archive_tip(storage::Storage& storage, const SegmentToArchive& segment,
                        const format::ContainerSummary& summary);

}  // namespace walvault::archive
