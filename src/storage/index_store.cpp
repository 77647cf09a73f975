#include "storage/index_store.hpp"

#include <algorithm>
#include <set>
#include <utility>
#include <vector>

namespace walvault::storage {
namespace {

// A run or tip log that cannot be read: damaged, or written in a newer format (then nothing is wrong with it).
Error index_error(std::string_view object, const format::IndexError& e) {
  const std::string message = "index object " + std::string(object) + ": " + e.message;
  if (e.kind == format::IndexErrorKind::kUnsupportedVersion) {
    return Error(ErrorCode::kRepository, message,
                 "a newer walvault wrote this repository; run that version (or a later one) against it");
  }
  return Error(ErrorCode::kCorrupt, message,
               "the index can be rebuilt from the WAL containers; do not trust lookups until then");
}

struct ListedRun {
  ObjectInfo object;
  format::RunName name;
};

// A timeline's runs as listed: the ones to read, sorted by first LSN, and the ones a wider run covers (compaction
// writes the merged run first and removes the parts after it, so a crash in between leaves both).
struct RunListing {
  std::vector<ListedRun> visible;
  std::vector<ObjectInfo> covered;
};

// objects: any objects; the runs of timeline are picked out.
RunListing classify_runs(std::vector<ObjectInfo> objects, wal::TimelineId timeline) {
  std::vector<ListedRun> runs;
  for (ObjectInfo& o : objects) {
    if (auto name = format::parse_run_object_name(o.name); name && name->timeline == timeline) {
      runs.push_back(ListedRun{std::move(o), *name});
    }
  }
  std::sort(runs.begin(), runs.end(), [](const ListedRun& a, const ListedRun& b) {
    return a.name.first != b.name.first ? a.name.first < b.name.first : a.name.end > b.name.end;
  });
  RunListing out;
  for (ListedRun& r : runs) {
    if (!out.visible.empty() && r.name.end <= out.visible.back().name.end) {
      out.covered.push_back(std::move(r.object));
      continue;
    }
    if (!out.visible.empty() && r.name.first < out.visible.back().name.end) {
      throw Error(ErrorCode::kCorrupt,
                  "index runs " + out.visible.back().object.name + " and " + r.object.name + " overlap",
                  "remove the smaller run; the index can be rebuilt from the WAL containers");
    }
    out.visible.push_back(std::move(r));
  }
  return out;
}

RunListing list_runs(const Storage& storage, wal::TimelineId timeline) {
  return classify_runs(storage.list(format::index_prefix(timeline)), timeline);
}

// Writes run as the object `name`, streamed: the encoded run is never held whole in memory. `what` names the
// operation in the error for content the encoder rejects (a bug).
void write_run(Storage& storage, const std::string& name, const format::RunContent& run, const std::string& what) {
  const auto out = storage.open_writer(name);
  auto size = format::encode_run(run, [&out](std::span<const std::byte> bytes) { out->write(bytes); });
  if (!size) throw Error(ErrorCode::kInternal, what + ": " + size.error().message);
  out->commit();
}

// Merges runs (adjacent and LSN-contiguous, in order) into one: the merged run is written first, then the parts
// are removed, so a crash at any point leaves an index with the same answers.
void merge_group(Storage& storage, wal::TimelineId timeline, const std::vector<std::string>& names) {
  std::vector<format::RunContent> parts;
  for (const std::string& name : names) {
    auto run = format::decode_run(storage.read(name));
    if (!run) throw index_error(name, run.error());
    parts.push_back(std::move(*run));
  }
  auto merged = format::merge_runs(std::move(parts));
  if (!merged) throw Error(ErrorCode::kInternal, "cannot merge index runs: " + merged.error().message);
  write_run(storage, format::run_object_name(timeline, merged->first_lsn, merged->end_lsn), *merged,
            "cannot merge index runs");
  for (const std::string& name : names) storage.remove(name);
}

}  // namespace

struct IndexWriter::Tip {
  std::string name;
  std::unique_ptr<AppendFile> file;          // null on stores without append
  std::vector<std::byte> pending;            // records not yet written (stores without append: the whole log)
  wal::Lsn last_commit;                      // highest commit lsn present
  std::vector<format::EventEntry> last_events;  // events at the highest event commit lsn present
};

IndexWriter::IndexWriter(Storage& storage, uint64_t system_identifier, wal::TimelineId timeline,
                         uint32_t segment_size)
    : storage_(storage), system_identifier_(system_identifier), timeline_(timeline), segment_size_(segment_size) {}

IndexWriter::~IndexWriter() = default;

IndexWriter::Tip& IndexWriter::tip_for(wal::Lsn lsn) {
  const wal::SegmentNo segno = wal::segment_of(lsn, segment_size_);
  auto& slot = tips_[segno.value()];
  if (slot) return *slot;
  auto tip = std::make_unique<Tip>();
  tip->name = format::tip_log_object_name(timeline_, segno, segment_size_);
  const auto header = format::encode_tip_header(system_identifier_, timeline_);
  if (!storage_.capabilities().append) {
    tip->pending = header;
  } else {
    tip->file = storage_.open_append(tip->name);
    const auto existing = tip->file->size() == 0 ? Bytes() : storage_.read(tip->name);
    auto parsed = format::parse_tip_log(existing);
    if (!parsed && parsed.error().kind != format::IndexErrorKind::kTruncated) {
      throw index_error(tip->name, parsed.error());
    }
    if (!parsed || parsed->system_identifier != system_identifier_ || parsed->timeline != timeline_) {
      if (parsed) {
        throw Error(ErrorCode::kCorrupt, "index tip log " + tip->name + " belongs to another cluster or timeline");
      }
      // Empty, or a header torn by a crash right after creation: start over.
      tip->file->truncate(0);
      tip->file->append(header);
      tip->file->sync();
    } else {
      if (parsed->torn_bytes > 0) {
        tip->file->truncate(parsed->valid_length);
        tip->file->sync();
      }
      for (const auto& c : parsed->commits) tip->last_commit = std::max(tip->last_commit, c.lsn);
      for (auto& e : parsed->events) {
        if (!tip->last_events.empty() && e.commit_lsn > tip->last_events.back().commit_lsn) tip->last_events.clear();
        tip->last_events.push_back(std::move(e));
      }
    }
  }
  slot = std::move(tip);
  return *slot;
}

bool IndexWriter::holds(const format::CommitEntry& entry) { return entry.lsn <= tip_for(entry.lsn).last_commit; }

void IndexWriter::append(const format::CommitEntry& entry) {
  if (holds(entry)) return;  // already logged before a restart
  Tip& tip = tip_for(entry.lsn);
  const auto record = format::encode_tip_record(entry);
  tip.pending.insert(tip.pending.end(), record.begin(), record.end());
  if (tip.pending.size() >= kMaxPendingBytes) write_pending(tip);
  tip.last_commit = entry.lsn;
}

void IndexWriter::append(const format::EventEntry& event) {
  Tip& tip = tip_for(event.commit_lsn);
  if (!tip.last_events.empty()) {
    const wal::Lsn last = tip.last_events.back().commit_lsn;
    if (event.commit_lsn < last) return;
    // A commit makes at most one event of each kind, so an event of the same kind at the same commit is this one,
    // decoded again after a restart, perhaps with less context (names the catalog no longer has, records of its
    // transaction before the segment the streamer restarted in).
    if (event.commit_lsn == last && std::any_of(tip.last_events.begin(), tip.last_events.end(),
                                                [&](const format::EventEntry& e) { return e.kind == event.kind; })) {
      return;
    }
    if (event.commit_lsn > last) tip.last_events.clear();
  }
  const auto record = format::encode_tip_record(event);
  tip.pending.insert(tip.pending.end(), record.begin(), record.end());
  if (tip.pending.size() >= kMaxPendingBytes) write_pending(tip);
  tip.last_events.push_back(event);
}

void IndexWriter::write_pending(Tip& tip) {
  if (!tip.file || tip.pending.empty()) return;
  tip.file->append(tip.pending);
  tip.pending.clear();
}

void IndexWriter::write_out(Tip& tip) {
  if (!tip.file) return;
  write_pending(tip);
  tip.file->sync();
}

void IndexWriter::sync() {
  for (auto& [segno, tip] : tips_) write_out(*tip);
}

format::SegmentSummary IndexWriter::seal_segment(wal::SegmentNo segno, wal::Lsn start_lsn, wal::Lsn end_lsn) {
  const std::string tip_name = format::tip_log_object_name(timeline_, segno, segment_size_);
  Bytes log;
  if (auto it = tips_.find(segno.value()); it != tips_.end()) {
    if (it->second->file) {
      write_out(*it->second);
    } else {
      log = std::move(it->second->pending);
    }
    tips_.erase(it);
  }
  const std::string run_name = format::run_object_name(timeline_, start_lsn, end_lsn);
  if (storage_.info(run_name)) {
    // Sealed before (a restart replayed the segment): the run is authoritative.
    auto sealed = format::decode_run(storage_.read(run_name));
    if (!sealed || sealed->segments.size() != 1) {
      throw index_error(run_name, sealed ? format::IndexError{format::IndexErrorKind::kCorrupt,
                                                                "a segment run must hold one segment summary"}
                                           : sealed.error());
    }
    storage_.remove(tip_name);
    return sealed->segments.front();
  }
  // The log is parsed a range at a time: at the streamer's peak memory, only the parsed entries are held whole.
  std::optional<format::TipLogParser> parser;
  if (!log.empty()) {
    parser.emplace(log.size());
    parser->feed(log);
    Bytes().swap(log);
  } else if (const auto size = storage_.info(tip_name)) {
    constexpr uint64_t kPiece = 256 * 1024;
    parser.emplace(*size);
    for (uint64_t at = 0; at < *size; at += kPiece) {
      parser->feed(storage_.read_range(tip_name, at, std::min(kPiece, *size - at)));
    }
  }

  format::RunContent run;
  run.system_identifier = system_identifier_;
  run.timeline = timeline_;
  run.first_lsn = start_lsn;
  run.end_lsn = end_lsn;
  if (parser) {
    auto parsed = std::move(*parser).finish();
    if (!parsed) throw index_error(tip_name, parsed.error());
    run.commits = std::move(parsed->commits);
    run.events = std::move(parsed->events);
  }
  // Tip logs are appended in LSN order: sort (stable_sort allocates a buffer of half the entries) only when not.
  const auto by_lsn = [](const auto& a, const auto& b) { return a.lsn < b.lsn; };
  if (!std::is_sorted(run.commits.begin(), run.commits.end(), by_lsn)) {
    std::stable_sort(run.commits.begin(), run.commits.end(), by_lsn);
  }
  run.commits.erase(std::unique(run.commits.begin(), run.commits.end(),
                                [](const auto& a, const auto& b) { return a.lsn == b.lsn; }),
                    run.commits.end());
  const auto by_commit = [](const auto& a, const auto& b) { return a.commit_lsn < b.commit_lsn; };
  if (!std::is_sorted(run.events.begin(), run.events.end(), by_commit)) {
    std::stable_sort(run.events.begin(), run.events.end(), by_commit);
  }

  format::SegmentSummary summary{segno, start_lsn, end_lsn, {}, {}, run.commits.size(), run.events.size()};
  if (!run.commits.empty()) {
    summary.first_commit_time = run.commits.front().time;
    summary.last_commit_time = run.commits.back().time;
  }
  run.segments = {summary};
  write_run(storage_, run_name, run, "cannot build the index run of segment " + std::to_string(segno.value()));
  storage_.remove(tip_name);
  return summary;
}

std::size_t IndexWriter::compact(std::size_t fanout, uint64_t max_merge_bytes) {
  const auto lock = storage_.lock(kIndexLockName, LockWait::kTry);
  if (!lock) return 0;  // another process (walvault expire) is compacting; the next seal tries again
  std::size_t merged_away = 0;
  // Size class: floor(log_fanout(segments spanned)), from the names alone.
  const auto level = [&](const ListedRun& r) {
    uint64_t segments = std::max<uint64_t>(1, (r.name.end - r.name.first) / segment_size_);
    int l = 0;
    for (; segments >= fanout; segments /= fanout) ++l;
    return l;
  };
  bool progress = true;
  while (progress && fanout >= 2) {
    progress = false;
    const RunListing listing = list_runs(storage_, timeline_);
    for (const ObjectInfo& o : listing.covered) storage_.remove(o.name);
    const auto& runs = listing.visible;
    for (std::size_t i = 0; i + fanout <= runs.size(); ++i) {
      uint64_t bytes = 0;
      bool mergeable = true;
      std::vector<std::string> names;
      for (std::size_t j = i; j < i + fanout; ++j) {
        bytes += runs[j].object.size;
        mergeable = mergeable && level(runs[j]) == level(runs[i]) && (j == i || runs[j].name.first == runs[j - 1].name.end);
        names.push_back(runs[j].object.name);
      }
      if (!mergeable || bytes > max_merge_bytes) continue;
      merge_group(storage_, timeline_, names);
      merged_away += fanout - 1;
      progress = true;
      break;
    }
  }
  return merged_away;
}

std::size_t CompactionPlan::runs_after() const {
  std::size_t after = runs_before;
  for (const auto& group : merges) after -= group.size() - 1;
  return after;
}

namespace {

CompactionPlan plan_timeline(RunListing listing, wal::TimelineId timeline, uint64_t max_merge_bytes) {
  CompactionPlan plan{timeline, listing.visible.size(), {}, {}};
  for (const ObjectInfo& o : listing.covered) plan.covered.push_back(o.name);
  std::vector<std::string> group;
  uint64_t bytes = 0;
  wal::Lsn group_end;
  const auto close_group = [&] {
    if (group.size() >= 2) plan.merges.push_back(std::move(group));
    group.clear();
    bytes = 0;
  };
  for (const ListedRun& r : listing.visible) {
    if (r.object.size > max_merge_bytes / 2) {  // final: rewriting it would buy little for a lot of IO
      close_group();
      continue;
    }
    if (group.empty() || r.name.first != group_end || bytes + r.object.size > max_merge_bytes) close_group();
    group.push_back(r.object.name);
    bytes += r.object.size;
    group_end = r.name.end;
  }
  close_group();
  return plan;
}

}  // namespace

std::vector<CompactionPlan> plan_full_compaction(const std::vector<ObjectInfo>& index_objects,
                                                 uint64_t max_merge_bytes) {
  std::set<wal::TimelineId> timelines;
  for (const ObjectInfo& o : index_objects) {
    if (const auto name = format::parse_run_object_name(o.name)) timelines.insert(name->timeline);
  }
  std::vector<CompactionPlan> plans;
  for (const wal::TimelineId timeline : timelines) {
    plans.push_back(plan_timeline(classify_runs(index_objects, timeline), timeline, max_merge_bytes));
  }
  return plans;
}

void apply_compaction(Storage& storage, const CompactionPlan& plan) {
  for (const std::string& name : plan.covered) storage.remove(name);
  for (const auto& group : plan.merges) merge_group(storage, plan.timeline, group);
}

format::TipLog read_tip_log(const Storage& storage, const std::string& name) {
  const Bytes bytes = storage.read(name);
  if (bytes.size() < format::kTipHeaderSize) return {};
  auto log = format::parse_tip_log(bytes);
  if (!log) throw index_error(name, log.error());
  return std::move(*log);
}

format::IndexView open_index(const Storage& storage, wal::TimelineId timeline, uint32_t segment_size) {
  std::vector<format::RunReader> readers;
  for (const ListedRun& r : list_runs(storage, timeline).visible) {
    auto reader = format::RunReader::open(range_reader(storage, r.object.name), r.object.size);
    if (!reader) throw index_error(r.object.name, reader.error());
    readers.push_back(std::move(*reader));
  }
  std::vector<format::CommitEntry> commits;
  std::vector<format::EventEntry> events;
  for (const ObjectInfo& o : storage.list(format::index_prefix(timeline))) {
    if (!format::parse_tip_log_object_name(o.name, segment_size)) continue;
    format::TipLog log = read_tip_log(storage, o.name);
    commits.insert(commits.end(), log.commits.begin(), log.commits.end());
    std::move(log.events.begin(), log.events.end(), std::back_inserter(events));
  }
  // Tip logs list in segment order; keep LSN order within them.
  std::stable_sort(commits.begin(), commits.end(), [](const auto& a, const auto& b) { return a.lsn < b.lsn; });
  std::stable_sort(events.begin(), events.end(),
                   [](const auto& a, const auto& b) { return a.commit_lsn < b.commit_lsn; });
  return format::IndexView(std::move(readers), std::move(commits), std::move(events));
}

}  // namespace walvault::storage
