#include "archive/index_crosscheck.hpp"

#include <algorithm>
#include <iterator>
#include <map>
#include <tuple>
#include <type_traits>

#include "common/error.hpp"
#include "storage/index_store.hpp"

namespace walvault::archive {
namespace {

struct Entries {
  std::vector<format::CommitEntry> commits;
  std::vector<format::EventEntry> events;
  // The newest kind the object's version holds: a run written before drop_column and alter_type existed is not
  // missing them.
  format::EventKind newest_kind = format::EventKind::kAlterType;
};

// A unit's index entries; nullopt when its object is damaged or gone (reported elsewhere).
std::optional<Entries> load(const storage::Storage& storage, const IndexUnit& unit) {
  Entries out;
  if (unit.kind == IndexUnit::Kind::kAbsent) return out;
  try {
    if (unit.kind == IndexUnit::Kind::kTipLog) {
      auto log = storage::read_tip_log(storage, unit.object);
      out.commits = std::move(log.commits);
      out.events = std::move(log.events);
      out.newest_kind = format::newest_event_kind_of_tip_log(log.version);
      return out;
    }
    const auto size = storage.info(unit.object);
    if (!size) return std::nullopt;
    auto reader = format::RunReader::open(storage::range_reader(storage, unit.object), *size);
    if (!reader) return std::nullopt;
    out.newest_kind = format::newest_event_kind_of_run(reader->version());
    if (!reader->verify([&](const format::CommitEntry& c) { out.commits.push_back(c); })) return std::nullopt;
    auto events = reader->events();
    if (!events) return std::nullopt;
    out.events = std::move(*events);
    return out;
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kCorrupt || e.code() == ErrorCode::kNotFound) return std::nullopt;
    throw;
  }
}

std::string counted(std::size_t commits, std::size_t events) {
  return std::to_string(commits) + " commit" + (commits == 1 ? "" : "s") + " and " + std::to_string(events) + " event" +
         (events == 1 ? "" : "s");
}

}  // namespace

IndexCrossCheck::IndexCrossCheck(const storage::Storage& storage, const repo::RepoConfig& config,
                                 wal::TimelineId timeline, std::vector<IndexUnit> units, MassRowsSchedule mass_rows)
    : storage_(storage),
      segment_size_(config.segment_size),
      timeline_(timeline),
      units_(units.begin(), units.end()),
      decoder_(config, std::move(mass_rows), IndexDecoder::Callbacks{
                           nullptr,
                           [this](const wal::Commit& c, std::span<const wal::Event> events) {
                             commits_.push_back(index_commit(c));
                             for (const auto& e : events) {
                               events_.push_back(EventKey{e.commit_lsn, e.kind, e.xid, e.first_lsn, e.commit_end_lsn});
                             }
                           },
                           [this](const IndexDecoder::Problem& p) { unreadable_.emplace_back(p.lsn, p.until); }}) {}

void IndexCrossCheck::feed(wal::Lsn start, std::span<const std::byte> bytes) {
  if (bytes.empty()) return;
  if (fed_.empty() || fed_.back().second != start) {
    decoder_.start(start);
    fed_.emplace_back(start, start);
  }
  decoder_.feed(start, bytes);
  fed_.back().second = start + bytes.size();
  compare_ready(fed_.back().second, false);
}

std::vector<IndexMismatch> IndexCrossCheck::finish() {
  compare_ready(wal::Lsn(), true);
  return std::move(mismatches_);
}

bool IndexCrossCheck::comparable(wal::Lsn from, wal::Lsn to, uint64_t context) const {
  const bool inside =
      std::any_of(fed_.begin(), fed_.end(), [&](const auto& r) { return r.first + context <= from && to <= r.second; });
  const bool unreadable = std::any_of(unreadable_.begin(), unreadable_.end(),
                                      [&](const auto& r) { return from < r.second && r.first < to; });
  return inside && !unreadable;
}

void IndexCrossCheck::compare_ready(wal::Lsn fed_end, bool all) {
  while (!units_.empty() && (all || units_.front().to + segment_size_ <= fed_end)) {
    compare(units_.front());
    units_.pop_front();
  }
  // Decoded entries before the next unit belong to no unit left.
  const auto before_next = [&](wal::Lsn lsn) { return units_.empty() || lsn < units_.front().from; };
  while (!commits_.empty() && before_next(commits_.front().lsn)) commits_.pop_front();
  while (!events_.empty() && before_next(events_.front().commit_lsn)) events_.pop_front();
}

