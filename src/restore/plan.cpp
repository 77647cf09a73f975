#include "restore/plan.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>

#include "common/time_text.hpp"
#include "wal/page.hpp"

namespace walvault::restore {
namespace {

Unexpected<PlanError> fail(PlanErrorKind kind, std::string message, std::string hint) {
  return Unexpected<PlanError>{PlanError{kind, std::move(message), std::move(hint)}};
}

std::string hex16(uint64_t value) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llX", static_cast<unsigned long long>(value));
  return buf;
}

std::string commit_text(const format::CommitEntry& c) {
  return std::string(c.aborted ? "abort" : "commit") + " of transaction " + std::to_string(c.xid) + " at " +
         print_time(c.time) + " (LSN " + c.lsn.to_string() + ")";
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// The LSN before which recovery replays everything (the consistency requirement compares against it), the end
// of the WAL it must read, the settings, and a description; or an error for a target the index cannot place.
struct Stop {
  wal::Lsn lsn;
  wal::Lsn wal_end;
  std::vector<RecoverySetting> settings;
  std::string description;
  std::string target_text;  // how the user's target is named in errors
};

Expected<Stop, PlanError> resolve_stop(const PlanInputs& inputs, const TargetFacts& facts,
                                       const RestoreWindow& window) {
  const TargetRequest& r = facts.request;
  const std::string window_hint = "the restorable window is " + window.text();
  Stop s;
  switch (r.kind) {
    case TargetKind::kTime: {
      s.target_text = "target time " + print_time(r.time);
      if (!facts.first_after) {
        if (!facts.last_commit) {
          return fail(PlanErrorKind::kNotRestorable,
                      s.target_text + " cannot be reached: the index holds no commit on timeline " +
                          std::to_string(facts.timeline.value()) + " yet",
                      "wait for the streamer to archive a commit after the target, or use --latest");
        }
        return fail(PlanErrorKind::kNotRestorable,
                    s.target_text + " is after the last archived commit (" + print_time(facts.last_commit->time) +
                        "); " + window_hint,
                    "PostgreSQL can only stop at a target once it has read a commit after it; give a time up to " +
                        print_time(facts.last_commit->time) + ", or use --latest to replay everything archived");
      }
      s.lsn = facts.first_after->lsn;
      s.wal_end = facts.first_after->end_lsn;
      s.settings = {{"recovery_target_time", postgres_time_literal(r.time)}, {"recovery_target_inclusive", "on"}};
      s.description = "the state at " + print_time(r.time) + ": stops before the " +
                      commit_text(*facts.first_after) +
                      (facts.last_at_or_before ? "; the last replayed is the " + commit_text(*facts.last_at_or_before)
                                               : std::string());
      return s;
    }
    case TargetKind::kLsn: {
      s.target_text = "target LSN " + r.lsn.to_string();
      if (!facts.last_commit || r.lsn > facts.last_commit->lsn) {
        return fail(PlanErrorKind::kNotRestorable,
                    s.target_text + " is after the last archived commit" +
                        (facts.last_commit ? " (LSN " + facts.last_commit->lsn.to_string() + ")" : std::string()) +
                        "; " + window_hint,
                    "give an LSN up to the last archived commit, or use --latest to replay everything archived");
      }
      s.lsn = r.lsn;
      s.wal_end = r.lsn + 1;
      s.settings = {{"recovery_target_lsn", r.lsn.to_string()}, {"recovery_target_inclusive", "on"}};
      s.description = "stops after the first record at or after LSN " + r.lsn.to_string();
      return s;
    }
    case TargetKind::kXid: {
      s.target_text = "transaction " + std::to_string(r.xid);
      if (!facts.xid_commit) {
        return fail(PlanErrorKind::kNotFound,
                    "the index holds no commit or abort of transaction " + std::to_string(r.xid) + " on timeline " +
                        std::to_string(facts.timeline.value()),
                    "check the xid (walvault events, walvault locate); a transaction still running has no commit");
      }
      s.lsn = facts.xid_commit->lsn;
      s.wal_end = facts.xid_commit->end_lsn;
      s.settings = {{"recovery_target_xid", std::to_string(r.xid)}, {"recovery_target_inclusive", "on"}};
      s.description = "stops just after the " + commit_text(*facts.xid_commit);
      return s;
    }
    case TargetKind::kBeforeEvent: {
      s.target_text = "event " + r.event_id;
      if (!facts.event) {
        return fail(PlanErrorKind::kNotFound,
                    std::string(r.incident ? "no incident with the event \"" : "no event \"") + r.event_id +
                        "\" in the repository",
                    "run 'walvault events' to list the events, their incidents and their ids");
      }
      const format::EventEntry& e = *facts.event;
      const bool drop_database = e.kind == format::EventKind::kDropDatabase;
      if (facts.incident) s.target_text = "incident " + *facts.incident;
      s.lsn = event_stop_lsn(e);
      s.wal_end = s.lsn + 1;
      s.settings = {{"recovery_target_lsn", s.lsn.to_string()}, {"recovery_target_inclusive", "off"}};
      s.description =
          (facts.incident ? "just before incident " + *facts.incident + ", whose first is " : "just before ") +
          std::string(format::event_kind_name(e.kind)) + " by " +
          (e.two_phase ? "prepared transaction " : "transaction ") + std::to_string(e.xid) + " (committed " +
          print_time(e.commit_time) + "): stops before " +
          (drop_database ? "the first record of the drop at LSN "
           : e.two_phase ? "its first destructive record (before PREPARE TRANSACTION) at LSN "
                         : "its commit record at LSN ") +
          s.lsn.to_string();
      return s;
    }
    case TargetKind::kLatest: {
      s.target_text = "the end of the archived WAL";
      std::optional<wal::Lsn> end;
      for (const auto& run : inputs.coverage.runs) {
        if (run.timeline == facts.timeline && (!end || run.end_lsn > *end)) end = run.end_lsn;
      }
      if (!end || !facts.last_record) {
        return fail(PlanErrorKind::kNotRestorable,
                    "the repository holds no " + std::string(end ? "whole WAL record" : "WAL") + " on timeline " +
                        std::to_string(facts.timeline.value()),
                    "is the streamer running? see 'walvault status'");
      }
      s.lsn = *end;
      s.wal_end = *end;
      s.settings = {{"recovery_target_lsn", facts.last_record->lsn.to_string()}, {"recovery_target_inclusive", "on"}};
      s.description = "replays everything archived on timeline " + std::to_string(facts.timeline.value()) +
                      ", up to LSN " + facts.last_record->end_lsn.to_string() + " (the end of its last whole record)" +
                      (facts.last_commit ? "; the last archived is the " + commit_text(*facts.last_commit)
                                         : std::string());
      return s;
    }
  }
  return fail(PlanErrorKind::kNotRestorable, "unknown target kind", "");
}

// The segments recovery reads from backup start `from` to `end` along the branch. At a switch, the segment
// holding the switch point is read from the newer timeline (it starts with a copy of the old WAL).
std::vector<std::pair<wal::TimelineId, std::pair<wal::Lsn, wal::Lsn>>> wal_ranges(const Branch& branch,
                                                                                  wal::Lsn from, wal::Lsn end,
                                                                                  uint32_t segment_size) {
  std::vector<std::pair<wal::TimelineId, std::pair<wal::Lsn, wal::Lsn>>> out;
  bool first = true;
  for (const BranchPiece& piece : branch) {
    if (piece.end <= from || piece.begin >= end) continue;
    const wal::Lsn lo = first ? from : wal::segment_start(wal::segment_of(piece.begin, segment_size), segment_size);
    const wal::Lsn hi =
        end <= piece.end ? end : wal::segment_start(wal::segment_of(piece.end, segment_size), segment_size);
    first = false;
    if (hi > lo) out.push_back({piece.timeline, {lo, hi}});
  }
  return out;
}

// The first segment of [lo, hi) on timeline that the repository lacks, if any.
std::optional<std::string> first_missing(const WalCoverage& coverage, wal::TimelineId tli, wal::Lsn lo, wal::Lsn hi,
                                         uint32_t segment_size) {
  if (coverage.holds(tli, lo, hi, segment_size)) return std::nullopt;
  for (wal::SegmentNo seg = wal::segment_of(lo, segment_size); seg <= wal::segment_of_end(hi, segment_size);
       seg = seg.next()) {
    const wal::Lsn a = std::max(lo, wal::segment_start(seg, segment_size));
    const wal::Lsn b = std::min(hi, wal::segment_start(seg.next(), segment_size));
    if (!coverage.holds(tli, a, b, segment_size)) {
      const WalRun* run = coverage.run_at(tli, a, segment_size);
      std::string name = wal::segment_file_name(tli, seg, segment_size);
      if (run != nullptr) name += " beyond its durable end " + run->end_lsn.to_string();
      return name;
    }
  }
  return wal::segment_file_name(tli, wal::segment_of(lo, segment_size), segment_size);
}

// The lowest end of replay (pg_last_wal_replay_lsn()) that means recovery reached the target: at least the backup's
// consistency point, and past the last record the target includes.
wal::Lsn replay_end_min(const TargetFacts& facts, const BackupEntry& backup) {
  wal::Lsn min = backup.stop_lsn;
  const auto at_least = [&min](wal::Lsn lsn) { min = std::max(min, lsn); };
  switch (facts.request.kind) {
    case TargetKind::kTime:
      if (facts.last_at_or_before) at_least(facts.last_at_or_before->end_lsn);
      break;
    case TargetKind::kLsn:
      at_least(facts.request.lsn + 1);  // inclusive: the record at or after the LSN is replayed
      break;
    case TargetKind::kXid:
      at_least(facts.xid_commit->end_lsn);
      break;
    case TargetKind::kBeforeEvent:
      break;  // stops before the event's record: the record before it ends anywhere up to there
    case TargetKind::kLatest:
      at_least(facts.last_record->end_lsn);
      break;
  }
  return min;
}

bool on_branch(const Branch& branch, const BackupEntry& b) { return timeline_at(branch, b.start_lsn) == b.timeline; }

}  // namespace

Expected<std::vector<HistoryEntry>, std::string> parse_history(std::string_view text) {
  std::vector<HistoryEntry> out;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    std::string_view line = trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (line.empty() || line.front() == '#') continue;
    const auto tab = line.find_first_of(" \t");
    if (tab == std::string_view::npos) return Unexpected<std::string>{"history line without a switch point"};
    uint32_t parent = 0;
    const auto [p, ec] = std::from_chars(line.data(), line.data() + tab, parent);
    if (ec != std::errc() || p != line.data() + tab || parent == 0) {
      return Unexpected<std::string>{"bad timeline in history line \"" + std::string(line) + "\""};
    }
    std::string_view rest = trim(line.substr(tab + 1));
    const auto end = rest.find_first_of(" \t");
    const auto lsn = wal::Lsn::parse(rest.substr(0, end));
    if (!lsn) return Unexpected<std::string>{"bad switch LSN in history line \"" + std::string(line) + "\""};
    if (!out.empty() && (parent <= out.back().parent.value() || *lsn < out.back().switch_lsn)) {
      return Unexpected<std::string>{"history lines are not in timeline order"};
    }
    out.push_back({wal::TimelineId(parent), *lsn});
  }
  return out;
}

