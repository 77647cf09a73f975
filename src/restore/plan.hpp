// Restore planning: from what the repository holds and what the user asked for, decide — before touching any
// disk — which backup to start from, which WAL recovery will read, where it stops, and the exact recovery
// settings that make PostgreSQL stop there. Pure: no IO, nothing throws; the facts come from
// restore/plan_inputs.hpp (which reads the repository) and errors are values (PlanError).
//
// Target semantics (PostgreSQL's, postgres-wal.md §10; recovery_target_time and the index agree on them,
// format/FORMAT.md "Lookup semantics"):
//   --time T         the state at T: recovery_target_time = T, inclusive on. Recovery replays every commit before
//                    the first commit (LSN order) whose time is after T, and stops before that one.
//   --lsn L          recovery_target_lsn = L, inclusive on: replays the first record starting at or after L too.
//   --xid X          recovery_target_xid = X, inclusive on: the state just after X committed (or aborted).
//   --before-event   the state just before the event's first destructive effect: recovery_target_lsn = its
//                    commit record's LSN, inclusive off (stops before that record; the transaction never
//                    commits); for drop_database the first record of the drop (the files go before the commit,
//                    §7), inclusive off.
//   --latest         everything the repository holds on the timeline at planning time, as an explicit target:
//                    recovery_target_lsn = the start of the last whole record held, inclusive on (its end is the
//                    durable end, up to a record cut short). PostgreSQL then fails ("recovery ended before
//                    configured recovery target was reached") instead of promoting early if it cannot read all
//                    of it. When that record lies before the backup's consistency point, recovery_target =
//                    immediate (the same check: PostgreSQL must reach consistency).
// Every plan also names the lowest LSN replay must reach (RestorePlan::replay_end_min), which
// start_restored_server() checks against pg_last_wal_replay_lsn() after recovery, whatever the target kind.
// recovery_target_timeline is always written as a number: the timeline the stop point lies on (or the newest,
// for --latest), so a restore never follows a newer branch by accident (§10).
//
// A backup the last verify found damaged (PlanInputs::damaged_backups) is never chosen: the newest undamaged one
// that reaches the target is, and the plan names the ones passed over. --backup ID restricts the choice to one.
// The restorable window on a branch runs from the oldest usable backup's consistency point (its stop LSN/time)
// to the last archived commit. A target outside it is an error that names the window: PostgreSQL would
// otherwise fail with FATAL after a long replay. The newest backup that reaches the target wins; its WAL from
// the start segment to the stop point must be held with no gap, on the timelines of the branch.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "format/index.hpp"
#include "restore/backup_catalog.hpp"
#include "restore/wal_coverage.hpp"
#include "wal/expected.hpp"
#include "wal/lsn.hpp"

