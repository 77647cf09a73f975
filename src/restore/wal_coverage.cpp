#include "restore/wal_coverage.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <string_view>

namespace walvault::restore {

WalCoverage wal_coverage(const std::vector<std::string>& object_names, const std::optional<TipState>& tip,
                         uint32_t segment_size, const std::vector<WalCut>& cuts) {
  constexpr std::string_view kPrefix = "wal/";
  constexpr std::string_view kSuffix = ".wvs";
  std::map<uint32_t, std::set<uint64_t>> segments;  // timeline → segment numbers
  for (const std::string_view name : object_names) {
    if (!name.starts_with(kPrefix) || !name.ends_with(kSuffix)) continue;
    const auto parsed = wal::parse_segment_file_name(
        name.substr(kPrefix.size(), name.size() - kPrefix.size() - kSuffix.size()), segment_size);
    if (parsed) segments[parsed->timeline.value()].insert(parsed->segno.value());
  }
  const bool tip_counts = tip && tip->durable_lsn > wal::segment_start(tip->segno, segment_size);
  if (tip_counts) segments[tip->timeline.value()].insert(tip->segno.value());

  WalCoverage coverage;
  for (const auto& [timeline, segnos] : segments) {
    for (const uint64_t segno : segnos) {
      if (!coverage.runs.empty() && coverage.runs.back().timeline.value() == timeline &&
          coverage.runs.back().last.value() + 1 == segno) {
        coverage.runs.back().last = wal::SegmentNo(segno);
      } else {
        WalRun run;
        run.timeline = wal::TimelineId(timeline);
        run.first = run.last = wal::SegmentNo(segno);
        run.start_lsn = wal::segment_start(run.first, segment_size);
        coverage.runs.push_back(run);
      }
      WalRun& run = coverage.runs.back();
      const bool is_tip = tip_counts && tip->timeline.value() == timeline && tip->segno.value() == segno;
      run.ends_at_tip = is_tip;
      run.end_lsn = is_tip ? tip->durable_lsn : wal::segment_start(run.last.next(), segment_size);
    }
  }
  for (const auto& cut : cuts) {
    const auto held = std::find_if(coverage.runs.begin(), coverage.runs.end(), [&](const WalRun& r) {
      return r.timeline == cut.timeline && r.start_lsn < cut.lsn && cut.lsn < r.end_lsn;
    });
    if (held == coverage.runs.end()) continue;
    WalRun before = *held;
    WalRun after = *held;
    const wal::SegmentNo cut_segment = wal::segment_of_end(cut.lsn, segment_size);
    before.last = cut_segment;
    before.end_lsn = cut.lsn;
    before.ends_at_tip = false;
    after.first = cut_segment.next();
    after.start_lsn = wal::segment_start(after.first, segment_size);
    const auto at = coverage.runs.erase(held);
    if (after.first <= after.last) {
      coverage.runs.insert(coverage.runs.insert(at, after), before);
    } else {
      coverage.runs.insert(at, before);
    }
  }
  return coverage;
}

const WalRun* WalCoverage::run_at(wal::TimelineId timeline, wal::Lsn lsn, uint32_t segment_size) const {
  const wal::SegmentNo segno = wal::segment_of(lsn, segment_size);
  for (const auto& run : runs) {
    if (run.timeline == timeline && run.first <= segno && segno <= run.last && lsn < run.end_lsn) return &run;
  }
  return nullptr;
}

bool WalCoverage::holds(wal::TimelineId timeline, wal::Lsn from, wal::Lsn to, uint32_t segment_size) const {
  if (to <= from) return true;
  const WalRun* run = run_at(timeline, from, segment_size);
  return run != nullptr && to <= run->end_lsn;
}

}  // namespace walvault::restore
