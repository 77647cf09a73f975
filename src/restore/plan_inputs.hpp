// What restore planning needs to know, read from a repository: the complete backups, the WAL held (with the
// streamer's durable tip), the timeline histories, and the index's answers about a target. make_plan() puts
// them through plan_restore() (restore/plan.hpp): the one call `walvault restore` and `walvault drill` make
// before they touch any disk.
//
// Everything here only reads the repository (Storage) and its index (storage/index_store.hpp); lookups read
// footers, block tables and single blocks, never WAL. Errors: walvault::Error. make_plan() throws
// kNotRestorable / kNotFound / kRepository for the plan's own errors (message names the restorable window),
// kCorrupt for a damaged index object or history file; Storage errors pass through.
#pragma once

#include <map>
#include <optional>
#include <vector>

#include "repo/repository.hpp"
#include "restore/plan.hpp"
#include "restore/wal_coverage.hpp"
#include "storage/storage.hpp"

namespace walvault::restore {

// The streamer's in-progress segment and its durable end (tip/stream.state), if there is one. Throws kCorrupt when
// tip/stream.state is damaged (archive::read_stream_state), or missing while a tip exists: the durable end is then
// unknown, and treating it as "no tip" would let a restore end early.
[[nodiscard]] std::optional<TipState> read_tip_state(const storage::Storage& storage, uint32_t segment_size);
// The WAL held: wal/*.wvs plus the durable part of the tip.
[[nodiscard]] WalCoverage read_wal_coverage(const storage::Storage& storage, uint32_t segment_size);
// Every stored history file (wal/NNNNNNNN.history), parsed, by timeline. Throws kCorrupt for a bad one.
[[nodiscard]] std::map<wal::TimelineId, std::vector<HistoryEntry>> read_histories(const storage::Storage& storage);
// The newest timeline the repository knows of (WAL, history files or index); nullopt when it holds nothing.
[[nodiscard]] std::optional<wal::TimelineId> newest_timeline(const storage::Storage& storage, uint32_t segment_size);
// The branch ending in timeline tli. Throws kNotRestorable when tli is above 1 and its history file is missing,
// kCorrupt when it disagrees with the WAL held (history_disagreement()).
[[nodiscard]] Branch read_branch(const storage::Storage& storage, wal::TimelineId tli, uint32_t segment_size);

// The last commit/abort the index holds on the branch, if any.
[[nodiscard]] std::optional<format::CommitEntry> last_commit_on(const storage::Storage& storage, const Branch& branch,
                                                                uint32_t segment_size);
// PostgreSQL's recovery_target_time view of instant t on the branch (FORMAT.md, "Lookup semantics").
[[nodiscard]] format::TimeLookup lookup_time_on(const storage::Storage& storage, const Branch& branch,
                                                format::TimestampTz t, uint32_t segment_size);

// Every destructive event on any timeline with commit time in [since, until], oldest first, with its timeline.
struct TimelineEvent {
  wal::TimelineId timeline;
  format::EventEntry event;
};
[[nodiscard]] std::vector<TimelineEvent> read_events(const storage::Storage& storage, format::TimestampTz since,
                                                     format::TimestampTz until, uint32_t segment_size);

[[nodiscard]] PlanInputs read_plan_inputs(const repo::Repository& repository);
[[nodiscard]] TargetFacts read_target_facts(const repo::Repository& repository, const TargetRequest& request);
// read_plan_inputs + read_target_facts + plan_restore; throws the plan's error as walvault::Error.
[[nodiscard]] RestorePlan make_plan(const repo::Repository& repository, const TargetRequest& request);

}  // namespace walvault::restore
