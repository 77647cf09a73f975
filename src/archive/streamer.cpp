#include "archive/streamer.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <map>

#include "archive/history_files.hpp"
#include "archive/timeline_history.hpp"
#include "archive/tip.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "format/segment_container.hpp"

namespace walvault::archive {
namespace {

constexpr std::string_view kPartialSuffix = ".partial";
constexpr std::string_view kTailSuffix = ".tail";
constexpr std::string_view kContainerSuffix = ".wvs";

struct NamedSegment {
  wal::SegmentName segment;
  std::string object;
};

// Segment objects under prefix whose names are "<prefix><24 hex><suffix>", sorted by (segno, timeline).
std::vector<NamedSegment> segments_under(const storage::Storage& storage, std::string_view prefix,
                                         std::string_view suffix, uint32_t segment_size) {
  std::vector<NamedSegment> found;
  for (const auto& object : storage.list(prefix)) {
    const std::string_view name = std::string_view(object.name).substr(prefix.size());
    if (name.size() != 24 + suffix.size() || name.substr(24) != suffix) continue;
    if (const auto seg = wal::parse_segment_file_name(name.substr(0, 24), segment_size)) {
      found.push_back({*seg, object.name});
    }
  }
  std::sort(found.begin(), found.end(), [](const NamedSegment& a, const NamedSegment& b) {
    return std::pair(a.segment.segno, a.segment.timeline) < std::pair(b.segment.segno, b.segment.timeline);
  });
  return found;
}

std::chrono::milliseconds since(std::chrono::steady_clock::time_point now, std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(now - t);
}

// TEST-ONLY fault hook: WALVAULT_FAULT_TIMELINE_SWITCH=<step> ends the process at once with _exit(9), as a kill -9
// would, when a timeline switch reaches that step ("history": the new timeline's history file is stored;
// "successor": the new timeline's tip is created; "archived": the old timeline's last segment is archived;
// "sealed": its index run is sealed). tests/integration/timeline_switch_test.cpp uses it to prove that the next
// start recovers a switch cut short at any step. Never set it outside tests.
void timeline_switch_fault(std::string_view step) {
  static const char* const chosen = std::getenv("WALVAULT_FAULT_TIMELINE_SWITCH");
  if (chosen != nullptr && step == chosen) ::_exit(9);
}

// The error that stops the streamer when its WAL chain is broken (see streamer.hpp).
Error chain_broken(const std::string& problem, std::optional<wal::Lsn> durable) {
  const std::string end = durable ? durable->to_string() : std::string("its last durable position");
  return Error(ErrorCode::kRepository,
               problem + "; the repository's WAL ends at " + end +
                   " and the server no longer keeps the WAL after it: retrying cannot fill that gap, so streaming stops",
               "run 'walvault new-chain --repo REPO' to start a new WAL chain on a fresh slot, then 'walvault stream' "
               "and 'walvault backup': nothing after " + end +
                   " is restorable until that backup (README, \"When the slot is lost\")");
}

}  // namespace

void store_timeline_history(pg::ReplicationSource& source, storage::Storage& storage, wal::TimelineId timeline) {
  if (timeline.value() <= 1 || storage.info(history_object_name(timeline))) return;
  const auto file = source.timeline_history(timeline);
  // Its ancestors' files too (verify checks that each history continues its parent's): a server normally has them,
  // and one it lacks is not needed to restore (PostgreSQL reads only the target timeline's history).
  if (const auto entries = parse_timeline_history(timeline, file.content)) {
    for (const auto& entry : *entries) {
      if (entry.parent.value() <= 1 || storage.info(history_object_name(entry.parent))) continue;
      try {
        store_history_file(storage, entry.parent, source.timeline_history(entry.parent).content);
      } catch (const Error& e) {
        if (e.retryable() || e.code() != ErrorCode::kConnection) throw;
        log::warning("the server has no history file of timeline " + std::to_string(entry.parent.value()) + " (" +
                     e.what() + "); the repository keeps timeline " + std::to_string(timeline.value()) +
                     "'s, which restores need");
      }
    }
  }
  store_history_file(storage, timeline, file.content);
}

std::optional<ResumePoint> repository_resume_point(storage::Storage& storage, uint32_t segment_size) {
  // A tail log without its tip is what a crash between archiving a tip and removing its tail log leaves.
  for (const auto& tail : segments_under(storage, "tip/", kTailSuffix, segment_size)) {
    if (!storage.info(tip_object_name(tail.segment.timeline, tail.segment.segno, segment_size))) {
      storage.remove(tail.object);
    }
  }
  // A tip whose container exists is a leftover (its segment is archived): drop it.
  std::vector<NamedSegment> tips;
  for (auto& t : segments_under(storage, "tip/", kPartialSuffix, segment_size)) {
    if (storage.info(format::segment_object_name(t.segment.timeline, t.segment.segno, segment_size))) {
      storage.remove(t.object);
    } else {
      tips.push_back(std::move(t));
    }
  }
  if (!tips.empty()) {
    // Streaming resumes at the newest tip, unless an older timeline's tip of the same segment is left: a timeline
    // switch cut short after the new timeline's tip was created. Then it resumes on the old timeline: the server
    // sends it up to its end and the switch is completed as usual (the old segment archived as a partial one).
    const wal::SegmentNo newest = tips.back().segment.segno;
    const auto resume =
        std::find_if(tips.begin(), tips.end(), [&](const NamedSegment& t) { return t.segment.segno == newest; });
    for (auto t = tips.begin(); t != resume; ++t) {
      log::warning("in-progress copy " + t->object + " was never archived; it is kept, and later WAL continues on "
                   "a newer timeline or segment");
    }
    return ResumePoint{resume->segment.timeline, wal::segment_start(newest, segment_size)};
  }
  const auto done = segments_under(storage, "wal/", kContainerSuffix, segment_size);
  if (done.empty()) return std::nullopt;
  const auto& last = done.back().segment;
  return ResumePoint{last.timeline, wal::segment_start(last.segno.next(), segment_size)};
}

Streamer::Streamer(storage::Storage& storage, const repo::RepoConfig& config, Clock& clock, SourceOpener open_source,
                   StreamerOptions options, const std::atomic<bool>& stop)
    : storage_(storage),
      config_(config),
      clock_(clock),
      open_source_(std::move(open_source)),
      options_(options),
      stop_(stop) {
  state_.pid = static_cast<long>(::getpid());
  // Lag counts from the last time the repository really had everything the server had, also across restarts and
  // reconnects: an earlier run's caught_up is kept until this one catches up.
  try {
    if (const auto previous = read_stream_state(storage_)) state_.caught_up = previous->caught_up;
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kCorrupt) throw;
    log::warning(std::string(e.what()) + "; it is written anew");
  }
  names_ = latest_name_snapshot(storage_);
  drop_session();
}