Branch make_branch(wal::TimelineId tli, const std::vector<HistoryEntry>& history) {
  Branch branch;
  wal::Lsn begin;
  for (const HistoryEntry& h : history) {
    branch.push_back({h.parent, begin, h.switch_lsn});
    begin = h.switch_lsn;
  }
  branch.push_back({tli, begin, kBranchEnd});
  return branch;
}

std::optional<wal::TimelineId> timeline_at(const Branch& branch, wal::Lsn lsn) {
  for (const BranchPiece& piece : branch) {
    if (lsn >= piece.begin && lsn < piece.end) return piece.timeline;
  }
  return std::nullopt;
}

std::string event_id(wal::TimelineId timeline, const format::EventEntry& event) {
  return std::to_string(timeline.value()) + "-" + hex16(event.commit_lsn.value()) + "-" +
         std::string(format::event_kind_name(event.kind));
}

wal::Lsn event_stop_lsn(const format::EventEntry& e) {
  // A dropped database's files go before its commit; a prepared transaction stopped before its commit stays
  // prepared and keeps its locks. Both stop before the transaction's first destructive record instead.
  const bool before_first = (e.kind == format::EventKind::kDropDatabase || e.two_phase) && e.first_lsn.valid();
  return before_first ? e.first_lsn : e.commit_lsn;
}

