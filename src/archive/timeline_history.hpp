// Timeline history files ("NNNNNNNN.history", stored verbatim as wal/NNNNNNNN.history): parsing and the
// ancestry questions that verify, expire and restore planning ask.
//
// A history file of timeline N lists, oldest first, every ancestor timeline and the LSN where N's line of
// history left it. parse_timeline_history() is restore::parse_history() (restore/plan.hpp: the one parser of
// the format) plus the check that every parent is below N.
//
// TimelineTree holds the parsed histories of a repository and answers "is A an ancestor of B", "where did B
// leave A", and whether the files agree with each other (a child's history must be its parent's plus one line).
// Pure: no IO, nothing throws; errors are values naming the line.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "restore/plan.hpp"
#include "wal/expected.hpp"
#include "wal/lsn.hpp"

namespace walvault::archive {

using restore::HistoryEntry;

// The entries of timeline tli's history file, oldest first.
[[nodiscard]] Expected<std::vector<HistoryEntry>, std::string> parse_timeline_history(wal::TimelineId tli,
                                                                                      std::string_view text);

class TimelineTree {
 public:
  // Adds the parsed history of timeline tli (replacing any earlier one).
  void add(wal::TimelineId tli, std::vector<HistoryEntry> entries);

  // Whether a == b or a is on b's line of history (from b's history file; timeline 1 has none).
  [[nodiscard]] bool ancestor_or_self(wal::TimelineId a, wal::TimelineId b) const;
  // Where b's line of history left its ancestor a (a ≠ b), or nullopt when a is not an ancestor of b.
  [[nodiscard]] std::optional<wal::Lsn> switch_point(wal::TimelineId a, wal::TimelineId b) const;
  // The timelines on b's line of history from a (inclusive) to b (inclusive), oldest first, each with the LSN
  // where history leaves it (nullopt for b itself). Empty when a is not an ancestor of b.
  struct Step {
    wal::TimelineId timeline;
    std::optional<wal::Lsn> end;
  };
  [[nodiscard]] std::vector<Step> path(wal::TimelineId a, wal::TimelineId b) const;

  // Every inconsistency between the stored files: a child whose history is not its parent's plus one line, a
  // parent (other than timeline 1) whose history file is missing. One line of text each.
  [[nodiscard]] std::vector<std::string> inconsistencies() const;

 private:
  std::map<uint32_t, std::vector<HistoryEntry>> histories_;
};

}  // namespace walvault::archive