void Streamer::refresh_names() {
  last_names_ = clock_.steady();
  auto snapshot = take_name_snapshot(config_.conninfo);
  if (!snapshot) return;
  if (names_ && names_->databases == snapshot->databases && names_->relations == snapshot->relations) return;
  store_name_snapshot(storage_, *snapshot);
  indexer_->set_names(*snapshot);
  names_ = std::move(snapshot);
}

wal::Lsn Streamer::durable() const {
  if (tip_) return wal::segment_start(tip_->segno(), config_.segment_size) + tip_->held();
  return received_;  // no tip: received_ is a segment boundary and everything before it is archived
}

void Streamer::run() {
  Backoff backoff(options_.backoff_initial, options_.backoff_max);
  while (!stop_) {
    const wal::Lsn before = received_;
    std::optional<Error> failure;
    wal::Lsn held;
    try {
      if (session() == SessionEnd::kStopped) break;
      log::warning("the server ended streaming (shutting down?); reconnecting");
    } catch (const Error& e) {
      if (!e.retryable()) throw;
      held = durable();
      failure = e;
    }
    drop_session();
    const bool disk_full = failure && failure->cause() == ErrorCause::kDiskFull;
    // Progress resets the backoff, but not on a full disk: each attempt gets a little further before it fills.
    if (received_ != before && !disk_full) backoff.reset();
    const auto delay = backoff.next();
    if (failure) log_retry(*failure, held, delay);
    sleep_unless_stopped(delay);
  }
  source_.reset();
}

void Streamer::drop_session() {
  source_.reset();
  server_lsn_heard_ = false;
  tip_.reset();
  position_.reset();
  indexer_.emplace(storage_, config_, options_.mass_rows_threshold);  // a fresh IndexWriter reopens the index tip logs, truncating torn tails
  if (names_) indexer_->set_names(*names_);
}