std::optional<EventId> parse_event_id(std::string_view text) {
  const auto d1 = text.find('-');
  if (d1 == std::string_view::npos || d1 == 0) return std::nullopt;
  const auto d2 = text.find('-', d1 + 1);
  if (d2 != d1 + 17) return std::nullopt;
  uint32_t tli = 0;
  uint64_t lsn = 0;
  if (auto [p, ec] = std::from_chars(text.data(), text.data() + d1, tli); ec != std::errc() || p != text.data() + d1 ||
                                                                          tli == 0) {
    return std::nullopt;
  }
  for (std::size_t i = d1 + 1; i < d2; ++i) {
    const char c = text[i];
    if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'))) return std::nullopt;
  }
  if (auto [p, ec] = std::from_chars(text.data() + d1 + 1, text.data() + d2, lsn, 16); ec != std::errc()) {
    return std::nullopt;
  }
  const std::string_view kind = text.substr(d2 + 1);
  const auto k = wal::parse_event_kind(kind);
  if (!k) return std::nullopt;
  return EventId{wal::TimelineId(tli), wal::Lsn(lsn), *k};
}

std::string RestoreWindow::text() const {
  const std::string from = earliest_time.empty() ? std::string("(no usable backup)") : earliest_time;
  const std::string to = latest ? print_time(latest->time) : std::string("(no commit archived yet)");
  return from + " .. " + to;
}

