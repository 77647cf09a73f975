// The checks behind `walvault verify`: can the repository's contents be trusted, and do they add up?
//
// verify_repository() checks, and lists every problem it finds (it never stops at the first):
//   - segment containers (wal/*.wvs): header (system identifier, timeline, segment number and size against the
//     object name and walvault.json), trailer, every chunk's stored and raw checksums, the whole-content checksum;
//   - backups (backup/<id>/): the catalog entry, the manifest against the catalog's size and checksum, every
//     stream container as above plus the catalog's size and checksum, and every file of the tar streams against
//     PostgreSQL's backup_manifest (size and CRC-32C, measured while streaming; nothing is written);
//   - backup directories without a backup.json (while no backup runs): restores cannot see such a backup;
//   - the index (index/<timeline>/): every run's blocks and sections; each run's segment summaries against the
//     containers' trailers (start, end, commit and event counts), and every commit and event entry inside the
//     WAL the repository holds; tip logs parse; every recorded index problem (WAL the streamer could not index,
//     archive/index_problems.hpp) is reported; every archived segment is covered by a run or a tip log (by name);
//     and the index against the WAL itself (archive/index_crosscheck.hpp: the WAL decoded as the streamer's
//     indexer decodes it, every commit and event in it is in the index and nothing else): with `full` for all the
//     WAL held, otherwise for the in-progress segment;
//   - WAL continuity per timeline (repo/wal_gaps.hpp, the computation `list` shows too): from each backup's start
//     (and, with no backup, from the first segment held) along the timeline history to the end of the archive and
//     at least to the durable LSN the streamer acknowledged (tip/stream.state), reporting every gap with its LSN
//     range, the object that should hold it and the backup that needs it; a tip without a readable state is
//     reported; the tip itself (archive/tip.hpp) must hold, in frames that decode and match their checksums,
//     every byte up to the streamer's durable LSN (a shortfall names the .partial file or the .tail log that lost
//     it);
//   - history files (wal/*.history): each passes its seal (format/sealed_object.hpp) and parses, each child
//     continues its parent's history, its switch points agree with the WAL held (restore::history_disagreement),
//     and every timeline above 1 that holds WAL has one;
//   - the other sealed objects (FORMAT.md, "Sealed objects"): tip/stream.state, names/*.json, verify/state-*.json,
//     the index problem records and backup.json pass their seals (walvault.json is checked when the repository
//     is opened).
// Incremental: objects `previous` names with the same size and key (archive/verify_state.hpp) are not re-read
// unless options.full; the cross-checks of unchanged runs against unchanged containers are skipped too. History
// files, tip logs, the tip and continuity are always checked (they are small). The returned state names every object
// that verified clean now.
//
// An object that disappears while it is checked (a concurrent expire, a tip being archived) is skipped, not
// reported. Memory: one segment plus one chunk; backup streams are read a chunk at a time. Errors: Storage errors other
// than a vanished object pass through (kIo); problems in the data are values in the report, never exceptions.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "archive/verify_state.hpp"
#include "repo/repository.hpp"
#include "storage/storage.hpp"
#include "wal/lsn.hpp"

namespace walvault::archive {

enum class ProblemKind { kSegment, kBackup, kIndex, kWalGap, kHistory, kMetadata };
// "segment", "backup", "index", "wal_gap", "history", "metadata" (stable; used in --json).
[[nodiscard]] std::string_view problem_kind_name(ProblemKind kind);

struct Problem {
  ProblemKind kind = ProblemKind::kSegment;
  std::string object;   // the object concerned ("wal/...wvs", "backup/<id>/base.wvt", ...): for a WAL gap the
                        // object that should hold its first byte; "" when unknown
  std::string message;  // lowercase, one line
  std::optional<wal::TimelineId> timeline;
  std::optional<wal::Lsn> from;  // the LSN range concerned [from, to), when known
  std::optional<wal::Lsn> to;
};

struct VerifyProgress {
  uint64_t done = 0;   // bytes read so far by full checks
  uint64_t total = 0;  // bytes the full checks will read
  std::string object;  // being checked now
};

struct VerifyOptions {
  bool full = false;
  // Unchanged objects are read again on this schedule (archive/verify_state.hpp); now is when this run started.
  Recheck recheck;
  std::function<void(const VerifyProgress&)> progress;  // optional; called per object and per backup chunk
};

struct VerifyCounts {
  uint64_t segments = 0;          // segment containers present
  uint64_t segments_checked = 0;  // read in full this run
  uint64_t backups = 0;
  uint64_t backups_checked = 0;
  uint64_t index_runs = 0;
  uint64_t index_runs_checked = 0;
  uint64_t history_files = 0;
  uint64_t raw_bytes = 0;     // decompressed and checksummed
  uint64_t stored_bytes = 0;  // read from storage by full checks
};

struct VerifyReport {
  std::vector<Problem> problems;
  // Gaps a WAL chain break declares (repo/wal_chains.hpp): known losses, shown but no problem. One line each.
  std::vector<std::string> declared_gaps;
  VerifyCounts counts;
  VerifyState state;  // what is verified clean now
};

[[nodiscard]] VerifyReport verify_repository(const storage::Storage& storage, const repo::RepoConfig& config,
                                             const VerifyState& previous, const VerifyOptions& options);

}  // namespace walvault::archive