void IndexCrossCheck::compare(const IndexUnit& unit) {
  const bool fed =
      std::any_of(fed_.begin(), fed_.end(), [&](const auto& r) { return r.first < unit.to && unit.from < r.second; });
  if (!fed) return;
  const auto index = load(storage_, unit);
  if (!index) return;
  const auto in_unit = [&](wal::Lsn lsn) { return lsn >= unit.from && lsn < unit.to; };

  std::vector<format::CommitEntry> held;  // in the index, comparable
  std::map<uint64_t, wal::Lsn> commit_ends;
  for (const auto& c : index->commits) {
    commit_ends[c.lsn.value()] = c.end_lsn;
    if (in_unit(c.lsn) && comparable(c.lsn, c.end_lsn)) held.push_back(c);
  }
  std::vector<format::CommitEntry> decoded;
  for (const auto& c : commits_) {
    if (in_unit(c.lsn) && comparable(c.lsn, c.end_lsn)) decoded.push_back(c);
  }
  const auto event_comparable = [&](const EventKey& e) {
    return e.kind <= index->newest_kind && in_unit(e.commit_lsn) &&
           comparable(std::min(e.first_lsn, e.commit_lsn), e.commit_end, segment_size_);
  };
  std::vector<EventKey> held_events;
  for (const auto& e : index->events) {
    const auto end = commit_ends.find(e.commit_lsn.value());
    const EventKey key{e.commit_lsn, e.kind, e.xid, e.first_lsn, end == commit_ends.end() ? e.commit_lsn : end->second};
    if (event_comparable(key)) held_events.push_back(key);
  }
  std::vector<EventKey> decoded_events;
  for (const auto& e : events_) {
    if (event_comparable(e)) decoded_events.push_back(e);
  }

  // Entries of `a` that `b` lacks: the count and the first LSN.
  struct Missing {
    std::size_t commits = 0;
    std::size_t events = 0;
    std::optional<wal::Lsn> first;
    void note(wal::Lsn lsn) {
      if (!first || lsn < *first) first = lsn;
    }
  };
  // Sorted, so that a difference is one merge (a run may hold hundreds of thousands of commits).
  const auto commit_order = [](const format::CommitEntry& a, const format::CommitEntry& b) {
    return std::tie(a.lsn, a.end_lsn, a.time, a.xid, a.aborted) < std::tie(b.lsn, b.end_lsn, b.time, b.xid, b.aborted);
  };
  const auto event_order = [](const EventKey& a, const EventKey& b) {
    return std::tie(a.commit_lsn, a.kind, a.xid) < std::tie(b.commit_lsn, b.kind, b.xid);
  };
  std::sort(held.begin(), held.end(), commit_order);
  std::sort(decoded.begin(), decoded.end(), commit_order);
  std::sort(held_events.begin(), held_events.end(), event_order);
  std::sort(decoded_events.begin(), decoded_events.end(), event_order);
  const auto lacking = [](const auto& a, const auto& b, auto order, auto lsn_of, std::size_t& count, Missing& m) {
    std::vector<std::decay_t<decltype(a.front())>> out;
    std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out), order);
    count += out.size();
    if (!out.empty()) m.note(lsn_of(out.front()));
  };
  const auto commit_lsn = [](const format::CommitEntry& c) { return c.lsn; };
  const auto event_lsn = [](const EventKey& e) { return e.commit_lsn; };
  Missing not_indexed;
  lacking(decoded, held, commit_order, commit_lsn, not_indexed.commits, not_indexed);
  lacking(decoded_events, held_events, event_order, event_lsn, not_indexed.events, not_indexed);
  Missing not_in_wal;
  lacking(held, decoded, commit_order, commit_lsn, not_in_wal.commits, not_in_wal);
  lacking(held_events, decoded_events, event_order, event_lsn, not_in_wal.events, not_in_wal);

  const std::string segment =
      wal::segment_file_name(timeline_, wal::segment_of(unit.from, segment_size_), segment_size_);
  if (not_indexed.first) {
    const std::string what = counted(not_indexed.commits, not_indexed.events) + " of the WAL (the first at " +
                             not_indexed.first->to_string() + ")";
    mismatches_.push_back(IndexMismatch{
        unit.object,
        unit.kind == IndexUnit::Kind::kAbsent
            ? "the index object for segment " + segment + " is missing: " + what + " are in no index run or tip log"
            : what + " are missing from the index",
        unit.from, unit.to});
  }
  if (not_in_wal.first) {
    mismatches_.push_back(IndexMismatch{unit.object,
                                        counted(not_in_wal.commits, not_in_wal.events) +
                                            " in the index are not in the WAL (the first at " +
                                            not_in_wal.first->to_string() + ")",
                                        unit.from, unit.to});
  }
}

}  // namespace walvault::archive