void Streamer::log_retry(const Error& e, wal::Lsn held, std::chrono::milliseconds delay) {
  const std::string retry = "retrying in " + std::to_string((delay.count() + 999) / 1000) + " s";
  if (e.cause() != ErrorCause::kDiskFull) {
    log::warning(std::string(e.what()) + "; reconnecting, " + retry);
    return;
  }
  // Space is back once WAL past every point an attempt reached is durable.
  disk_full_at_ = std::max(disk_full_at_.value_or(wal::Lsn()), received_);
  const auto root = storage_.capabilities().local_root;
  log::error("the repository " + root.value_or("") + " is out of disk space (" + e.what() +
             "); streaming paused, nothing past " + held.to_string() + " is acknowledged (the slot keeps the rest), " +
             retry + ". HINT: " + e.hint());
}

void Streamer::sleep_unless_stopped(std::chrono::milliseconds delay) {
  const auto step = std::chrono::milliseconds(100);
  for (auto left = delay; left.count() > 0 && !stop_; left -= step) clock_.sleep_for(std::min(left, step));
}

Streamer::SessionEnd Streamer::session() {
  source_ = open_source_();
  const auto identity = source_->identify_system();
  repo::check_system_identifier(config_, identity.system_identifier);
  if (!version_checked_) {
    repo::check_server_version(source_->server_version());
    version_checked_ = true;
  }
  if (source_->wal_segment_size() != config_.segment_size) {
    throw Error(ErrorCode::kRepository, "the server's wal_segment_size differs from the repository's",
                "this repository belongs to a cluster initialised with another --wal-segsize");
  }
  const auto slot = source_->read_slot(config_.slot);
  if (!slot || !slot->restart_lsn) {
    std::string problem = pg::slot_problem(config_.slot, slot, std::nullopt, config_.segment_size).value_or("");
    if (options_.regular_connections) problem += pg::describe_slot(config_.conninfo, config_.slot);
    std::optional<wal::Lsn> recorded;
    if (const auto state = read_stream_state(storage_)) recorded = state->durable_lsn;
    throw chain_broken(problem, recorded);
  }
  store_timeline_history(*source_, storage_, identity.timeline);
  if (!position_) position_ = repository_resume_point(storage_, config_.segment_size);
  state_file_ = storage_.open_append(kStreamStateObject);
  if (const auto chain = repo::newest_chain_break(storage_); chain && position_ && chain->start > position_->start) {
    close_chain(*chain);
  }
  if (!position_) {
    position_ = slot->restart_lsn ? ResumePoint{*slot->restart_timeline,
                                                wal::segment_start(wal::segment_of(*slot->restart_lsn,
                                                                                   config_.segment_size),
                                                                   config_.segment_size)}
                                  : ResumePoint{identity.timeline,
                                                wal::segment_start(wal::segment_of(identity.flush_lsn,
                                                                                   config_.segment_size),
                                                                   config_.segment_size)};
  }
  if (options_.regular_connections) refresh_names();
  while (!stop_) {
    timeline_ = position_->timeline;
    received_ = position_->start;
    tip_.reset();
    indexer_->restart(timeline_, received_);
    // The tip an earlier streamer left for this segment is adopted before anything is recorded or acknowledged:
    // the durable end is what it holds, also when the server can no longer send that segment again.
    const wal::SegmentNo segno = wal::segment_of(received_, config_.segment_size);
    if (storage_.info(tip_object_name(timeline_, segno, config_.segment_size))) open_tip(segno);
    log::info("streaming from " + received_.to_string() + " on timeline " + std::to_string(timeline_.value()));
    std::optional<pg::TimelineEnd> end;
    try {
      end = source_->start(config_.slot, received_, timeline_);
      if (!end) end = stream();
    } catch (const Error& e) {
      if (e.cause() != ErrorCause::kWalRemoved) throw;
      throw chain_broken(std::string("the server answered: ") + e.what(), durable());
    }
    if (stop_) break;
    if (!end) return SessionEnd::kServerEnded;
    switch_timeline(*end);
  }
  return SessionEnd::kStopped;
}

