// The commit/event index (FORMAT.md, "Index"): what happened when, searchable without touching WAL.
//
// Three codecs and one query layer, all pure:
//   - index runs (.wvi): immutable, sorted, block-checksummed objects of delta-encoded commits. encode_run()
//     builds one (version 2); RunReader opens one of either version through a RangeReader callback, reading only
//     the footer and the small block tables up front, then one checksummed block per lookup, so memory stays
//     bounded (about 120 KB per 10 M commits, plus one decoded block) and a lookup costs two or three ranged reads;
//   - index tip logs (.wvl): append-only records with per-record checksums for the in-progress segment;
//     parse_tip_log() keeps the longest valid prefix and reports a torn tail;
//   - IndexView: lookups across a timeline's runs plus its tip entries, with PostgreSQL's recovery_target_time
//     semantics for non-monotonic commit times (FORMAT.md, "Lookup semantics").
// The IO that lists, reads and writes these objects lives in src/storage/index_store.hpp.
//
// Errors are values (IndexError). A RangeReader may throw (it does IO for src/); such exceptions pass through
// unchanged. RunReader holds its RangeReader (and whatever it captures) for its whole lifetime; results own
// their memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "format/endian.hpp"
#include "wal/events.hpp"
#include "wal/expected.hpp"
#include "wal/lsn.hpp"

namespace walvault::format {

inline constexpr uint32_t kIndexBlockEntries = 4096;
inline constexpr uint32_t kRunHeaderSize = 64;
inline constexpr uint32_t kRunFooterSize = 128;
inline constexpr uint16_t kRunVersion = 3;         // the layout runs are written in; versions 1 and 2 are still read
inline constexpr uint16_t kTipLogVersion = 2;      // the layout tip logs are written in; version 1 is still read
inline constexpr uint32_t kCommitRecordSize = 40;  // a version 1 run's commit record, and a tip log's
inline constexpr uint32_t kCommitBlockEntrySize = 32;
inline constexpr uint32_t kXidBlockEntrySize = 16;
inline constexpr uint32_t kSegmentSummarySize = 64;
inline constexpr uint32_t kTipHeaderSize = 32;

// One commit or abort record (PostgreSQL's recovery_target_time considers both).
struct CommitEntry {
  wal::Lsn lsn;      // start of the commit/abort record
  wal::Lsn end_lsn;  // end of the record (recovery_target_lsn to include it)
  TimestampTz time = 0;
  uint32_t xid = 0;
  bool aborted = false;
  bool operator==(const CommitEntry&) const = default;
};

using wal::event_kind_name;
using wal::EventKind;  // stored as its u8 value

// A destructive transaction found by the decoder.
struct EventEntry {
  EventKind kind = EventKind::kDropTable;
  uint32_t xid = 0;
  wal::Lsn commit_lsn;
  TimestampTz commit_time = 0;
  wal::Lsn first_lsn;  // first destructive record of the transaction
  uint32_t database_oid = 0;
  uint64_t rows = 0;
  std::vector<uint32_t> relations;  // relfilenodes / relation oids as known
  std::vector<std::string> names;   // resolved names, when the streamer knew them
  bool two_phase = false;  // committed by COMMIT PREPARED (a restore stops before first_lsn, not the commit)
  std::vector<wal::EventColumn> columns = {};  // drop_column, alter_type (run version 3, tip log version 2)
  bool operator==(const EventEntry&) const = default;
};

struct SegmentSummary {
  wal::SegmentNo segment_no;
  wal::Lsn start_lsn;
  wal::Lsn end_lsn;
  std::optional<TimestampTz> first_commit_time;
  std::optional<TimestampTz> last_commit_time;
  uint64_t commit_count = 0;
  uint64_t event_count = 0;
  bool operator==(const SegmentSummary&) const = default;
};

enum class IndexErrorKind { kTruncated, kBadMagic, kUnsupportedVersion, kCorrupt, kInvalidArgument };
struct IndexError {
  IndexErrorKind kind = IndexErrorKind::kCorrupt;
  std::string message;  // lowercase, one line
};
template <typename T>
using IndexResult = Expected<T, IndexError>;

// ---- object names ("index/<TTTTTTTT>/run-<L1>-<L2>.wvi", "index/<TTTTTTTT>/tip-<segment>.wvl", problems)
[[nodiscard]] std::string index_prefix(wal::TimelineId tli);
[[nodiscard]] std::string run_object_name(wal::TimelineId tli, wal::Lsn first, wal::Lsn end);
[[nodiscard]] std::string tip_log_object_name(wal::TimelineId tli, wal::SegmentNo segno, uint32_t segment_size);
struct RunName {
  wal::TimelineId timeline;
  wal::Lsn first;
  wal::Lsn end;
};
[[nodiscard]] std::optional<RunName> parse_run_object_name(std::string_view name);
[[nodiscard]] std::optional<wal::SegmentName> parse_tip_log_object_name(std::string_view name, uint32_t segment_size);
// "index/<TTTTTTTT>/problem-<16-hex LSN>.json": WAL the streamer could not index (src/archive/index_problems.hpp).
[[nodiscard]] std::string problem_object_name(wal::TimelineId tli, wal::Lsn lsn);
struct ProblemName {
  wal::TimelineId timeline;
  wal::Lsn lsn;
};
[[nodiscard]] std::optional<ProblemName> parse_problem_object_name(std::string_view name);
// "index/<TTTTTTTT>/mass-rows-<16-hex LSN>.json": the mass-row threshold from LSN on (src/archive/mass_rows.hpp).
[[nodiscard]] std::string mass_rows_object_name(wal::TimelineId tli, wal::Lsn lsn);

// The newest event kind an index object of this version can hold: runs of version 1 and 2 and tip logs of version
// 1 were written before drop_column and alter_type existed (a version 1 tip log that a newer walvault continued may
// still hold them).
[[nodiscard]] EventKind newest_event_kind_of_run(uint16_t run_version);
[[nodiscard]] EventKind newest_event_kind_of_tip_log(uint16_t tip_version);

// ---- runs
struct RunContent {
  uint64_t system_identifier = 0;
  wal::TimelineId timeline;
  wal::Lsn first_lsn;  // the run covers LSNs [first_lsn, end_lsn)
  wal::Lsn end_lsn;
  std::vector<CommitEntry> commits;      // strictly increasing lsn, inside the range
  std::vector<EventEntry> events;        // non-decreasing commit_lsn
  std::vector<SegmentSummary> segments;  // increasing segment_no
  bool operator==(const RunContent&) const = default;
};

// Receives an encoded object a piece at a time, in order.
using ByteSink = std::function<void(std::span<const std::byte>)>;
// Encodes a run into sink, a piece at a time (memory: the block tables and one staged block), and returns its
// size. Invalid content is rejected before anything reaches the sink.
[[nodiscard]] IndexResult<uint64_t> encode_run(const RunContent& run, const ByteSink& sink);
// The same, into memory (compaction, tests).
[[nodiscard]] IndexResult<std::vector<std::byte>> encode_run(const RunContent& run);
// Decodes and verifies a whole run (compaction, tests).
[[nodiscard]] IndexResult<RunContent> decode_run(std::span<const std::byte> object);
// Concatenates adjacent runs (each one's end_lsn ≤ the next one's first_lsn) into one covering them all.
[[nodiscard]] IndexResult<RunContent> merge_runs(std::vector<RunContent> runs);

class RunReader {
 public:
  // Reads and verifies the header, footer, block tables and segment summaries.
  [[nodiscard]] static IndexResult<RunReader> open(RangeReader read, uint64_t object_size);
  // The same over a whole run already in memory: blocks are checked in place, not copied. object must outlive the
  // reader.
  [[nodiscard]] static IndexResult<RunReader> open(std::span<const std::byte> object);

