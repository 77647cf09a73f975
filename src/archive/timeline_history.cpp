#include "archive/timeline_history.hpp"

#include <charconv>

namespace walvault::archive {
namespace {

std::string_view trim_left(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  return s;
}

// The next whitespace-separated field of s (advancing s past it).
std::string_view next_field(std::string_view& s) {
  s = trim_left(s);
  std::size_t n = 0;
  while (n < s.size() && s[n] != ' ' && s[n] != '\t' && s[n] != '\r') ++n;
  const std::string_view field = s.substr(0, n);
  s.remove_prefix(n);
  return field;
}

std::string timeline_text(uint32_t tli) { return std::to_string(tli); }

}  // namespace

Expected<std::vector<HistoryEntry>, std::string> parse_timeline_history(wal::TimelineId tli, std::string_view text) {
  std::vector<HistoryEntry> entries;
  std::size_t line_no = 0;
  while (!text.empty()) {
    const std::size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    ++line_no;
    line = trim_left(line);
    if (line.empty() || line.front() == '#') continue;
    const auto fail = [&](const std::string& what) {
      return Unexpected("line " + std::to_string(line_no) + ": " + what);
    };
    const std::string_view tli_text = next_field(line);
    uint32_t parent = 0;
    const auto parsed = std::from_chars(tli_text.data(), tli_text.data() + tli_text.size(), parent);
    if (parsed.ec != std::errc() || parsed.ptr != tli_text.data() + tli_text.size() || parent == 0) {
      return fail("syntax error in timeline id \"" + std::string(tli_text) + "\"");
    }
    const auto lsn = wal::Lsn::parse(next_field(line));
    if (!lsn) return fail("syntax error in switch point");
    if (!entries.empty() && parent <= entries.back().parent.value()) {
      return fail("timeline ids must be in increasing sequence");
    }
    if (parent >= tli.value()) return fail("timeline " + timeline_text(parent) + " is not below " +
                                           timeline_text(tli.value()));
    if (!entries.empty() && *lsn < entries.back().switch_lsn) return fail("switch points go backwards");
    entries.push_back(HistoryEntry{wal::TimelineId(parent), *lsn});
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
    if (inherited != it->second) {
      out.push_back("history of timeline " + timeline_text(tli) + " does not continue the history of its parent " +
                    timeline_text(parent));
    }
  }
  return out;
}

}  // namespace walvault::archive