Expected<RestorePlan, PlanError> plan_restore(const PlanInputs& inputs, const TargetFacts& facts) {
  const uint32_t seg = inputs.segment_size;
  for (const BackupEntry& b : inputs.backups) {
    if (b.system_identifier != inputs.system_identifier) {
      return fail(PlanErrorKind::kRepository,
                  "backup " + b.id + " belongs to another cluster (system identifier " +
                      std::to_string(b.system_identifier) + "; the repository's is " +
                      std::to_string(inputs.system_identifier) + ")",
                  "this repository holds objects of a foreign cluster; restore from that cluster's own repository");
    }
    if (!wal::wal_format_for_major(b.pg_version / 10000)) {
      return fail(PlanErrorKind::kRepository,
                  "backup " + b.id + " is of PostgreSQL " + std::to_string(b.pg_version / 10000) +
                      ", and this walvault restores " + wal::supported_versions_text(),
                  "restore it with the walvault release that took it");
    }
  }
  if (inputs.backups.empty()) {
    return fail(PlanErrorKind::kNotRestorable, "the repository holds no complete backup",
                "take one with 'walvault backup' (a restore starts from a base backup)");
  }
  const auto& wanted = facts.request.backup_id;
  if (wanted) {
    const bool exists = std::any_of(inputs.backups.begin(), inputs.backups.end(),
                                    [&](const BackupEntry& b) { return b.id == *wanted; });
    if (!exists) {
      return fail(PlanErrorKind::kNotFound, "no backup \"" + *wanted + "\" in the repository",
                  "'walvault list' shows the backups");
    }
    if (inputs.damaged_backups.contains(*wanted)) {
      return fail(PlanErrorKind::kNotRestorable,
                  "backup " + *wanted + " was found damaged by the last 'walvault verify'",
                  "choose another with --backup ('walvault list' marks the damaged ones); if it was repaired, run "
                  "'walvault verify' again");
    }
  }

  // Backups on the branch whose own WAL (start to consistency) is held, newest first.
  std::vector<const BackupEntry*> usable;
  std::vector<const BackupEntry*> damaged;  // would be usable, but verify found damage in them
  for (const BackupEntry& b : inputs.backups) {
    if (!on_branch(facts.branch, b)) continue;
    if (wanted && b.id != *wanted) continue;
    const wal::Lsn from = wal::segment_start(wal::segment_of(b.start_lsn, seg), seg);
    bool held = true;
    for (const auto& [tli, range] : wal_ranges(facts.branch, from, b.stop_lsn, seg)) {
      held = held && inputs.coverage.holds(tli, range.first, range.second, seg);
    }
    if (held) (inputs.damaged_backups.contains(b.id) ? damaged : usable).push_back(&b);
  }
  std::sort(usable.begin(), usable.end(),
            [](const BackupEntry* a, const BackupEntry* b) { return a->stop_lsn > b->stop_lsn; });

  RestoreWindow window;
  if (!usable.empty()) {
    window.earliest_lsn = usable.back()->stop_lsn;
    window.earliest_time = usable.back()->stop_time;
  }
  window.latest = facts.last_commit;

  auto stop = resolve_stop(inputs, facts, window);
  if (!stop) return Unexpected<PlanError>{stop.error()};
  if (usable.empty() && !damaged.empty()) {
    return fail(PlanErrorKind::kNotRestorable,
                "every backup on timeline " + std::to_string(facts.timeline.value()) +
                    "'s branch with its WAL in the repository was found damaged by the last 'walvault verify'",
                "take a new backup with 'walvault backup'; 'walvault verify' names the damaged objects");
  }
  if (usable.empty()) {
    return fail(PlanErrorKind::kNotRestorable,
                (wanted ? "backup " + *wanted + " is not on timeline " : std::string("no backup on timeline ")) +
                    std::to_string(facts.timeline.value()) + "'s branch " +
                    (wanted ? "with its WAL in the repository" : "has its WAL in the repository"),
                "take a new backup with 'walvault backup' while the streamer runs; 'walvault list' shows the WAL held");
  }
  const auto stop_timeline = timeline_at(facts.branch, stop->lsn);
  if (!stop_timeline) {
    return fail(PlanErrorKind::kNotRestorable, stop->target_text + " is not on timeline " +
                                                   std::to_string(facts.timeline.value()) + "'s branch",
                "choose the branch with --timeline");
  }

  std::optional<std::string> missing;
  for (const BackupEntry* b : usable) {
    if (b->stop_lsn > stop->lsn) continue;
    const wal::Lsn from = wal::segment_start(wal::segment_of(b->start_lsn, seg), seg);
    const auto ranges = wal_ranges(facts.branch, from, stop->wal_end, seg);
    std::optional<std::string> gap;
    for (const auto& [tli, range] : ranges) {
      if (!gap) gap = first_missing(inputs.coverage, tli, range.first, range.second, seg);
    }
    if (gap) {
      if (!missing) missing = "WAL segment " + *gap + " (needed by backup " + b->id + ")";
      continue;
    }
    RestorePlan plan;
    plan.backup = *b;
    plan.kind = facts.request.kind;
    plan.timeline = facts.request.kind == TargetKind::kLatest ? facts.timeline : *stop_timeline;
    plan.recovery = stop->settings;
    plan.stop_lsn = stop->lsn;
    plan.wal_end = stop->wal_end;
    plan.replay_end_min = replay_end_min(facts, *b);
    if (facts.request.kind == TargetKind::kTime || facts.request.kind == TargetKind::kBeforeEvent) {
      plan.replay_end_max = stop->lsn;
    }
    if (facts.request.kind == TargetKind::kLatest && facts.last_record->lsn < b->stop_lsn) {
      // The backup ends after the last whole record's start: an LSN target would lie before consistency.
      plan.recovery = {{"recovery_target", "immediate"}};
    }
    plan.recovery.push_back({"recovery_target_timeline", std::to_string(plan.timeline.value())});
    for (const auto& [tli, range] : ranges) {
      const WalNeed need{tli, wal::segment_of(range.first, seg), wal::segment_of_end(range.second, seg)};
      plan.segment_count += need.last.value() - need.first.value() + 1;
      plan.wal.push_back(need);
    }
    if (facts.request.kind == TargetKind::kTime) {
      plan.last_replayed = facts.last_at_or_before;
      plan.first_skipped = facts.first_after;
    } else if (facts.request.kind == TargetKind::kXid) {
      plan.last_replayed = facts.xid_commit;
    } else if (facts.request.kind == TargetKind::kLatest) {
      plan.last_replayed = facts.last_commit;
    }
    plan.event = facts.event;
    for (const BackupEntry* d : damaged) {
      if (d->stop_lsn > b->stop_lsn && d->stop_lsn <= stop->lsn) plan.skipped_damaged.push_back(d->id);
    }
    plan.description = stop->description;
    plan.window = window;
    return plan;
  }
  if (missing) {
    return fail(PlanErrorKind::kNotRestorable,
                stop->target_text + " cannot be reached: the repository lacks " + *missing,
                "'walvault list' shows the WAL held and its gaps; a target after the gap needs a newer backup");
  }
  return fail(PlanErrorKind::kNotRestorable,
              stop->target_text + " is before the restorable window " + window.text() +
                  ": the oldest usable backup becomes consistent only at " + window.earliest_time + " (LSN " +
                  window.earliest_lsn->to_string() + ")",
              "a restore can only reach instants after a backup's end; give a later target");
}

