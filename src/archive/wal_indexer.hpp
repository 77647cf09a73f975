// WalIndexer: decodes the live WAL as it arrives and turns it into index entries (format/FORMAT.md, "Index").
//
// The streamer feeds every received piece in LSN order (feed), tells it how far the WAL is durable (publish),
// and when a segment is archived (complete_segment). Commits and events go to the index (storage/index_store.hpp)
// only once the WAL that holds them is durable, so the index never names WAL the repository could lose:
// publish() appends them to the index tip log of the segment holding their start LSN and syncs it. A segment's
// immutable index run is sealed once the segment is archived and every record starting in it was decoded and
// published (a commit may start in one segment and end in the next). After sealing, runs are compacted 16 at a
// time while the merged objects stay under IndexWriter::kStreamerMergeBytes (bounded memory). It also keeps the
// per-segment summary stored in the container trailer, the last published commit (for `walvault status`), attaches
// relation names from the latest name snapshot to events, and notices Storage CREATE records (new relations).
//
// Decoding problems never stop archiving, and are never silent: the indexer logs them with their LSN, records them
// in the repository (archive/index_problems.hpp: verify reports them, status counts them) and resumes at the next
// segment start (commits in between are missing from the index, the WAL itself is intact). A commit or abort record
// that does not parse in the repository's PostgreSQL version is recorded the same way. restart() at a segment start
// first decodes the previous segment again from its container when that segment's run is not sealed yet, so a
// record that straddles the resume point (a commit that begins in the archived segment) is indexed; entries the
// index already holds are not appended again.
// Lifetime: borrows storage. Errors: Storage errors pass through (kIo).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "archive/mass_rows.hpp"
#include "archive/relation_names.hpp"
#include "format/segment_container.hpp"
#include "repo/repository.hpp"
#include "storage/index_store.hpp"
#include "storage/storage.hpp"
#include "wal/decoder.hpp"
#include "wal/events.hpp"
#include "wal/lsn.hpp"

namespace walvault::archive {

// The decoding half of the indexer: WAL bytes in, finished transactions (a commit or abort and its destructive
// events) out, with the indexer's rules for problems: a stretch of WAL that does not decode is reported and decoding
// resumes at the next segment start (also inside a fed piece); a commit or abort record that does not parse is
// reported and skipped. The streamer's WalIndexer and `walvault verify` (which checks the index against the WAL
// held) decode through this one loop, so they see the same entries. Problems carry the kind and message that index
// problem objects record (archive/index_problems.hpp). Callbacks run during feed(). Nothing throws.
class IndexDecoder {
 public:
  struct Problem {
    wal::Lsn lsn;    // where it is
    wal::Lsn until;  // the index misses entries in [lsn, until)
    const char* kind = "";  // "undecodable_wal", "unparsable_commit" or "undecodable_catalog_change"
    std::string message;
  };
  struct Callbacks {
    std::function<void(const wal::Record&)> record;  // every record, before its transaction may finish
    std::function<void(const wal::Commit&, std::span<const wal::Event>)> finished;
    std::function<void(const Problem&)> problem;
  };

  // Each commit is judged with the mass-row threshold the schedule gives for its commit record's LSN.
  IndexDecoder(const repo::RepoConfig& config, MassRowsSchedule mass_rows, Callbacks callbacks);
  // Decoding starts afresh at `at` (a segment start), forgetting open transactions.
  void start(wal::Lsn at);
  // The thresholds from now on.
  void set_mass_rows(MassRowsSchedule mass_rows);
  // The next bytes, contiguous with the previous ones (start() first).
  void feed(wal::Lsn start, std::span<const std::byte> bytes);
  // False after a problem until decoding resumes at the next segment start.
  [[nodiscard]] bool decoding() const { return decoding_; }

 private:
  // Decodes what was fed; false when it stopped at a problem (decoding resumes at resume_at_).
  [[nodiscard]] bool decode_fed();