  [[nodiscard]] uint64_t system_identifier() const { return system_identifier_; }
  [[nodiscard]] uint16_t version() const { return version_; }
  [[nodiscard]] wal::TimelineId timeline() const { return timeline_; }
  [[nodiscard]] wal::Lsn first_lsn() const { return first_lsn_; }
  [[nodiscard]] wal::Lsn end_lsn() const { return end_lsn_; }
  [[nodiscard]] uint64_t commit_count() const { return commit_count_; }
  [[nodiscard]] uint64_t event_count() const { return event_count_; }
  // The latest commit time in the run; nullopt when it has no commits.
  [[nodiscard]] std::optional<TimestampTz> max_time() const;
  [[nodiscard]] const std::vector<SegmentSummary>& segments() const { return segments_; }

  // Position of the first commit (in LSN order) whose time > t; nullopt when none.
  [[nodiscard]] IndexResult<std::optional<uint64_t>> first_after(TimestampTz t);
  [[nodiscard]] IndexResult<CommitEntry> commit_at(uint64_t position);
  // Every commit of xid (xids wrap around, so there may be several), in LSN order.
  [[nodiscard]] IndexResult<std::vector<CommitEntry>> find_xid(uint32_t xid);
  // Every event of the run, in commit LSN order.
  [[nodiscard]] IndexResult<std::vector<EventEntry>> events();
  // Reads and verifies every block and the events (a full scrub), handing each commit, in order, to each_commit
  // when given (decode_run reads the run in this one pass).
  [[nodiscard]] IndexResult<void> verify(const std::function<void(const CommitEntry&)>& each_commit = {});

 private:
  struct CommitBlock {
    TimestampTz max_time;
    uint64_t first_lsn;
    uint64_t checksum;
    uint64_t offset;  // in the object
    uint64_t size;
  };
  struct XidBlock {
    uint32_t first_xid;
    uint64_t checksum;
    uint64_t offset;
    uint64_t size;
  };
  struct XidRecord {
    uint32_t xid;
    uint32_t position;
  };
  RunReader() = default;
  // Reads [offset, offset + length): a view into the object when it is in memory, otherwise read into storage_.
  IndexResult<std::span<const std::byte>> read_section(uint64_t offset, uint64_t length);
  // Reads block bytes and checks them against the block table's checksum.
  IndexResult<std::span<const std::byte>> read_block(uint64_t offset, uint64_t size, uint64_t checksum,
                                                     const char* what, uint64_t block);
  // Entries in block b (B, or fewer in the last block).
  [[nodiscard]] std::size_t block_entries(uint64_t block) const;
  // Makes block b the decoded commit block (cached_commits_, cached_max_).
  IndexResult<void> load_commit_block(uint64_t block);
  // Decodes xid block b into xids_.
  IndexResult<void> load_xid_block(uint64_t block);

