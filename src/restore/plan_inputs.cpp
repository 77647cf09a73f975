#include "restore/plan_inputs.hpp"

#include <algorithm>
#include <limits>
#include <set>
#include <string_view>
#include <tuple>

#include "archive/history_files.hpp"
#include "archive/stream_state.hpp"
#include "archive/verify_state.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "repo/repository.hpp"
#include "repo/wal_chains.hpp"
#include "restore/incidents.hpp"
#include "restore/wal_fetch.hpp"
#include "storage/index_store.hpp"
#include "wal/decoder.hpp"

namespace walvault::restore {
namespace {

template <typename T>
T checked(format::IndexResult<T> result, wal::TimelineId tli) {
  if (!result) {
    throw Error(ErrorCode::kCorrupt,
                "the index of timeline " + std::to_string(tli.value()) + " is damaged: " + result.error().message,
                "the WAL itself is unaffected; the index can be rebuilt from it");
  }
  return std::move(result).value();
}

bool in_piece(const BranchPiece& piece, wal::Lsn lsn) { return lsn >= piece.begin && lsn < piece.end; }

// Timelines that have an index folder ("index/<TTTTTTTT>/").
std::set<uint32_t> indexed_timelines(const storage::Storage& storage) {
  std::set<uint32_t> out;
  for (const auto& object : storage.list("index/")) {
    const std::string_view rest = std::string_view(object.name).substr(6);
    if (rest.size() < 9 || rest[8] != '/') continue;
    uint32_t tli = 0;
    bool ok = true;
    for (const char c : rest.substr(0, 8)) {
      const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (d < 0) ok = false;
      tli = tli * 16 + static_cast<uint32_t>(d < 0 ? 0 : d);
    }
    if (ok && tli != 0) out.insert(tli);
  }
  return out;
}

ErrorCode error_code(PlanErrorKind kind) {
  switch (kind) {
    case PlanErrorKind::kNotFound:
      return ErrorCode::kNotFound;
    case PlanErrorKind::kRepository:
      return ErrorCode::kRepository;
    case PlanErrorKind::kNotRestorable:
      return ErrorCode::kNotRestorable;
  }
  return ErrorCode::kNotRestorable;
}

// The last whole record in segments [first, run.last] of the run, decoded from first's start (or its first page
// boundary, for a repository's first container that starts inside its segment); nullopt when none starts there.
std::optional<RecordSpan> last_record_from(const repo::Repository& repository, const WalRun& run, wal::SegmentNo first) {
  const repo::RepoConfig& config = repository.config;
  wal::DecoderConfig decoder_config;
  decoder_config.segment_size = config.segment_size;
  decoder_config.system_identifier = config.system_identifier;
  decoder_config.pg_major = repo::wal_format(config).pg_major;
  std::optional<wal::StreamDecoder> decoder;
  std::optional<RecordSpan> last;
  for (wal::SegmentNo segno = first; segno <= run.last; segno = segno.next()) {
    const wal::SegmentName name{run.timeline, segno};
    const auto held = read_held_segment(*repository.storage, config, name);
    if (!held) {
      throw Error(ErrorCode::kCorrupt,
                  "WAL segment " + wal::segment_file_name(run.timeline, segno, config.segment_size) +
                      " vanished while the restore was planned",
                  "is 'walvault expire' running? plan the restore again");
    }
    const wal::Lsn start = wal::segment_start(segno, config.segment_size) + held->offset;
    if (!decoder) {
      const uint64_t page = wal::kWalPageSize;
      decoder.emplace(decoder_config, wal::Lsn((start.value() + page - 1) / page * page));
    }
    decoder->feed(start, held->bytes);
    for (;;) {
      const wal::Step step = decoder->next();
      if (step.status == wal::Status::kRecord) {
        last = RecordSpan{step.record->lsn, step.record->end_lsn};
        continue;
      }
      if (step.status == wal::Status::kNeedMore) break;
      if (step.problem->kind == wal::ProblemKind::kForeignWal) {
        throw Error(ErrorCode::kRepository,
                    "the WAL held on timeline " + std::to_string(run.timeline.value()) +
                        " belongs to another cluster: " + step.problem->message,
                    "this repository holds objects of a foreign cluster; restore from that cluster's own repository");
      }
      // Durable WAL is whole records up to its end (after a switch record the decoder skips the zeros): a stop
      // inside it is damage, and planning to it would end the restore early in silence.
      throw Error(ErrorCode::kCorrupt,
                  "the WAL held on timeline " + std::to_string(run.timeline.value()) + " cannot be read to its end " +
                      run.end_lsn.to_string() + ": " + step.problem->message + " at " + step.problem->lsn.to_string(),
                  "'walvault verify --full' names the damaged object; restore to a target before " +
                      step.problem->lsn.to_string());
    }
  }
  return last;
}

// The last whole record the repository holds on timeline tli (in its newest run), if any. Decodes the run's last
// segment, and earlier ones only while no record starts in what was decoded (a record longer than a segment).
std::optional<RecordSpan> last_record_held(const repo::Repository& repository, const WalCoverage& coverage,
                                           wal::TimelineId tli) {
  const WalRun* newest = nullptr;
  for (const auto& run : coverage.runs) {
    if (run.timeline == tli && (newest == nullptr || run.end_lsn > newest->end_lsn)) newest = &run;
  }
  if (newest == nullptr) return std::nullopt;
  for (wal::SegmentNo first = newest->last;; first = wal::SegmentNo(first.value() - 1)) {
    if (auto last = last_record_from(repository, *newest, first)) return last;
    if (first == newest->first) return std::nullopt;
  }
}

}  // namespace

std::optional<TipState> read_tip_state(const storage::Storage& storage, uint32_t segment_size) {
  const std::string object(archive::kStreamStateObject);
  const auto size = storage.info(object);
  if (!size || *size == 0) {
    // Without the state, how much of a tip is durable is unknown: never "no tip" (a restore would end early). An
    // empty state beside a tip is the same (a streamer writes its first state before its first acknowledgement).
    for (const auto& info : storage.list("tip/")) {
      if (info.name.ends_with(".partial")) {
        throw Error(ErrorCode::kCorrupt,
                    object + (size ? " is empty" : " is missing") + " while the streamer's in-progress segment " +
                        info.name +
                        " exists: how much of it is durable is unknown",
                    "a running streamer rewrites it within a second ('walvault status' shows whether one runs); "
                    "until then restore to a --time, --lsn or event before the streamer's tip");
      }
    }
    return std::nullopt;
  }
  const auto state = archive::read_stream_state(storage);  // throws kCorrupt when damaged
  if (!state || state->segment.empty()) return std::nullopt;  // a streamer that has no tip yet
  const auto segment = wal::parse_segment_file_name(state->segment, segment_size);
  if (!segment) {
    throw Error(ErrorCode::kCorrupt, object + " is damaged: it names no segment (\"" + state->segment + "\")",
                "the streamer rewrites it when it runs ('walvault stream')");
  }
  return TipState{segment->timeline, segment->segno, state->durable_lsn};
}

WalCoverage read_wal_coverage(const storage::Storage& storage, uint32_t segment_size) {
  std::vector<std::string> names;
  for (const auto& info : storage.list("wal/")) names.push_back(info.name);
  std::vector<WalCut> cuts;
  for (const auto& chain : repo::read_chain_breaks(storage)) {
    if (chain.previous_end) cuts.push_back(WalCut{chain.previous_timeline, *chain.previous_end});
  }
  return wal_coverage(names, read_tip_state(storage, segment_size), segment_size, cuts);
}

std::map<wal::TimelineId, std::vector<HistoryEntry>> read_histories(const storage::Storage& storage) {
  std::map<wal::TimelineId, std::vector<HistoryEntry>> out;
  for (const auto& info : storage.list("wal/")) {
    const auto tli = wal::parse_history_file_name(std::string_view(info.name).substr(4));
    if (!tli) continue;
    const std::string text = archive::read_history_file(storage, info.name);  // throws kCorrupt when damaged
    auto parsed = parse_history(text);
    if (!parsed) {
      throw Error(ErrorCode::kCorrupt, "history file " + info.name + " is damaged: " + parsed.error(),
                  "the server's copy (pg_wal/" + info.name.substr(4) + ") can replace it");
    }
    out[*tli] = std::move(parsed).value();
  }
  return out;
}

std::optional<wal::TimelineId> newest_timeline(const storage::Storage& storage, uint32_t segment_size) {
  std::optional<wal::TimelineId> newest;
  const auto consider = [&newest](wal::TimelineId t) {
    if (!newest || t > *newest) newest = t;
  };
  for (const auto& run : read_wal_coverage(storage, segment_size).runs) consider(run.timeline);
  for (const auto& [tli, history] : read_histories(storage)) consider(tli);
  for (const uint32_t tli : indexed_timelines(storage)) consider(wal::TimelineId(tli));
  return newest;
}

Branch read_branch(const storage::Storage& storage, wal::TimelineId tli, uint32_t segment_size) {
  if (tli.value() <= 1) return make_branch(tli, {});
  const auto histories = read_histories(storage);
  const auto it = histories.find(tli);
  if (it == histories.end()) {
    throw Error(ErrorCode::kNotRestorable,
                "the repository has no history file for timeline " + std::to_string(tli.value()),
                "'walvault list' shows the timelines held; choose one with --timeline");
  }
  const WalCoverage coverage = read_wal_coverage(storage, segment_size);
  if (const auto disagreement = history_disagreement(tli, it->second, coverage, segment_size)) {
    throw Error(ErrorCode::kCorrupt, "history file wal/" + wal::history_file_name(tli) + " is damaged: " + *disagreement,
                "the server's copy (pg_wal/" + wal::history_file_name(tli) + ") can replace it");
  }
  return make_branch(tli, it->second);
}

std::optional<format::CommitEntry> last_commit_on(const storage::Storage& storage, const Branch& branch,
                                                  uint32_t segment_size) {
  for (auto piece = branch.rbegin(); piece != branch.rend(); ++piece) {
    auto view = storage::open_index(storage, piece->timeline, segment_size);
    const auto found = checked(view.lookup_time(std::numeric_limits<format::TimestampTz>::max()), piece->timeline);
    if (found.last_at_or_before && in_piece(*piece, found.last_at_or_before->lsn)) return found.last_at_or_before;
  }
  return std::nullopt;
}

format::TimeLookup lookup_time_on(const storage::Storage& storage, const Branch& branch, format::TimestampTz t,
                                  uint32_t segment_size) {
  format::TimeLookup result;
  for (const BranchPiece& piece : branch) {
    auto view = storage::open_index(storage, piece.timeline, segment_size);
    const auto found = checked(view.lookup_time(t), piece.timeline);
    if (found.last_at_or_before && in_piece(piece, found.last_at_or_before->lsn)) {
      result.last_at_or_before = found.last_at_or_before;
    }
    if (found.first_after && in_piece(piece, found.first_after->lsn)) {
      result.first_after = found.first_after;
      return result;
    }
  }
  return result;
}

std::vector<TimelineEvent> read_events(const storage::Storage& storage, format::TimestampTz since,
                                       format::TimestampTz until, uint32_t segment_size) {
  std::vector<TimelineEvent> out;
  for (const uint32_t t : indexed_timelines(storage)) {
    const wal::TimelineId tli(t);
    // A newer timeline's first segment repeats the parent's WAL before the switch: keep those events once.
    const wal::Lsn begin = read_branch(storage, tli, segment_size).back().begin;
    auto view = storage::open_index(storage, tli, segment_size);
    for (auto& e : checked(view.events_by_time(since, until), tli)) {
      if (e.commit_lsn >= begin) out.push_back({tli, std::move(e)});
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const TimelineEvent& a, const TimelineEvent& b) {
    return std::tie(a.event.commit_time, a.event.commit_lsn) < std::tie(b.event.commit_time, b.event.commit_lsn);
  });
  return out;
}

PlanInputs read_plan_inputs(const repo::Repository& repository) {
  PlanInputs inputs;
  inputs.system_identifier = repository.config.system_identifier;
  inputs.segment_size = repository.config.segment_size;
  BackupCatalog catalog = read_backup_catalog(*repository.storage);
  if (catalog.backups.empty() && !catalog.damaged.empty()) throw catalog.damaged.front();  // nothing else to use
  for (const auto& damaged : catalog.damaged) {
    log::warning(std::string(damaged.what()) + ": that backup cannot be used; planning with the others");
  }
  inputs.backups = std::move(catalog.backups);
  inputs.coverage = read_wal_coverage(*repository.storage, inputs.segment_size);
  inputs.damaged_backups = archive::read_verify_state(*repository.storage).damaged_backups();
  return inputs;
}

TargetFacts read_target_facts(const repo::Repository& repository, const TargetRequest& request) {
  const storage::Storage& storage = *repository.storage;
  const uint32_t seg = repository.config.segment_size;
  TargetFacts facts;
  facts.request = request;
  std::optional<EventId> id;
  bool no_incident = false;
  if (request.kind == TargetKind::kBeforeEvent) {
    id = parse_event_id(request.event_id);
    if (id && request.incident) {
      // The incident's first event is the target (its lowest stop point).
      const auto incident = find_incident(storage, seg, request.event_id, request.incident_gap_us);
      no_incident = !incident;  // plan_restore says so
      if (incident) {
        id = parse_event_id(event_id(incident->timeline, incident->first));
        facts.incident = incident->id + " (" + std::to_string(incident->events.size()) + " event" +
                         (incident->events.size() == 1 ? "" : "s") + ")";
      }
    }
    if (!id) {
      throw Error(ErrorCode::kNotFound, "\"" + request.event_id + "\" is not an event id",
                  "event ids look like 1-0000000004019D50-drop_table; run 'walvault events' to list them");
    }
  }
  if (request.timeline) {
    facts.timeline = *request.timeline;
  } else if (id) {
    facts.timeline = id->timeline;
  } else {
    const auto newest = newest_timeline(storage, seg);
    facts.timeline = newest ? *newest : repository.config.timeline;
  }
  facts.branch = read_branch(storage, facts.timeline, seg);
  facts.last_commit = last_commit_on(storage, facts.branch, seg);
  switch (request.kind) {
    case TargetKind::kTime: {
      const auto found = lookup_time_on(storage, facts.branch, request.time, seg);
      facts.last_at_or_before = found.last_at_or_before;
      facts.first_after = found.first_after;
      break;
    }
    case TargetKind::kXid:
      for (const BranchPiece& piece : facts.branch) {
        auto view = storage::open_index(storage, piece.timeline, seg);
        for (const auto& c : checked(view.lookup_xid(request.xid), piece.timeline)) {
          if (in_piece(piece, c.lsn)) facts.xid_commit = c;
        }
      }
      break;
    case TargetKind::kBeforeEvent: {
      if (no_incident || timeline_at(facts.branch, id->commit_lsn) != id->timeline) break;
      auto view = storage::open_index(storage, id->timeline, seg);
      for (auto& e : checked(view.events_by_lsn(id->commit_lsn, id->commit_lsn + 1), id->timeline)) {
        if (e.kind == id->kind) facts.event = std::move(e);
      }
      break;
    }
    case TargetKind::kLatest:
      facts.last_record = last_record_held(repository, read_wal_coverage(storage, seg), facts.timeline);
      break;
    case TargetKind::kLsn:
      break;
  }
  return facts;
}

RestorePlan make_plan(const repo::Repository& repository, const TargetRequest& request) {
  const PlanInputs inputs = read_plan_inputs(repository);
  const TargetFacts facts = read_target_facts(repository, request);
  auto plan = plan_restore(inputs, facts);
  if (!plan) throw Error(error_code(plan.error().kind), plan.error().message, plan.error().hint);
  return std::move(plan).value();
}

}  // namespace walvault::restore