  wal::DecoderConfig config_;
  wal::WalFormat format_;
  Callbacks callbacks_;
  std::optional<wal::StreamDecoder> decoder_;
  MassRowsSchedule mass_rows_;
  wal::EventTracker tracker_;
  wal::Lsn threshold_from_;   // the tracker's threshold holds for records in [threshold_from_, threshold_until_)
  wal::Lsn threshold_until_;
  bool decoding_ = false;
  wal::Lsn resume_at_;  // after a decoding problem: the next segment start
};

// The index entries of a decoded commit and event (an event's names are left to the caller).
[[nodiscard]] format::CommitEntry index_commit(const wal::Commit& commit);
[[nodiscard]] format::EventEntry index_event(const wal::Event& event);

struct CommitMark {
  wal::Lsn lsn;
  wal::TimestampTz time = 0;
};

class WalIndexer {
 public:
  // mass_rows: the threshold of mass_delete/mass_update events (`walvault stream --mass-rows`); the first commit
  // this indexer adds to a timeline's index records it there when it differs from the one recorded (mass_rows.hpp).
  WalIndexer(storage::Storage& storage, const repo::RepoConfig& config,
             uint64_t mass_rows = wal::kDefaultMassRowsThreshold);
  WalIndexer(const WalIndexer&) = delete;  // its decoder calls back into it
  WalIndexer& operator=(const WalIndexer&) = delete;

  // Decoding starts afresh at segment_start (a segment start) on timeline.
  void restart(wal::TimelineId timeline, wal::Lsn segment_start);
  // The next received bytes, contiguous with the previous ones. They need to live only during the call.
  void feed(wal::Lsn start, std::span<const std::byte> bytes);
  // The WAL up to durable is durable: publish the entries it completes.
  void publish(wal::Lsn durable);
  // The trailer summary of segment segno (entries published so far).
  [[nodiscard]] format::ContainerSummary segment_summary(wal::SegmentNo segno) const;
  // Segment segno (ending at end) is archived. Its index run is written as soon as its last record is
  // published, or at once when `final` (the last segment of a timeline).
  void complete_segment(wal::SegmentNo segno, wal::Lsn end, bool final);
  // Names for the events published from now on.
  void set_names(NameSnapshot names) { names_ = std::move(names); }

  [[nodiscard]] const std::optional<CommitMark>& last_commit() const { return last_commit_; }
  // Decoded entries waiting for durability. The streamer syncs early when this reaches kMaxPending, which bounds
  // memory while catching up (a 16 MiB segment of small transactions holds tens of thousands of commits).
  [[nodiscard]] std::size_t pending() const { return pending_.size(); }
  static constexpr std::size_t kMaxPending = 4096;
  // True once after the WAL showed a new relation file (Storage CREATE) followed by a commit.
  [[nodiscard]] bool take_relations_created();

 private:
  struct Pending {
    wal::Commit commit;
    std::vector<wal::Event> events;
  };
  void observe(const wal::Record& record);
  void finished(const wal::Commit& commit, std::span<const wal::Event> events);
  // Seals archived segments whose entries are all published (all of them when force).
  void seal_ready(bool force);
  // Decodes archived segment segno again from its container when its run is not sealed yet (its last record may
  // continue into the next segment, which streaming resumes at); true when the decoder now stands at its end.
  bool replay_unsealed(wal::SegmentNo segno);
  // Seals segments a previous run archived but did not seal (index tip logs below the resume segment, and those of
  // older timelines).
  void seal_leftovers(wal::SegmentNo resume_segment);

  void record_problem(const IndexDecoder::Problem& problem);
  // Before the first commit this indexer adds to the timeline's index: records its threshold from that commit on
  // unless the timeline's schedule already gives it there.
  void note_mass_rows(wal::Lsn commit_lsn);
  // The thresholds to decode from segment `first` on with: the recorded ones for the commits the index holds
  // already (tip logs from `first` on; decoded again, they must count in the container summaries as they did),
  // this indexer's for the rest.
  [[nodiscard]] MassRowsSchedule decoding_schedule(wal::SegmentNo first) const;

  storage::Storage& storage_;
  repo::RepoConfig config_;
  wal::TimelineId timeline_;
  IndexDecoder decoder_;
  std::unique_ptr<storage::IndexWriter> writer_;
  std::vector<Pending> pending_;          // decoded, not yet durable
  wal::Lsn last_record_;                  // start of the last decoded record
  std::map<wal::SegmentNo, wal::Lsn> archived_;  // archived, index run not yet written: segment → end
  uint64_t mass_rows_;
  bool mass_rows_noted_ = false;  // on timeline_
  std::optional<NameSnapshot> names_;
  std::map<wal::SegmentNo, format::ContainerSummary> summaries_;
  std::optional<CommitMark> last_commit_;
  bool created_seen_ = false;
  bool relations_created_ = false;
};

}  // namespace walvault::archive