std::optional<std::string> history_disagreement(wal::TimelineId tli, const std::vector<HistoryEntry>& history,
                                                const WalCoverage& coverage, uint32_t segment_size) {
  const auto holds_segment = [&](wal::TimelineId t, wal::SegmentNo segno) {
    return coverage.run_at(t, wal::segment_start(segno, segment_size), segment_size) != nullptr;
  };
  const auto first_segment = [&](wal::TimelineId t) {
    std::optional<wal::SegmentNo> first;
    for (const WalRun& run : coverage.runs) {
      if (run.timeline == t && (!first || run.first < *first)) first = run.first;
    }
    return first;
  };
  for (std::size_t i = 0; i < history.size(); ++i) {
    const wal::TimelineId parent = history[i].parent;
    const wal::TimelineId child = i + 1 < history.size() ? history[i + 1].parent : tli;
    const wal::SegmentNo switch_segment = wal::segment_of(history[i].switch_lsn, segment_size);
    const auto child_first = first_segment(child);
    if (!child_first) continue;
    const std::string where = "the history of timeline " + std::to_string(tli.value()) + " says timeline " +
                              std::to_string(child.value()) + " left timeline " + std::to_string(parent.value()) +
                              " at " + history[i].switch_lsn.to_string() + ", but ";
    if (*child_first < switch_segment) {
      return where + "timeline " + std::to_string(child.value()) + " holds WAL in the earlier segment " +
             wal::segment_file_name(child, *child_first, segment_size);
    }
    if (holds_segment(parent, switch_segment) && !holds_segment(child, switch_segment)) {
      return where + "the repository holds timeline " + std::to_string(parent.value()) + "'s segment there and not " +
             wal::segment_file_name(child, switch_segment, segment_size);
    }
  }
  return std::nullopt;
}

