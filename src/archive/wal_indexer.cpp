#include "archive/wal_indexer.hpp"

#include <algorithm>

#include "archive/index_problems.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "storage/container_store.hpp"
#include "format/index.hpp"
#include "wal/rmgr.hpp"

namespace walvault::archive {
namespace {

constexpr uint8_t kSmgrCreate = 0x10;

}  // namespace

IndexDecoder::IndexDecoder(const repo::RepoConfig& config, MassRowsSchedule mass_rows, Callbacks callbacks)
    : format_(repo::wal_format(config)),
      callbacks_(std::move(callbacks)),
      mass_rows_(std::move(mass_rows)),
      tracker_(format_) {
  config_.segment_size = config.segment_size;
  config_.system_identifier = config.system_identifier;
  config_.pg_major = format_.pg_major;
}

void IndexDecoder::start(wal::Lsn at) {
  decoder_.emplace(config_, at);
  tracker_ = wal::EventTracker(format_);
  threshold_from_ = threshold_until_ = wal::Lsn();  // set at the first record
  decoding_ = true;
}

void IndexDecoder::set_mass_rows(MassRowsSchedule mass_rows) {
  mass_rows_ = std::move(mass_rows);
  threshold_from_ = threshold_until_ = wal::Lsn();
}

void IndexDecoder::feed(wal::Lsn start, std::span<const std::byte> bytes) {
  const wal::Lsn end = start + bytes.size();
  while (true) {
    if (!decoding_) {
      // Resume at the next segment start after a decoding problem, also inside this piece.
      if (resume_at_ < start || resume_at_ >= end) return;
      bytes = bytes.subspan(static_cast<size_t>(resume_at_ - start));
      start = resume_at_;
      this->start(start);
    }
    decoder_->feed(start, bytes);
    if (decode_fed()) return;
  }
}

bool IndexDecoder::decode_fed() {
  while (true) {
    const wal::Step step = decoder_->next();
    if (step.status == wal::Status::kNeedMore) return true;
    if (step.status == wal::Status::kRecord) {
      const wal::Record& record = *step.record;
      if (callbacks_.record) callbacks_.record(record);
      if (record.lsn < threshold_from_ || record.lsn >= threshold_until_) {
        tracker_.set_mass_rows_threshold(mass_rows_.at(record.lsn));
        threshold_from_ = record.lsn;
        threshold_until_ = mass_rows_.next_change(record.lsn);
      }
      const wal::Observed observed = tracker_.observe(record);
      if (observed == wal::Observed::kMalformedFinish) {
        callbacks_.problem(Problem{record.lsn, record.end_lsn, "unparsable_commit",
                                   "the commit or abort record at " + record.lsn.to_string() + " (xid " +
                                       std::to_string(record.xid) + ") does not parse as PostgreSQL " +
                                       std::to_string(format_.pg_major) +
                                       " wal: that transaction is missing from the index and from events"});
      } else if (observed == wal::Observed::kFinished) {
        const wal::Commit& commit = tracker_.commit();
        if (const auto at = commit.undecodable_catalog_change) {
          callbacks_.problem(Problem{*at, commit.end_lsn, "undecodable_catalog_change",
                                     "transaction " + std::to_string(commit.xid) + " updated a pg_attribute row at " +
                                         at->to_string() +
                                         " that is only in a compressed full-page image (wal_compression): a "
                                         "drop_column event there cannot be seen and may be missing from the index"});
        }
        callbacks_.finished(commit, tracker_.events());
      }
      continue;
    }
    // The records before the problem are whole and checked: their transactions were handed over already.
    const wal::Lsn at = step.problem->lsn;
    resume_at_ = wal::segment_start(wal::SegmentNo(wal::segment_of(at, config_.segment_size).value() + 1),
                                    config_.segment_size);
    decoding_ = false;
    callbacks_.problem(Problem{at, resume_at_, "undecodable_wal",
                               "cannot decode the wal at " + at.to_string() + " (" + step.problem->message +
                                   "): commits and events up to " + resume_at_.to_string() +
                                   " are missing from the index"});
    return false;
  }
}

format::CommitEntry index_commit(const wal::Commit& c) {
  return format::CommitEntry{c.lsn, c.end_lsn, c.time, c.xid, c.aborted};
}

format::EventEntry index_event(const wal::Event& e) {
  format::EventEntry entry;
  entry.kind = e.kind;
  entry.xid = e.xid;
  entry.commit_lsn = e.commit_lsn;
  entry.commit_time = e.commit_time;
  entry.first_lsn = e.first_lsn;
  entry.two_phase = e.two_phase;
  entry.database_oid = e.db != 0 || e.relfilenodes.empty() ? e.db : e.relfilenodes.front().db;
  entry.rows = e.rows;
  for (const auto& node : e.relfilenodes) entry.relations.push_back(node.rel);
  // A column drop leaves the table's files in place: its relations are the tables' oids.
  if (e.kind == wal::EventKind::kDropColumn) {
    for (const auto& oid : e.rel_oids) entry.relations.push_back(oid.rel);
  }
  entry.columns = e.columns;
  return entry;
}

WalIndexer::WalIndexer(storage::Storage& storage, const repo::RepoConfig& config, uint64_t mass_rows)
    : storage_(storage),
      config_(config),
      decoder_(config, MassRowsSchedule(mass_rows),
               IndexDecoder::Callbacks{
                           [this](const wal::Record& r) { observe(r); },
                           [this](const wal::Commit& c, std::span<const wal::Event> e) { finished(c, e); },
                           [this](const IndexDecoder::Problem& p) { record_problem(p); }}),
      mass_rows_(mass_rows) {}

void WalIndexer::record_problem(const IndexDecoder::Problem& problem) {
  log::error(problem.message);
  record_index_problem(storage_, IndexProblem{timeline_, problem.lsn, problem.until, problem.kind, problem.message});
}

void WalIndexer::restart(wal::TimelineId timeline, wal::Lsn segment_start) {
  const wal::SegmentNo resume = wal::segment_of(segment_start, config_.segment_size);
  // The previous segment's last record may continue into the resume segment: it is decoded again below, so
  // that segment stays unsealed; everything archived before it was decoded past its end.
  const bool has_previous = resume.value() > 0;
  const wal::SegmentNo previous(has_previous ? resume.value() - 1 : 0);
  if (writer_) {
    if (timeline != timeline_) {
      seal_ready(/*force=*/true);
    } else {
      for (const auto& [segno, end] : archived_) {
        if (!has_previous || segno != previous) (void)writer_->seal_segment(segno, wal::segment_start(segno, config_.segment_size), end);
      }
    }
  }
  archived_.clear();
  if (!writer_ || timeline != timeline_) {
    timeline_ = timeline;
    mass_rows_noted_ = false;
    writer_ = std::make_unique<storage::IndexWriter>(storage_, config_.system_identifier, timeline,
                                                     config_.segment_size);
  }
  seal_leftovers(has_previous ? previous : resume);
  pending_.clear();
  last_record_ = wal::Lsn();
  decoder_.set_mass_rows(decoding_schedule(has_previous ? previous : resume));
  if (has_previous && replay_unsealed(previous)) return;
  decoder_.start(segment_start);
}

bool WalIndexer::replay_unsealed(wal::SegmentNo segno) {
  const wal::Lsn start = wal::segment_start(segno, config_.segment_size);
  const wal::Lsn end = start + config_.segment_size;
  const std::string object = format::segment_object_name(timeline_, segno, config_.segment_size);
  const auto size = storage_.info(object);
  if (!size) return false;
  for (const auto& o : storage_.list(format::index_prefix(timeline_))) {
    const auto run = format::parse_run_object_name(o.name);
    if (run && run->first <= start && start < run->end) {
      // Sealed: its last record is in the run. A tip log left by a crash right after sealing goes now.
      if (storage_.info(format::tip_log_object_name(timeline_, segno, config_.segment_size))) {
        (void)writer_->seal_segment(segno, start, end);
      }
      return false;
    }
  }
  const auto info = storage::read_container_info(storage_, object, *size);
  decoder_.start(start);
  archived_[segno] = end;
  if (!info || info->end_lsn != end) {
    log::warning("cannot read " + object + " to index its last record again" +
                 (info ? std::string(" (it is partial)") : " (" + info.error().message + ")") +
                 "; a commit that continues into the next segment may be missing from the index");
    decoder_.start(end);
    return true;
  }
  format::ContainerReader reader;
  std::vector<std::byte> raw;
  for (uint32_t i = 0; i < info->chunks.size() && decoder_.decoding(); ++i) {
    const format::ChunkEntry& chunk = info->chunks[i];
    const auto frame = storage::read_chunk_frame(storage_, object, chunk);
    raw.resize(chunk.raw_size);
    if (const auto decoded = reader.decode_chunk(*info, i, frame, raw); !decoded) {
      throw Error(ErrorCode::kCorrupt, "segment container " + object + ": " + decoded.error().message,
                  "run 'walvault verify' and restore the repository's copy of this segment");
    }
    feed(start + info->raw_offset(i), raw);
    publish(end);  // the whole segment is archived: its complete entries are durable
  }
  if (!decoder_.decoding()) decoder_.start(end);  // a decoding problem: resume at the next segment
  return true;
}

void WalIndexer::seal_leftovers(wal::SegmentNo resume_segment) {
  // Index tip logs of archived segments: on this timeline below the resume segment, and on older timelines (their
  // last segment, archived by a timeline switch that a crash cut short before the run was sealed). A run ends where
  // its container does (a timeline's last segment is partial).
  for (const auto& object : storage_.list("index/")) {
    const auto seg = format::parse_tip_log_object_name(object.name, config_.segment_size);
    if (!seg || seg->timeline > timeline_ || (seg->timeline == timeline_ && seg->segno >= resume_segment)) continue;
    const std::string container = format::segment_object_name(seg->timeline, seg->segno, config_.segment_size);
    const auto size = storage_.info(container);
    if (!size) continue;
    const auto info = storage::read_container_info(storage_, container, *size);
    if (!info) continue;  // damaged: verify reports it, and the tip log keeps the entries
    const wal::Lsn start = wal::segment_start(seg->segno, config_.segment_size);
    if (seg->timeline == timeline_) {
      (void)writer_->seal_segment(seg->segno, start, info->end_lsn);
    } else {
      (void)storage::IndexWriter(storage_, config_.system_identifier, seg->timeline, config_.segment_size)
          .seal_segment(seg->segno, start, info->end_lsn);
    }
  }
}

void WalIndexer::feed(wal::Lsn start, std::span<const std::byte> bytes) { decoder_.feed(start, bytes); }

void WalIndexer::observe(const wal::Record& record) {
  last_record_ = record.lsn;
  if (record.rmid == static_cast<uint8_t>(wal::Rmgr::kStorage) && record.opcode() == kSmgrCreate) {
    created_seen_ = true;
  }
}

void WalIndexer::finished(const wal::Commit& commit, std::span<const wal::Event> events) {
  if (created_seen_ && !commit.aborted) {
    relations_created_ = true;
    created_seen_ = false;
  }
  pending_.push_back(Pending{commit, {events.begin(), events.end()}});
}

void WalIndexer::note_mass_rows(wal::Lsn commit_lsn) {
  mass_rows_noted_ = true;
  try {
    const auto recorded = read_mass_rows_schedule(storage_, timeline_);
    if (!recorded) {
      log::error(recorded.error().message + "; --mass-rows " + std::to_string(mass_rows_) + " is recorded anew");
    } else if (recorded->at(commit_lsn) == mass_rows_) {
      return;
    }
    record_mass_rows(storage_, MassRowsChange{timeline_, commit_lsn, mass_rows_});
    log::info("mass_delete/mass_update events from " + commit_lsn.to_string() + " on need " +
              std::to_string(mass_rows_) + " rows (--mass-rows)");
  } catch (const Error& e) {
    // Archiving goes on; verify then reports the mass events it judges differently.
    log::error(std::string("cannot record the --mass-rows threshold: ") + e.what());
  }
}

MassRowsSchedule WalIndexer::decoding_schedule(wal::SegmentNo first) const {
  wal::Lsn held;  // the last commit the index holds from segment `first` on
  for (const auto& object : storage_.list(format::index_prefix(timeline_))) {
    const auto tip = format::parse_tip_log_object_name(object.name, config_.segment_size);
    if (!tip || tip->timeline != timeline_ || tip->segno < first) continue;
    try {
      for (const auto& c : storage::read_tip_log(storage_, object.name).commits) held = std::max(held, c.lsn);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kCorrupt && e.code() != ErrorCode::kNotFound) throw;  // the writer reports damage
    }
  }
  auto recorded = read_mass_rows_schedule(storage_, timeline_);  // damage: logged by note_mass_rows()
  MassRowsSchedule schedule = recorded ? std::move(recorded).value() : MassRowsSchedule(mass_rows_);
  schedule.set(held + 1, mass_rows_);
  return schedule;
}

