#include "archive/wal_indexer.hpp"

#include <algorithm>

#include "common/log.hpp"
#include "wal/rmgr.hpp"

namespace walvault::archive {
namespace {

constexpr uint8_t kSmgrCreate = 0x10;

wal::EventConfig event_config(const repo::RepoConfig& config) {
  wal::EventConfig c;
  c.pg_major = config.pg_version / 10000;
  return c;
}

}  // namespace

WalIndexer::WalIndexer(storage::Storage& storage, const repo::RepoConfig& config)
    : storage_(storage), config_(config), tracker_(event_config(config)) {}

void WalIndexer::restart(wal::TimelineId timeline, wal::Lsn segment_start) {
  timeline_ = timeline;
  wal::DecoderConfig dc;
  dc.segment_size = config_.segment_size;
  dc.system_identifier = config_.system_identifier;
  decoder_.emplace(dc, segment_start);
  tracker_ = wal::EventTracker(event_config(config_));
  decoding_ = true;
  pending_.clear();
}

void WalIndexer::feed(wal::Lsn start, std::span<const std::byte> bytes) {
  if (!decoding_) {
    // Resume at the next segment start after a decoding problem.
    if (wal::segment_offset(start, config_.segment_size) != 0) return;
    restart(timeline_, start);
  }
  decoder_->feed(start, bytes);
  while (true) {
    const wal::Step step = decoder_->next();
    if (step.status == wal::Status::kNeedMore) return;
    if (step.status == wal::Status::kRecord) {
      observe(*step.record);
      continue;
    }
    log::warning("cannot decode the WAL at " + step.problem->lsn.to_string() + " (" + step.problem->message +
                 "); commits and events are not indexed until the next segment");
    decoding_ = false;
    return;
  }
}

void WalIndexer::observe(const wal::Record& record) {
  if (record.rmid == static_cast<uint8_t>(wal::Rmgr::kStorage) && record.opcode() == kSmgrCreate) {
    created_seen_ = true;
  }
  if (!tracker_.observe(record)) return;
  if (created_seen_ && !tracker_.commit().aborted) {
    relations_created_ = true;
    created_seen_ = false;
  }
  if (tracker_.commit().end_lsn <= published_) return;  // already in the index (fetched again after a restart)
  pending_.push_back(Pending{tracker_.commit(), {tracker_.events().begin(), tracker_.events().end()}});
}

void WalIndexer::publish(wal::Lsn durable) {
  const auto ready = std::find_if(pending_.begin(), pending_.end(),
                                  [&](const Pending& p) { return p.commit.end_lsn > durable; });
  for (auto it = pending_.begin(); it != ready; ++it) {
    const wal::Commit& c = it->commit;
    auto& summary = summaries_[wal::segment_of_end(c.end_lsn, config_.segment_size)];
    if (!summary.first_commit_time) summary.first_commit_time = c.time;
    summary.last_commit_time = c.time;
    ++summary.commit_count;
    summary.event_count += it->events.size();
    last_commit_ = CommitMark{c.lsn, c.time};
  }
  pending_.erase(pending_.begin(), ready);
  published_ = std::max(published_, durable);
}

format::ContainerSummary WalIndexer::segment_summary(wal::SegmentNo segno) const {
  const auto it = summaries_.find(segno);
  return it == summaries_.end() ? format::ContainerSummary{} : it->second;
}

void WalIndexer::complete_segment(wal::SegmentNo segno, wal::Lsn end) {
  summaries_.erase(summaries_.begin(), summaries_.upper_bound(segno));
  published_ = std::max(published_, end);
}

bool WalIndexer::take_relations_created() { return std::exchange(relations_created_, false); }

}  // namespace walvault::archive