  RangeReader read_;
  std::span<const std::byte> memory_;  // the whole object, when opened over memory
  uint16_t version_ = 0;
  uint64_t system_identifier_ = 0;
  wal::TimelineId timeline_;
  wal::Lsn first_lsn_;
  wal::Lsn end_lsn_;
  uint64_t commit_count_ = 0;
  uint64_t event_count_ = 0;
  uint64_t events_offset_ = 0;
  uint64_t events_size_ = 0;
  uint64_t events_checksum_ = 0;
  TimestampTz max_time_ = kNoTime;
  std::vector<CommitBlock> commit_blocks_;
  std::vector<XidBlock> xid_blocks_;
  std::vector<SegmentSummary> segments_;
  std::optional<uint64_t> cached_block_;
  std::vector<CommitEntry> cached_commits_;
  std::vector<TimestampTz> cached_max_;  // running max of time, per cached commit
  std::vector<XidRecord> xids_;          // the last decoded xid block
  std::vector<std::byte> storage_;       // the last section read, when the object is not in memory
};

// ---- tip logs
struct TipLog {
  uint16_t version = 0;  // of its header
  uint64_t system_identifier = 0;
  wal::TimelineId timeline;
  std::vector<CommitEntry> commits;  // in append order
  std::vector<EventEntry> events;
  uint64_t valid_length = 0;  // bytes of header + whole valid records
  uint64_t torn_bytes = 0;    // bytes after them (a torn write), to truncate before appending
};
[[nodiscard]] std::vector<std::byte> encode_tip_header(uint64_t system_identifier, wal::TimelineId tli);
[[nodiscard]] std::vector<std::byte> encode_tip_record(const CommitEntry& commit);
[[nodiscard]] std::vector<std::byte> encode_tip_record(const EventEntry& event);
// A bad header is an error; a bad record ends the valid prefix (torn_bytes counts the rest).
[[nodiscard]] IndexResult<TipLog> parse_tip_log(std::span<const std::byte> bytes);

// parse_tip_log() over a log handed over in consecutive pieces of any size, so a caller can read a large log in
// ranges instead of whole (the streamer seals each segment's log this way). Memory: the parsed entries plus at
// most one piece and one partial record. size_hint (the log's size, if known) sizes the commit vector.
class TipLogParser {
 public:
  explicit TipLogParser(uint64_t size_hint = 0);
  void feed(std::span<const std::byte> piece);
  [[nodiscard]] IndexResult<TipLog> finish() &&;

 private:
  TipLog log_;
  std::vector<std::byte> pending_;  // fed bytes not yet parsed: the header, or the start of a record
  std::optional<IndexError> error_;
  uint64_t fed_ = 0;
  uint64_t valid_ = 0;  // header + whole valid records
  bool header_done_ = false;
  bool stopped_ = false;  // a bad header or record: everything after it is torn
};

// ---- queries across a timeline
struct TimeLookup {
  std::optional<CommitEntry> last_at_or_before;  // the last commit recovery to T replays
  std::optional<CommitEntry> first_after;        // the first commit (LSN order) with time > T: recovery stops here
};

class IndexView {
 public:
  // runs: sorted by first_lsn, not overlapping. tip_commits / tip_events: entries past the last run, in LSN order
  // (entries below the last run's end_lsn are ignored as already sealed).
  IndexView(std::vector<RunReader> runs, std::vector<CommitEntry> tip_commits, std::vector<EventEntry> tip_events);

  // FORMAT.md, "Lookup semantics".
  [[nodiscard]] IndexResult<TimeLookup> lookup_time(TimestampTz t);
  // Every commit/abort of xid, in LSN order (usually one).
  [[nodiscard]] IndexResult<std::vector<CommitEntry>> lookup_xid(uint32_t xid);
  // Events with commit_lsn in [from, to).
  [[nodiscard]] IndexResult<std::vector<EventEntry>> events_by_lsn(wal::Lsn from, wal::Lsn to);
  // Events with commit_time in [from, to].
  [[nodiscard]] IndexResult<std::vector<EventEntry>> events_by_time(TimestampTz from, TimestampTz to);
  [[nodiscard]] std::vector<SegmentSummary> segments() const;
  [[nodiscard]] uint64_t commit_count() const;

 private:
  // Events of runs overlapping [from, to) and of the tip.
  IndexResult<std::vector<EventEntry>> all_events(wal::Lsn from, wal::Lsn to);
  std::vector<RunReader> runs_;
  std::vector<CommitEntry> tip_commits_;
  std::vector<EventEntry> tip_events_;
};

}  // namespace walvault::format
