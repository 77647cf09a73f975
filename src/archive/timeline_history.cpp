#include "archive/timeline_history.hpp"

#include <algorithm>

namespace walvault::archive {
namespace {

std::string timeline_text(uint32_t tli) { return std::to_string(tli); }

bool same(const std::vector<HistoryEntry>& a, const std::vector<HistoryEntry>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const HistoryEntry& x, const HistoryEntry& y) {
    return x.parent == y.parent && x.switch_lsn == y.switch_lsn;
  });
}

}  // namespace

Expected<std::vector<HistoryEntry>, std::string> parse_timeline_history(wal::TimelineId tli, std::string_view text) {
  auto entries = restore::parse_history(text);
  if (!entries) return entries;
  for (const auto& entry : *entries) {
    if (entry.parent >= tli) {
      return Unexpected("timeline " + timeline_text(entry.parent.value()) + " is not below " +
                        timeline_text(tli.value()));
    }
  }
  return entries;
}

void TimelineTree::add(wal::TimelineId tli, std::vector<HistoryEntry> entries) {
  histories_[tli.value()] = std::move(entries);
}

bool TimelineTree::ancestor_or_self(wal::TimelineId a, wal::TimelineId b) const {
  return a == b || switch_point(a, b).has_value();
}

std::optional<wal::Lsn> TimelineTree::switch_point(wal::TimelineId a, wal::TimelineId b) const {
  const auto it = histories_.find(b.value());
  if (it == histories_.end()) return std::nullopt;
  for (const auto& entry : it->second) {
    if (entry.parent == a) return entry.switch_lsn;
  }
  return std::nullopt;
}

std::vector<TimelineTree::Step> TimelineTree::path(wal::TimelineId a, wal::TimelineId b) const {
  if (a == b) return {Step{b, std::nullopt}};
  const auto it = histories_.find(b.value());
  if (it == histories_.end()) return {};
  std::vector<Step> steps;
  for (const auto& entry : it->second) {
    if (entry.parent == a || !steps.empty()) steps.push_back(Step{entry.parent, entry.switch_lsn});
  }
  if (steps.empty()) return {};
  steps.push_back(Step{b, std::nullopt});
  return steps;
}

std::vector<std::string> TimelineTree::inconsistencies() const {
  std::vector<std::string> out;
  for (const auto& [tli, entries] : histories_) {
    if (entries.empty()) {
      out.push_back("history of timeline " + timeline_text(tli) + " names no parent");
      continue;
    }
    const uint32_t parent = entries.back().parent.value();
    if (parent == 1) {
      if (entries.size() != 1) out.push_back("history of timeline " + timeline_text(tli) + " lists ancestors of 1");
      continue;
    }
    const auto it = histories_.find(parent);
    if (it == histories_.end()) {
      out.push_back("history of timeline " + timeline_text(parent) + " (parent of " + timeline_text(tli) +
                    ") is missing");
      continue;
    }
    const std::vector<HistoryEntry> inherited(entries.begin(), entries.end() - 1);
    if (!same(inherited, it->second)) {
      out.push_back("history of timeline " + timeline_text(tli) + " does not continue the history of its parent " +
                    timeline_text(parent));
    }
  }
  return out;
}

}  // namespace walvault::archive