void WalIndexer::publish(wal::Lsn durable) {
  const auto ready = std::find_if(pending_.begin(), pending_.end(),
                                  [&](const Pending& p) { return p.commit.end_lsn > durable; });
  for (auto it = pending_.begin(); it != ready; ++it) {
    const wal::Commit& c = it->commit;
    if (!mass_rows_noted_ && !writer_->holds(index_commit(c))) note_mass_rows(c.lsn);
    writer_->append(index_commit(c));
    for (const auto& e : it->events) {
      format::EventEntry entry = index_event(e);
      if (names_) entry.names = names_for(*names_, e);
      writer_->append(entry);
    }
    auto& summary = summaries_[wal::segment_of(c.lsn, config_.segment_size)];
    if (!summary.first_commit_time) summary.first_commit_time = c.time;
    summary.last_commit_time = c.time;
    ++summary.commit_count;
    summary.event_count += it->events.size();
    last_commit_ = CommitMark{c.lsn, c.time};
  }
  if (ready != pending_.begin()) writer_->sync();
  pending_.erase(pending_.begin(), ready);
  seal_ready(/*force=*/false);
}

void WalIndexer::seal_ready(bool force) {
  while (!archived_.empty()) {
    const auto [segno, end] = *archived_.begin();
    const bool decoded_past = !decoder_.decoding() || last_record_ >= end;
    const bool published = pending_.empty() || pending_.front().commit.lsn >= end;
    if (!force && !(decoded_past && published)) return;
    (void)writer_->seal_segment(segno, wal::segment_start(segno, config_.segment_size), end);
    archived_.erase(archived_.begin());
    // Small runs (quiet segments) are merged here, 16 at a time; big ones are left to a maintenance job.
    (void)writer_->compact(16, storage::IndexWriter::kStreamerMergeBytes);
  }
}

format::ContainerSummary WalIndexer::segment_summary(wal::SegmentNo segno) const {
  const auto it = summaries_.find(segno);
  return it == summaries_.end() ? format::ContainerSummary{} : it->second;
}

void WalIndexer::complete_segment(wal::SegmentNo segno, wal::Lsn end, bool final) {
  summaries_.erase(summaries_.begin(), summaries_.upper_bound(segno));
  archived_[segno] = end;
  seal_ready(final);
}

bool WalIndexer::take_relations_created() { return std::exchange(relations_created_, false); }

}  // namespace walvault::archive
