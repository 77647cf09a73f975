// The commit/event index of one timeline, read and written through Storage (FORMAT.md, "Index").
//
// IndexWriter is the streamer's side: append() each commit/abort and event as the decoder produces them, sync()
// at least once a second (that is the durability point), seal_segment() when a segment is complete (writes the
// segment's immutable run, then removes its tip log), compact() now and then (small merges, bounded memory).
// `walvault expire` compacts fully with plan_full_compaction() + apply_compaction(). Both kinds of compaction
// remove runs a wider run covers (an interrupted compaction leaves them), write each merged run before removing
// its parts, and run under the storage lock kIndexLockName, so two processes never compact one index at once.
// Appending is idempotent across
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
#include <string>
#include <string_view>
#include <vector>

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
  // Whether the entry's tip log holds it already (append() would skip it).
  [[nodiscard]] bool holds(const format::CommitEntry& entry);
  void append(const format::EventEntry& event);
  // Makes every appended entry durable.
  void sync();
  // The segment is complete: writes run-<start>-<end>.wvi from its tip entries and removes its tip log.
  // Returns the summary it stored (first/last commit time and counts computed from the entries). If the run
  // exists already (a restart), it is kept, the tip log is removed and its stored summary returned.
  format::SegmentSummary seal_segment(wal::SegmentNo segno, wal::Lsn start_lsn, wal::Lsn end_lsn);
  // Removes covered runs, then merges `fanout` adjacent, LSN-contiguous runs of the same size class (by LSN span)
  // into one, repeatedly, never merging runs whose objects total more than max_merge_bytes. Returns how many runs
  // were merged away; 0 without trying when another process holds kIndexLockName. Lookups cost about 0.15 ms per
  // run, so an index must be compacted to stay under 10 ms (bench/results/format.md). Memory is about twice the
  // merged run decoded, so full compaction belongs in a maintenance job; the 16 MiB streamer calls this with
  // kStreamerMergeBytes after sealing.
  std::size_t compact(std::size_t fanout = 16, uint64_t max_merge_bytes = kMaxMergeBytes);

  // 32 MiB runs hold ~700 000 commits: 10 M commits are ~15 runs (a 2 ms lookup: format.md's 39-run row is 2.1 ms),
  // and merging one needs ~50 MB, which a small VPS's expire timer can afford (256 MiB needed ~500 MB).
  static constexpr uint64_t kMaxMergeBytes = 32ULL << 20;
  static constexpr uint64_t kStreamerMergeBytes = 256ULL << 10;

 private:
  struct Tip;
  Tip& tip_for(wal::Lsn lsn);
  // Append stores: writes the tip log's pending records in one append; write_out() also syncs the log.
  void write_pending(Tip& tip);
  void write_out(Tip& tip);
  // Records wait in memory until sync() or until this many bytes are pending (one write instead of one per
  // record, in bounded memory).
  static constexpr std::size_t kMaxPendingBytes = 16 << 10;

  Storage& storage_;
  uint64_t system_identifier_;
  wal::TimelineId timeline_;
  uint32_t segment_size_;
  std::map<uint64_t, std::unique_ptr<Tip>> tips_;  // by segment number
};

// The storage lock (Storage::lock) every index compaction holds.
inline constexpr std::string_view kIndexLockName = "index";

// What compacting one timeline's index fully does: remove the runs a wider run covers, then merge each group of
// adjacent runs into one run.
struct CompactionPlan {
  wal::TimelineId timeline;
  std::size_t runs_before = 0;                   // runs a reader uses now (covered ones not counted)
  std::vector<std::vector<std::string>> merges;  // run objects, in LSN order, each group merged into one run
  std::vector<std::string> covered;              // runs to remove: a wider run already holds their entries
  [[nodiscard]] std::size_t runs_after() const;
};

// The full compaction of every timeline's index, one plan per timeline with runs, in timeline order, from a
// listing of "index/" alone (no run is read; other objects are ignored): every maximal group of adjacent,
// LSN-contiguous runs whose objects total at most max_merge_bytes is merged; a run bigger than half of that is
// final and never rewritten (a big run is not rewritten daily to absorb a few small ones). Throws kCorrupt for
// overlapping runs.
[[nodiscard]] std::vector<CompactionPlan> plan_full_compaction(const std::vector<ObjectInfo>& index_objects,
                                                               uint64_t max_merge_bytes = IndexWriter::kMaxMergeBytes);
// Carries out a plan made under the same lock: covered runs first, then each group merged (written before its
// parts are removed, so a crash at any step leaves an index with the same answers). The caller holds
// storage.lock(kIndexLockName). Throws kCorrupt for a run that fails verification, Storage errors.
void apply_compaction(Storage& storage, const CompactionPlan& plan);

// The index of one timeline as it is in storage now.
[[nodiscard]] format::IndexView open_index(const Storage& storage, wal::TimelineId timeline, uint32_t segment_size);

// A tip log as readers see it. One cut short before its header was whole (its creation interrupted, e.g. by a full
// disk) reads as empty: it holds no entries, and the streamer rewrites it from the WAL. Any other damage throws
// kCorrupt.
[[nodiscard]] format::TipLog read_tip_log(const Storage& storage, const std::string& name);

}  // namespace walvault::storage