std::optional<pg::TimelineEnd> Streamer::stream() {
  const auto begin = clock_.steady();
  last_sync_ = last_status_ = last_message_ = begin;
  write_state();
  send_status(false);
  while (!stop_) {
    auto now = clock_.steady();
    auto wait = options_.status_interval - since(now, last_status_);
    if (tip_ && tip_->written() > tip_->synced()) wait = std::min(wait, options_.fsync_interval - since(now, last_sync_));
    wait = std::clamp(wait, std::chrono::milliseconds(0), std::chrono::milliseconds(1000));

    const pg::StreamEvent event = source_->next(wait);
    now = clock_.steady();
    if (const auto* data = std::get_if<pg::XLogData>(&event)) {
      last_message_ = now;
      server_lsn_ = std::max(server_lsn_, data->server_end);
      server_lsn_heard_ = true;
      on_data(*data);
    } else if (const auto* keepalive = std::get_if<pg::Keepalive>(&event)) {
      last_message_ = now;
      server_lsn_ = std::max(server_lsn_, keepalive->server_end);
      server_lsn_heard_ = true;
      if (keepalive->reply_requested) make_durable();
    } else if (const auto* end = std::get_if<pg::TimelineEnd>(&event)) {
      make_durable();
      return *end;
    } else if (std::holds_alternative<pg::StreamEnded>(event)) {
      make_durable();
      return std::nullopt;
    }
    now = clock_.steady();
    if (tip_ && tip_->written() > tip_->synced() &&
        (since(now, last_sync_) >= options_.fsync_interval || indexer_->pending() >= WalIndexer::kMaxPending)) {
      make_durable();
    } else if (since(now, last_status_) >= options_.status_interval) {
      send_status(/*reply_requested=*/true);  // the answer proves the connection is alive
    }
    if (options_.regular_connections && since(now, last_names_) >= options_.names_interval &&
        indexer_->take_relations_created()) {
      refresh_names();
    }
    if (since(now, last_message_) >= options_.receive_timeout) {
      throw Error(ErrorCode::kConnection,
                  "no message from the server for " + std::to_string(options_.receive_timeout.count() / 1000) + " s",
                  "", /*retryable=*/true);
    }
  }
  make_durable();
  return std::nullopt;
}

void Streamer::on_data(const pg::XLogData& data) {
  if (data.start != received_) {
    throw Error(ErrorCode::kConnection,
                "server sent WAL from " + data.start.to_string() + ", expected " + received_.to_string(), "",
                /*retryable=*/true);
  }
  auto bytes = data.bytes;
  while (!bytes.empty()) {
    const wal::SegmentNo segno = wal::segment_of(received_, config_.segment_size);
    const uint32_t offset = wal::segment_offset(received_, config_.segment_size);
    if (!tip_) open_tip(segno);
    const auto piece = bytes.first(std::min<std::size_t>(bytes.size(), config_.segment_size - offset));
    if (!tip_->write(offset, piece) && !warned_damage_) {
      log::warning("the in-progress copy " + tip_->name() + " differed from the server's WAL near offset " +
                   std::to_string(offset) + "; replaced it with the server's bytes from there on");
      warned_damage_ = true;
    }
    indexer_->feed(received_, piece);
    received_ = received_ + piece.size();
    bytes = bytes.subspan(piece.size());
    if (tip_->complete()) complete_segment();
  }
}

void Streamer::open_tip(wal::SegmentNo segno) {
  tip_ = std::make_unique<Tip>(
      storage_, SegmentIdentity{config_.system_identifier, config_.pg_version, timeline_, segno, config_.segment_size},
      options_.compress_level);
  position_ = ResumePoint{timeline_, wal::segment_start(segno, config_.segment_size)};
  state_.segment = wal::segment_file_name(timeline_, segno, config_.segment_size);
  warned_damage_ = false;
}

void Streamer::complete_segment() {
  const wal::Lsn end = wal::segment_start(tip_->segno(), config_.segment_size) + tip_->written();
  const std::string container = archive_tip(end, /*final=*/false);
  log::debug("archived " + container);
  position_ = ResumePoint{timeline_, end};
  make_durable();
}

std::string Streamer::archive_tip(wal::Lsn end, bool final) {
  tip_->sync();
  indexer_->publish(end);
  const std::string container = tip_->archive(indexer_->segment_summary(tip_->segno()));
  if (final) timeline_switch_fault("archived");
  indexer_->complete_segment(tip_->segno(), end, final);
  tip_.reset();
  return container;
}

