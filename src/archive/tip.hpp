// Tip: the in-progress WAL segment, kept compressed (format/FORMAT.md, "Streamer objects"):
//   tip/<segment>.partial  its unfinished segment container: the header and every whole chunk frame, appended as
//                          chunks fill;
//   tip/<segment>.tail     the tail log (format/tail_log.hpp): the bytes past the last whole chunk.
// sync() makes both durable. archive() completes the container with the last chunk and its trailer and publishes
// the file itself as wal/<segment>.wvs (Storage::publish_append: a rename on local storage), then removes the
// tail log. The segment is compressed once, as it arrives, and never read back.
//
// After a restart the streamer fetches the segment again from its start. A Tip opened on an existing tip adopts
// its intact whole chunks and its tail log (torn or damaged bytes after them are cut off) and checks the bytes
// that arrive again against them: whole chunks by their raw checksum, the tail byte by byte. Where they differ the
// server's bytes replace what the tip held from there on, and write() returns false. held() is the length, from
// the segment start, the tip holds durably: what it adopted (made durable by the constructor), until the server's
// bytes differ from it, and what this Tip made durable since. It is the only length the streamer may record or
// acknowledge, and it is known before any byte arrives again (the server may be unable to send them).
// Memory: one raw chunk, one compressed frame and a zstd context, plus the raw bytes of an adopted tail log (less
// than a chunk) until they have arrived again.
// Lifetime: a Tip borrows the Storage, which must outlive it. Errors: Storage errors (kIo) pass through;
// kInternal for a write that would leave a hole (a bug).
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

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

// "tip/<24-hex name>.partial" and "tip/<24-hex name>.tail".
[[nodiscard]] std::string tip_object_name(wal::TimelineId timeline, wal::SegmentNo segno, uint32_t segment_size);
[[nodiscard]] std::string tail_object_name(wal::TimelineId timeline, wal::SegmentNo segno, uint32_t segment_size);

// The raw WAL the tip of a segment holds from the segment start: its intact whole chunks, then the tail log's
// bytes when the log continues them. nullopt when the segment has no tip (or it was archived while being read).
// Throws Storage errors, and kCorrupt for a chunk that passes its stored checksum but fails to decompress.
[[nodiscard]] std::optional<std::vector<std::byte>> read_tip(const storage::Storage& storage, wal::TimelineId timeline,
                                                             wal::SegmentNo segno, uint32_t segment_size);

class Tip {
 public:
  // Opens the tip of the segment, adopting what an earlier streamer left (see above), or creates it.
  Tip(storage::Storage& storage, const SegmentIdentity& segment, int zstd_level);
  Tip(const Tip&) = delete;
  Tip& operator=(const Tip&) = delete;

  // The next bytes of the segment, at offset == written(). False when they differ from what the tip held there.
  bool write(uint32_t offset, std::span<const std::byte> bytes);
  // Makes everything written durable (or, for bytes still being checked against adopted chunks, waits for them).
  void sync();
  // Completes and publishes the container (the tip must be synced); returns its object name. The Tip is done.
  std::string archive(const format::ContainerSummary& summary);

  [[nodiscard]] uint32_t written() const { return written_; }
  [[nodiscard]] uint32_t synced() const { return synced_; }
  [[nodiscard]] uint32_t held() const { return std::max(adopted_, synced_); }
  [[nodiscard]] bool complete() const { return written_ == segment_size_; }
  [[nodiscard]] wal::SegmentNo segno() const { return segno_; }
  [[nodiscard]] const std::string& name() const { return name_; }

 private:
  void adopt_tail(uint64_t base);
  void start_tail(uint64_t base);
  void drop_tail();

  storage::Storage& storage_;
  wal::TimelineId timeline_;
  wal::SegmentNo segno_;
  uint32_t segment_size_;
  std::string name_;
  std::string tail_name_;
  std::unique_ptr<storage::AppendFile> file_;
  bool file_dirty_ = false;  // written or cut since its last sync
  std::optional<format::ContainerWriter> writer_;
  std::unique_ptr<storage::AppendFile> tail_;
  bool tail_dirty_ = false;            // cut since its last sync (appends are synced at once)
  std::optional<uint64_t> tail_base_;  // the tail log in use covers [*tail_base_, tail_end_)
  uint64_t tail_end_ = 0;
  std::vector<std::byte> held_tail_;  // an adopted tail log's raw bytes from *tail_base_, until they arrive again
  uint32_t written_ = 0;
  uint32_t synced_ = 0;
  uint32_t adopted_ = 0;  // the raw bytes adopted from an earlier streamer; 0 once the server's bytes differ
};

}  // namespace walvault::archive