namespace walvault::restore {

enum class TargetKind { kTime, kLsn, kXid, kBeforeEvent, kLatest };

struct TargetRequest {
  TargetKind kind = TargetKind::kLatest;
  format::TimestampTz time = 0;             // kTime
  wal::Lsn lsn;                             // kLsn
  uint32_t xid = 0;                         // kXid
  std::string event_id;                     // kBeforeEvent
  // kBeforeEvent: event_id names an incident (restore/incidents.hpp) by its id or any of its events' ids, and the
  // target is just before the incident's first event.
  bool incident = false;
  int64_t incident_gap_us = 0;              // the incident rule's gap G
  std::optional<wal::TimelineId> timeline;  // --timeline: the branch to follow (default: the newest)
  std::optional<std::string> backup_id;     // --backup: start from this backup (default: the newest that reaches)
};

// ---- timelines
// One line of a timeline history file: the timeline `parent` ended at switch_lsn.
struct HistoryEntry {
  wal::TimelineId parent;
  wal::Lsn switch_lsn;
};
// Parses "NNNNNNNN.history" content (lines "parentTLI<TAB>switchLSN<TAB>reason"; blank and '#' lines skipped).
[[nodiscard]] Expected<std::vector<HistoryEntry>, std::string> parse_history(std::string_view text);

// Whether timeline tli's history agrees with the WAL held (one line saying how it does not, else nullopt). For each
// switch point S where history leaves a parent P for its child C: C holds no segment before S's segment (C's WAL
// begins there), and where P's WAL is held in S's segment and C holds WAL, C holds S's segment too (it starts
// with a copy of it). A file whose switch points moved by a segment or more, which would make recovery leave
// the held WAL early and end there, fails this; wal-fetch never hands such a file to PostgreSQL.
[[nodiscard]] std::optional<std::string> history_disagreement(wal::TimelineId tli,
                                                              const std::vector<HistoryEntry>& history,
                                                              const WalCoverage& coverage, uint32_t segment_size);

// The WAL of one timeline read on a branch: LSNs [begin, end).
struct BranchPiece {
  wal::TimelineId timeline;
  wal::Lsn begin;
  wal::Lsn end;  // kBranchEnd for the branch's own timeline
};
inline constexpr wal::Lsn kBranchEnd{UINT64_MAX};
using Branch = std::vector<BranchPiece>;
// The branch ending in timeline tli, oldest piece first, from tli's history (empty for timeline 1).
[[nodiscard]] Branch make_branch(wal::TimelineId tli, const std::vector<HistoryEntry>& history);
// The timeline of the branch that holds lsn (nullopt when the branch is empty).
[[nodiscard]] std::optional<wal::TimelineId> timeline_at(const Branch& branch, wal::Lsn lsn);

// ---- event ids: "<timeline>-<commit LSN as 16 hex digits>-<kind>", e.g. "1-0000000004019D50-drop_table".
// Stable: derived from where the event is in the WAL, the same in every listing.
struct EventId {
  wal::TimelineId timeline;
  wal::Lsn commit_lsn;
  format::EventKind kind = format::EventKind::kDropTable;
};
[[nodiscard]] std::string event_id(wal::TimelineId timeline, const format::EventEntry& event);
[[nodiscard]] std::optional<EventId> parse_event_id(std::string_view text);
// Where --before-event stops replay (recovery_target_lsn, inclusive off): before the commit record, or before the
// first destructive record for drop_database and a two-phase commit (see above).
[[nodiscard]] wal::Lsn event_stop_lsn(const format::EventEntry& event);

// ---- inputs
// One WAL record's extent.
struct RecordSpan {
  wal::Lsn lsn;      // its start
  wal::Lsn end_lsn;  // just past its end
};

// What the index says about a request, on the branch of `timeline` (gathered by plan_inputs.hpp).
struct TargetFacts {
  TargetRequest request;
  wal::TimelineId timeline;  // the branch's timeline: --timeline, the event's, or the newest
  Branch branch;
  std::optional<format::CommitEntry> last_at_or_before;  // kTime
  std::optional<format::CommitEntry> first_after;        // kTime
  std::optional<format::CommitEntry> xid_commit;         // kXid: its newest commit/abort on the branch
  std::optional<format::EventEntry> event;               // kBeforeEvent (with incident: its first event)
  std::optional<std::string> incident;                   // incident: "<id> (N events)"
  std::optional<format::CommitEntry> last_commit;        // the last archived commit on the branch
  std::optional<RecordSpan> last_record;                 // kLatest: the last whole record held on the timeline
};

struct PlanInputs {
  uint64_t system_identifier = 0;  // the repository's
  uint32_t segment_size = 0;
  std::vector<BackupEntry> backups;  // complete backups, any order
  WalCoverage coverage;
  std::set<std::string> damaged_backups;  // ids the last verify found a damaged object in: never chosen
};

// ---- the plan
struct RecoverySetting {
  std::string name;
  std::string value;  // unquoted
};

// Segments [first, last] of one timeline that recovery reads.
struct WalNeed {
  wal::TimelineId timeline;
  wal::SegmentNo first;
  wal::SegmentNo last;
};

struct RestoreWindow {
  std::optional<wal::Lsn> earliest_lsn;  // the oldest usable backup's consistency point (stop LSN)
  std::string earliest_time;             // its stop time (ISO 8601), "" when there is none
  std::optional<format::CommitEntry> latest;  // the last archived commit
  [[nodiscard]] std::string text() const;     // "A .. B"
};

struct RestorePlan {
  BackupEntry backup;
  TargetKind kind = TargetKind::kLatest;
  wal::TimelineId timeline;               // recovery_target_timeline
  std::vector<RecoverySetting> recovery;  // recovery_target_* (in order), recovery_target_timeline
  wal::Lsn stop_lsn;                      // recovery replays the records before this LSN (kLatest: WAL end)
  wal::Lsn wal_end;                       // WAL must be held up to here
  wal::Lsn replay_end_min;                // recovery that ends (pg_last_wal_replay_lsn) before this stopped short
  std::optional<wal::Lsn> replay_end_max;  // and past this went too far (targets that stop before a record)
  std::vector<WalNeed> wal;
  uint64_t segment_count = 0;
  std::optional<format::CommitEntry> last_replayed;  // the last commit recovery replays, when known
  std::optional<format::CommitEntry> first_skipped;  // the first commit it does not replay, when known
  std::optional<format::EventEntry> event;           // kBeforeEvent
  std::vector<std::string> skipped_damaged;          // newer backups passed over: the last verify found damage
  std::string description;                           // one line: where it stops
  RestoreWindow window;
};

enum class PlanErrorKind { kNotRestorable, kNotFound, kRepository };
struct PlanError {
  PlanErrorKind kind = PlanErrorKind::kNotRestorable;
  std::string message;
  std::string hint;
};

[[nodiscard]] Expected<RestorePlan, PlanError> plan_restore(const PlanInputs& inputs, const TargetFacts& facts);

// ---- recovery configuration (postgresql.auto.conf)
enum class TargetAction { kPromote, kPause, kShutdown };
[[nodiscard]] std::string_view target_action_name(TargetAction action);  // "promote", ...

struct RecoveryConfig {
  std::string restore_command;       // complete, with %f %p
  std::string recovery_end_command;  // "" for none
  TargetAction action = TargetAction::kPromote;
  std::optional<int> port;
  std::string listen_addresses;         // "" leaves the backup's
  std::string unix_socket_directories;  // "" leaves the backup's
  std::string generated_at;             // ISO 8601, for the comment line
};

// The block appended to postgresql.auto.conf (later lines win over the backup's own): a comment naming the
// backup and the target, restore_command, the plan's recovery_target_* settings, recovery_target_action (with
// hot_standby = on for pause, without which PostgreSQL shuts down instead of pausing), and the safety settings: archive_mode = off (the copy never pushes WAL anywhere), primary_conninfo and
// primary_slot_name emptied (it never follows the production server), and port/listen/socket when given.
[[nodiscard]] std::string recovery_conf_text(const RestorePlan& plan, const RecoveryConfig& config);
// A value as a postgresql.conf string literal: 'text' with ' and \ doubled.
[[nodiscard]] std::string conf_quote(std::string_view value);
// A shell word: unchanged when it holds only safe characters, else '...' with ' written as '\''.
[[nodiscard]] std::string shell_quote(std::string_view word);

}  // namespace walvault::restore