void Streamer::close_chain(const repo::ChainBreak& chain_break) {
  timeline_ = position_->timeline;
  received_ = position_->start;
  const wal::SegmentNo segno = wal::segment_of(received_, config_.segment_size);
  if (storage_.info(tip_object_name(timeline_, segno, config_.segment_size))) {
    // The server no longer has this segment: the tip's own bytes, up to what it holds durably, are fed again so
    // that the container and its index are finished exactly as if the server had sent them.
    indexer_->restart(timeline_, received_);
    open_tip(segno);
    if (const auto held = read_tip(storage_, timeline_, segno, config_.segment_size)) {
      const auto bytes = std::span<const std::byte>(*held).first(std::min<std::size_t>(held->size(), tip_->held()));
      on_data(pg::XLogData{received_, received_ + bytes.size(), 0, bytes});
    }
    if (tip_) archive_tip(received_, /*final=*/true);
  }
  log::warning("the WAL chain that ended at " + received_.to_string() + " is closed; streaming resumes at the " +
               chain_break.describe());
  position_ = ResumePoint{chain_break.timeline, chain_break.start};
}

void Streamer::switch_timeline(const pg::TimelineEnd& end) {
  if (end.next_timeline <= timeline_ || end.next_start > received_) {
    throw Error(ErrorCode::kConnection,
                "server ended timeline " + std::to_string(timeline_.value()) + " with an impossible successor (" +
                    std::to_string(end.next_timeline.value()) + " at " + end.next_start.to_string() + ")");
  }
  store_timeline_history(*source_, storage_, end.next_timeline);
  timeline_switch_fault("history");
  const ResumePoint next{end.next_timeline, wal::segment_start(wal::segment_of(end.next_start, config_.segment_size),
                                                               config_.segment_size)};
  position_ = next;
  if (tip_) {
    // Create the new timeline's tip first (unless its segment is archived already): at a restart it shows that
    // the old timeline's tip of the same segment, if still there, must be finished before streaming goes on.
    const wal::SegmentNo segno = wal::segment_of(next.start, config_.segment_size);
    if (!storage_.info(format::segment_object_name(next.timeline, segno, config_.segment_size))) {
      const Tip successor(
          storage_,
          SegmentIdentity{config_.system_identifier, config_.pg_version, next.timeline, segno, config_.segment_size},
          options_.compress_level);
    }
    timeline_switch_fault("successor");
    archive_tip(received_, /*final=*/true);
    timeline_switch_fault("sealed");
    // The new timeline's tip, or past its archived segments when this finished a switch cut short earlier.
    position_ = repository_resume_point(storage_, config_.segment_size).value_or(next);
  }
  log::info("timeline " + std::to_string(timeline_.value()) + " ended at " + end.next_start.to_string() +
            "; following timeline " + std::to_string(end.next_timeline.value()));
}

void Streamer::make_durable() {
  if (options_.lock_lost && options_.lock_lost()) {
    throw Error(ErrorCode::kRepository,
                "another process took over the repository's stream lock (its lease was not renewed in time): "
                "stopping, nothing more is written or acknowledged",
                "see which streamer holds it with 'walvault status'; only one may run per repository");
  }
  if (tip_) tip_->sync();
  if (disk_full_at_ && durable() > *disk_full_at_) {
    log::info("the repository has space again: WAL is durable up to " + durable().to_string() + ", streaming resumed");
    disk_full_at_.reset();
  }
  indexer_->publish(durable());
  write_state();
  send_status(false);
  last_sync_ = clock_.steady();
}

void Streamer::write_state() {
  state_.timeline = timeline_;
  state_.durable_lsn = durable();
  state_.received_lsn = std::max(received_, state_.durable_lsn);  // an adopted tip holds WAL received earlier
  state_.server_lsn = std::max(server_lsn_, state_.received_lsn);
  state_.updated = format_time(clock_.now());
  if (server_lsn_heard_ && state_.durable_lsn >= server_lsn_) state_.caught_up = state_.updated;
  if (const auto& last = indexer_->last_commit()) {
    state_.last_commit_time = format_time(from_pg_timestamp(last->time));
    state_.last_commit_lsn = last->lsn;
  }
  const std::string text = encode_stream_state(state_);
  state_file_->write_at(0, std::as_bytes(std::span(text.data(), text.size())));
  state_file_->sync();
}

void Streamer::send_status(bool reply_requested) {
  if (!source_) return;
  const wal::Lsn flush = durable();
  source_->send_status(std::max(received_, flush), flush, to_pg_timestamp(clock_.now()), reply_requested);
  last_status_ = clock_.steady();
}

}  // namespace walvault::archive
