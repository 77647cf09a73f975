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
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "archive/relation_names.hpp"
#include "format/segment_container.hpp"
#include "repo/repository.hpp"
#include "storage/index_store.hpp"
#include "storage/storage.hpp"
#include "wal/decoder.hpp"
#include "wal/events.hpp"
#include "wal/lsn.hpp"

namespace walvault::archive {

struct CommitMark {
  wal::Lsn lsn;
  wal::TimestampTz time = 0;
};

class WalIndexer {
 public:
  WalIndexer(storage::Storage& storage, const repo::RepoConfig& config);

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
  // Decodes what was fed; false when it stopped at a problem (recorded; decoding resumes at resume_at_).
  [[nodiscard]] bool decode_fed();
  // Seals archived segments whose entries are all published (all of them when force).
  void seal_ready(bool force);
  // Decodes archived segment segno again from its container when its run is not sealed yet (its last record may
  // continue into the next segment, which streaming resumes at); true when the decoder now stands at its end.
  bool replay_unsealed(wal::SegmentNo segno);
  // Seals segments a previous run archived but did not seal (index tip logs below the resume segment, and those of
  // older timelines).
  void seal_leftovers(wal::SegmentNo resume_segment);

  // The decoder settings for this repository's WAL (its system and PostgreSQL version).
  [[nodiscard]] wal::DecoderConfig decoder_config() const;
  void record_problem(wal::Lsn lsn, wal::Lsn until, const char* kind, const std::string& message);

  storage::Storage& storage_;
  repo::RepoConfig config_;
  wal::WalFormat format_;
  wal::TimelineId timeline_;
  std::optional<wal::StreamDecoder> decoder_;
  wal::EventTracker tracker_;
  bool decoding_ = false;
  wal::Lsn resume_at_;  // after a decoding problem: the next segment start
  std::unique_ptr<storage::IndexWriter> writer_;
  std::vector<Pending> pending_;          // decoded, not yet durable
  wal::Lsn last_record_;                  // start of the last decoded record
  std::map<wal::SegmentNo, wal::Lsn> archived_;  // archived, index run not yet written: segment → end
  std::optional<NameSnapshot> names_;
  std::map<wal::SegmentNo, format::ContainerSummary> summaries_;
  std::optional<CommitMark> last_commit_;
  bool created_seen_ = false;
  bool relations_created_ = false;
};

}  // namespace walvault::archive
