#include "repo/wal_gaps.hpp"

#include <algorithm>

namespace walvault::repo {
namespace {

struct Need {
  wal::Lsn from;
  std::optional<wal::Lsn> until;  // the switch point to a child; unset: to the end of the timeline's WAL
  std::string backup;             // the oldest backup needing it ("" when none)
};

}  // namespace

HeldWal held_wal(const restore::WalCoverage& coverage, uint32_t segment_size) {
  HeldWal held;
  for (const auto& run : coverage.runs) {
    for (uint64_t s = run.first.value(); s <= run.last.value(); ++s) {
      const wal::SegmentNo segno(s);
      const wal::Lsn end = s == run.last.value() ? run.end_lsn : wal::segment_start(segno.next(), segment_size);
      held[run.timeline.value()][s] = LsnRange{wal::segment_start(segno, segment_size), end};
    }
  }
  return held;
}

std::string WalGap::message(uint32_t segment_size) const {
  const std::string tli = std::to_string(timeline.value());
  const std::string needed_by = backup.empty() ? "" : ", needed by backup " + backup;
  if (!to) return "no WAL held on timeline " + tli + " from " + from.to_string() + needed_by;
  const std::string first = wal::segment_file_name(timeline, wal::segment_of(from, segment_size), segment_size);
  const std::string last = wal::segment_file_name(timeline, wal::segment_of_end(*to, segment_size), segment_size);
  const std::string range = " on timeline " + tli + " from " + from.to_string() + " to " + to->to_string() +
                            " (segment" + (first == last ? " " + first : "s " + first + " to " + last) + ")";
  if (declared) return "WAL removed by the server before walvault received it" + range + ", declared by the " + declared->describe();
  return "WAL missing" + range + needed_by + (below_durable ? "; the streamer acknowledged it as durable: it was lost" : "");
}

std::vector<WalGap> find_wal_gaps(const HeldWal& held, const std::vector<BackupStart>& backups,
                                  const archive::TimelineTree& timelines, const std::optional<DurableEnd>& durable,
                                  const std::vector<ChainBreak>& breaks, uint32_t segment_size) {
  std::map<uint32_t, Need> needs;
  const auto add_need = [&](wal::TimelineId tli, wal::Lsn from, std::optional<wal::Lsn> until,
                            const std::string& backup) {
    auto [it, inserted] = needs.try_emplace(tli.value(), Need{from, until, backup});
    if (inserted) return;
    Need& need = it->second;
    if (from < need.from) {
      need.from = from;
      need.backup = backup;
    }
    if (!until || !need.until)
      need.until.reset();
    else
      need.until = std::max(*need.until, *until);
  };
  for (const auto& b : backups) {
    wal::TimelineId last = b.timeline;
    for (const auto& [tli, ranges] : held) {
      // A child that left the backup's timeline before the backup started cannot be reached from it.
      const auto left = timelines.switch_point(b.timeline, wal::TimelineId(tli));
      if (tli > last.value() && left && *left >= b.start_lsn) last = wal::TimelineId(tli);
    }
    wal::Lsn from = b.start_lsn;
    for (const auto& step : timelines.path(b.timeline, last)) {
      add_need(step.timeline, from, step.end, b.id);
      if (step.end) from = *step.end;
    }
  }
  // WAL no backup reaches through: from its first segment, up to where a child timeline with WAL left it.
  for (const auto& [tli, ranges] : held) {
    if (needs.contains(tli) || ranges.empty()) continue;
    std::optional<wal::Lsn> until;
    for (const auto& [child, child_ranges] : held) {
      const auto left =
          child > tli ? timelines.switch_point(wal::TimelineId(tli), wal::TimelineId(child)) : std::nullopt;
      if (left && (!until || *left > *until)) until = left;
    }
    add_need(wal::TimelineId(tli), ranges.begin()->second.start, until, "");
  }
  // The streamer's timeline is needed up to its durable LSN, even when nothing of it is held any more.
  if (durable && !needs.contains(durable->timeline.value())) {
    std::optional<wal::Lsn> from;
    const auto path = timelines.path(wal::TimelineId(1), durable->timeline);
    if (path.size() >= 2) from = path[path.size() - 2].end;
    add_need(durable->timeline,
             from.value_or(wal::segment_start(wal::segment_of(durable->lsn, segment_size), segment_size)), std::nullopt,
             "");
  }

  std::vector<WalGap> gaps;
  for (const auto& [t, need] : needs) {
    const wal::TimelineId tli(t);
    const auto it = held.find(t);
    const std::map<uint64_t, LsnRange> empty;
    const auto& ranges = it == held.end() ? empty : it->second;
    std::optional<wal::Lsn> end = need.until;
    const bool durable_here = durable && durable->timeline == tli && !need.until;
    if (!end && !ranges.empty()) end = ranges.rbegin()->second.end;
    if (durable_here && (!end || *end < durable->lsn)) end = durable->lsn;
    if (ranges.empty() && !durable_here) {
      gaps.push_back(WalGap{tli, need.from, need.until, need.backup, false, std::nullopt});
      continue;
    }
    const auto add_gap = [&](wal::Lsn from, wal::Lsn to) {
      const auto declared =
          std::find_if(breaks.begin(), breaks.end(), [&](const ChainBreak& b) { return b.declares(from, to); });
      gaps.push_back(WalGap{tli, from, to, need.backup, durable_here && from < durable->lsn && declared == breaks.end(),
                            declared == breaks.end() ? std::nullopt : std::optional(*declared)});
    };
    wal::Lsn cursor = need.from;
    while (cursor < *end) {
      const uint64_t segno = wal::segment_of(cursor, segment_size).value();
      const auto held_here = ranges.find(segno);
      if (held_here != ranges.end() && held_here->second.start <= cursor && cursor < held_here->second.end) {
        cursor = held_here->second.end;
        continue;
      }
      // WAL resumes at the first held range starting after the cursor.
      std::optional<wal::Lsn> resume;
      for (auto next = ranges.lower_bound(segno); next != ranges.end(); ++next) {
        if (next->second.start > cursor && next->second.end > next->second.start) {
          resume = next->second.start;
          break;
        }
      }
      const wal::Lsn gap_end = resume ? std::min(*resume, *end) : *end;
      add_gap(cursor, gap_end);
      cursor = gap_end;
    }
  }
  return gaps;
}

}  // namespace walvault::repo