std::string_view target_action_name(TargetAction action) {
  switch (action) {
    case TargetAction::kPromote:
      return "promote";
    case TargetAction::kPause:
      return "pause";
    case TargetAction::kShutdown:
      return "shutdown";
  }
  return "promote";
}

std::string conf_quote(std::string_view value) {
  std::string out = "'";
  for (const char c : value) {
    if (c == '\'' || c == '\\') out += c;
    out += c;
  }
  return out + "'";
}

std::string shell_quote(std::string_view word) {
  const bool safe = !word.empty() && std::all_of(word.begin(), word.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '/' || c == '.' ||
           c == '_' || c == '-' || c == '+' || c == ':' || c == '=' || c == ',' || c == '@';
  });
  if (safe) return std::string(word);
  std::string out = "'";
  for (const char c : word) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::string recovery_conf_text(const RestorePlan& plan, const RecoveryConfig& config) {
  std::string out = "\n# Added by walvault restore at " + config.generated_at + ": backup " + plan.backup.id +
                    ", " + plan.description + ".\n";
  out += "# Safety: this copy never archives WAL and never follows a primary. Remove this block to undo.\n";
  const auto line = [&out](std::string_view name, std::string_view value) {
    out += std::string(name) + " = " + conf_quote(value) + "\n";
  };
  line("restore_command", config.restore_command);
  line("recovery_end_command", config.recovery_end_command);
  // Unused target settings are written empty, first, so a stale one in the backup's own postgresql.auto.conf
  // (a cluster restored before) cannot combine with ours; PostgreSQL refuses a second non-empty target, and
  // also an empty one assigned after a set one ("multiple recovery targets specified"), hence the order.
  for (const std::string_view name : {"recovery_target", "recovery_target_lsn", "recovery_target_name",
                                      "recovery_target_time", "recovery_target_xid"}) {
    const bool used = std::any_of(plan.recovery.begin(), plan.recovery.end(),
                                  [name](const RecoverySetting& s) { return s.name == name; });
    if (!used) line(name, "");
  }
  for (const RecoverySetting& s : plan.recovery) line(s.name, s.value);
  line("recovery_target_action", target_action_name(config.action));
  // PostgreSQL shuts down instead of pausing when hot standby is off, and the backup's configuration may say so.
  if (config.action == TargetAction::kPause) line("hot_standby", "on");
  line("archive_mode", "off");
  line("primary_conninfo", "");
  line("primary_slot_name", "");
  if (config.port) out += "port = " + std::to_string(*config.port) + "\n";
  if (!config.listen_addresses.empty()) line("listen_addresses", config.listen_addresses);
  if (!config.unix_socket_directories.empty()) line("unix_socket_directories", config.unix_socket_directories);
  return out;
}

}  // namespace walvault::restore
