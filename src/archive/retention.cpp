#include "archive/retention.hpp"

#include <algorithm>
#include <string_view>
#include <tuple>

#include "format/index.hpp"

namespace walvault::archive {
namespace {

// Index of the first kept backup (backups sorted oldest first, not empty).
std::size_t first_kept(const std::vector<RetentionBackup>& backups, const RetentionPolicy& policy) {
  const std::size_t newest = backups.size() - 1;
  if (policy.keep_backups.has_value() == policy.keep_for.has_value()) return 0;
  if (policy.keep_backups) {
    if (*policy.keep_backups == 0) return 0;
    return backups.size() > *policy.keep_backups ? backups.size() - *policy.keep_backups : 0;
  }
  const auto cutoff = policy.now - *policy.keep_for;
  // The newest backup that stopped before the window starts is needed to restore to the window's start.
  std::size_t first = 0;
  for (std::size_t i = 0; i < backups.size(); ++i) {
    if (backups[i].stop_time < cutoff) first = i;
  }
  return std::min(first, newest);
}

std::optional<wal::SegmentName> segment_object(std::string_view name, uint32_t segment_size) {
  constexpr std::string_view kPrefix = "wal/";
  constexpr std::string_view kSuffix = ".wvs";
  if (!name.starts_with(kPrefix) || !name.ends_with(kSuffix)) return std::nullopt;
  return wal::parse_segment_file_name(name.substr(kPrefix.size(), name.size() - kPrefix.size() - kSuffix.size()),
                                      segment_size);
}

}  // namespace

ExpirePlan plan_expire(std::vector<RetentionBackup> backups, const RetentionPolicy& policy,
                       const TimelineTree& timelines, const std::vector<std::string>& object_names,
                       uint32_t segment_size) {
  ExpirePlan plan;
  if (backups.empty()) return plan;
  std::sort(backups.begin(), backups.end(),
            [](const RetentionBackup& a, const RetentionBackup& b) { return a.id < b.id; });
  std::size_t first = first_kept(backups, policy);
  for (std::size_t i = 0; i < first; ++i) {
    if (policy.pinned.contains(backups[i].id)) first = i;
  }
  for (std::size_t i = 0; i < backups.size(); ++i) {
    (i < first ? plan.expired_backups : plan.kept_backups).push_back(backups[i].id);
  }
  const std::vector<RetentionBackup> kept(backups.begin() + static_cast<std::ptrdiff_t>(first), backups.end());

  wal::SegmentNo oldest_start = wal::segment_of(kept.front().start_lsn, segment_size);
  for (const auto& b : kept) oldest_start = std::min(oldest_start, wal::segment_of(b.start_lsn, segment_size));

  // A timeline's WAL below the cut may go when it leads to a kept backup and no kept backup descends from it.
  const auto cut_for = [&](wal::TimelineId tli) -> std::optional<wal::SegmentNo> {
    bool leads_to_kept = false;
    for (const auto& b : kept) {
      if (tli != b.timeline && timelines.ancestor_or_self(b.timeline, tli)) return std::nullopt;
      leads_to_kept = leads_to_kept || timelines.ancestor_or_self(tli, b.timeline);
    }
    return leads_to_kept ? std::optional(oldest_start) : std::nullopt;
  };

  std::vector<std::tuple<uint64_t, uint32_t, std::string>> wal_removals;
  for (const auto& name : object_names) {
    if (const auto segment = segment_object(name, segment_size)) {
      const auto cut = cut_for(segment->timeline);
      if (!cut || segment->segno >= *cut) continue;
      plan.wal_cut.emplace(segment->timeline.value(), *cut);
      wal_removals.emplace_back(segment->segno.value(), segment->timeline.value(), name);
    } else if (const auto run = format::parse_run_object_name(name)) {
      const auto cut = cut_for(run->timeline);
      if (cut && run->end <= wal::segment_start(*cut, segment_size)) plan.index_objects.push_back(name);
    } else if (const auto problem = format::parse_problem_object_name(name)) {
      const auto cut = cut_for(problem->timeline);
      if (cut && problem->lsn < wal::segment_start(*cut, segment_size)) plan.index_objects.push_back(name);
    }
  }
  std::sort(wal_removals.begin(), wal_removals.end());
  for (auto& removal : wal_removals) plan.wal_objects.push_back(std::move(std::get<2>(removal)));
  std::sort(plan.index_objects.begin(), plan.index_objects.end());
  return plan;
}

}  // namespace walvault::archive
