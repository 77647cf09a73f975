// The commit/event index of one timeline, read and written through Storage (FORMAT.md, "Index").
//
// IndexWriter is the streamer's side: append() each commit/abort and event as the decoder produces them, sync()
// at least once a second (that is the durability point), seal_segment() when a segment is complete (writes the
// segment's immutable run, then removes its tip log), compact() now and then. Appending is idempotent across
// restarts: entries at or below the last LSN already in a tip log are skipped, a torn tail is truncated, and
// sealing twice writes the same bytes. On a store without append files (capabilities().append == false) the
// entries of the open segments are kept in memory and become durable at seal_segment().
//
// open_index() is the reader's side: it lists the timeline's runs (ignoring runs covered by a wider one, which
// compaction leaves behind for a moment) and tip logs, and returns a format::IndexView whose lookups read only
// footers, block tables and single blocks. The view reads through the storage, which must outlive it.
//
// Errors: walvault::Error. kCorrupt for an index object that fails verification or runs that overlap (the
// message names the object); Storage errors pass through.
#pragma once

#include <cstdint>
#include <map>
#include <memory>

#include "format/index.hpp"
#include "storage/storage.hpp"
#include "wal/lsn.hpp"

namespace walvault::storage {

class IndexWriter {
 public:
  IndexWriter(Storage& storage, uint64_t system_identifier, wal::TimelineId timeline, uint32_t segment_size);
  ~IndexWriter();
  IndexWriter(const IndexWriter&) = delete;
  IndexWriter& operator=(const IndexWriter&) = delete;

  // Adds an entry to the tip log of the segment that holds entry.lsn (events: commit_lsn). Not durable until
  // sync(). Entries must arrive in LSN order per segment; ones already present are skipped.
  void append(const format::CommitEntry& entry);
  void append(const format::EventEntry& event);
  // Makes every appended entry durable.
  void sync();
  // The segment is complete: writes run-<start>-<end>.wvi from its tip entries and removes its tip log.
  // Returns the summary it stored (first/last commit time and counts computed from the entries). If the run
  // exists already (a restart), it is kept, the tip log is removed and its stored summary returned.
  format::SegmentSummary seal_segment(wal::SegmentNo segno, wal::Lsn start_lsn, wal::Lsn end_lsn);
  // Merges `fanout` adjacent runs of the same size class (by LSN span) into one, repeatedly, never merging runs
  // whose objects total more than max_merge_bytes. Returns how many runs were merged away. Lookups cost about
  // 0.15 ms per run, so an index must be compacted to stay under 10 ms (bench/results/format.md). Memory is
  // about twice the merged run decoded (up to ~500 MB with the default cap), so full compaction belongs in a
  // maintenance job; the 16 MiB streamer calls it with kStreamerMergeBytes after sealing.
  std::size_t compact(std::size_t fanout = 16, uint64_t max_merge_bytes = kMaxMergeBytes);

  static constexpr uint64_t kMaxMergeBytes = 256ULL << 20;
  static constexpr uint64_t kStreamerMergeBytes = 256ULL << 10;

 private:
  struct Tip;
  Tip& tip_for(wal::Lsn lsn);

  Storage& storage_;
  uint64_t system_identifier_;
  wal::TimelineId timeline_;
  uint32_t segment_size_;
  std::map<uint64_t, std::unique_ptr<Tip>> tips_;  // by segment number
};

// The index of one timeline as it is in storage now.
[[nodiscard]] format::IndexView open_index(const Storage& storage, wal::TimelineId timeline, uint32_t segment_size);

}  // namespace walvault::storage
