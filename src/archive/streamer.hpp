// Streamer: continuous capture of a cluster's WAL into the repository (`walvault stream`).
//
// It connects through a ReplicationSource, checks the server's system identifier against the repository, and
// streams from the repository's durable end (rounded down to the start of the in-progress segment, which is
// fetched again and checked against what the tip already holds) or, for an empty repository, from the segment of
// the slot's restart_lsn. Bytes go to the tip (archive/tip.hpp), compressed as they arrive and synced at least
// every fsync_interval while data arrives and whenever the server asks for a reply; status updates report flush =
// the durable end only. Records are decoded as they arrive (archive/wal_indexer.hpp) and their commits and events
// published to the index within a second. A completed tip becomes the segment's container, then its index run.
// Relation name snapshots (archive/relation_names.hpp) are taken at connect and after the WAL shows new
// relations (at most every names_interval). Timeline switches are followed (history files stored as
// wal/NNNNNNNN.history, the server's current timeline's at each connect too); a switch cut short by a crash is
// completed at the next start (repository_resume_point). Before anything is recorded or acknowledged, a session
// adopts the tip it resumes in: the durable end is what that tip holds, never less, also when the server can no
// longer send the segment again. run() returns when `stop` becomes true, after a final sync and status update.
//
// A broken WAL chain stops it: a slot that is gone or invalidated, or a server that no longer has the WAL the
// repository needs next ("requested WAL segment ... has already been removed"), cannot be fixed by retrying. run()
// throws (kRepository) with the server's words, what they mean and the one way on: `walvault new-chain`, which
// records a chain break (repo/wal_chains.hpp) and a fresh slot. At its next start the streamer archives the old
// chain's in-progress segment up to its durable end (read back from the tip) and resumes at the new chain's start.
//
// Retrying: a lost connection or any other retryable error ends the session like a process restart would: the
// connection, the tip and the indexer are dropped, and after a capped exponential backoff the next session resumes
// at the repository's durable end (torn bytes past it, in the tip or an index tip log, are checked or cut). A full repository disk
// (ErrorCause::kDiskFull) is retryable too: the streamer logs one error naming the repository, stops
// acknowledging (the last flush position reported is what is on disk, so the slot keeps the rest), and retries
// with backoff, without resetting it, until space returns.
//
// Lifetime: borrows storage, clock and stop; they must outlive the Streamer. Errors: run() throws
// walvault::Error for anything that retrying cannot fix (a foreign server, a missing slot, a storage failure other
// than a full disk, an unsupported server version).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "archive/backoff.hpp"
#include "archive/stream_state.hpp"
#include "archive/tip.hpp"
#include "archive/wal_indexer.hpp"
#include "common/clock.hpp"
#include "pg/replication.hpp"
#include "repo/wal_chains.hpp"
#include "repo/repository.hpp"
#include "storage/storage.hpp"

namespace walvault::archive {

struct StreamerOptions {
  std::chrono::milliseconds fsync_interval{200};
  std::chrono::milliseconds status_interval{10000};
  // A connection that delivers nothing for this long (not even the keepalive we ask for) is dropped.
  std::chrono::milliseconds receive_timeout{60000};
  std::chrono::milliseconds backoff_initial{1000};
  std::chrono::milliseconds backoff_max{30000};
  std::chrono::milliseconds names_interval{1000};
  // Use regular connections too: relation name snapshots, and pg_replication_slots' account of a lost slot (off in
  // unit tests: no server).
  bool regular_connections = true;
  // Whether the repository's stream lock was taken over by another process (a lease not renewed in time): the
  // streamer then stops (kRepository) before it writes or acknowledges anything more. Unset: never.
  std::function<bool()> lock_lost;
  // zstd level of the segment containers (`walvault stream --compress-level`).
  int compress_level = kDefaultCompressLevel;
  // Rows one transaction must delete or update to make a mass event (`walvault stream --mass-rows`).
  uint64_t mass_rows_threshold = wal::kDefaultMassRowsThreshold;
  // Level 1 (with a minimum match of 5, format::FrameEncoder): on this machine's pgbench WAL level 3 stores about
  // as much (0.7 % more on 2026-12-06) for 15 % more CPU (bench/results/stream.md).
  static constexpr int kDefaultCompressLevel = 1;
};

using SourceOpener = std::function<std::unique_ptr<pg::ReplicationSource>()>;

// Where streaming (re)starts: a segment start on a timeline.
struct ResumePoint {
  wal::TimelineId timeline;
  wal::Lsn start;
};

// The repository's durable end as a resume point: the in-progress segment's start if a tip exists (stale tips
// of archived segments are removed; of two tips of one segment, the older timeline's: a timeline switch cut
// short before it archived that timeline's last segment), else the end of the highest archived segment; nullopt
// for an empty repository. Throws Storage errors.
[[nodiscard]] std::optional<ResumePoint> repository_resume_point(storage::Storage& storage, uint32_t segment_size);

// Fetches the history file of `timeline` (TIMELINE_HISTORY) and stores it as wal/NNNNNNNN.history unless the
// repository has it, with those of its ancestors above 1 that it lacks (one the server lacks is logged). Nothing for
// timeline 1. The one place history files are stored (init, stream start, timeline switches). Throws
// ReplicationSource and Storage errors.
void store_timeline_history(pg::ReplicationSource& source, storage::Storage& storage, wal::TimelineId timeline);

class Streamer {
 public:
  Streamer(storage::Storage& storage, const repo::RepoConfig& config, Clock& clock, SourceOpener open_source,
           StreamerOptions options, const std::atomic<bool>& stop);

  void run();

  // The end of what the repository holds durably / what was received (for tests and status).
  [[nodiscard]] wal::Lsn durable() const;
  [[nodiscard]] wal::Lsn received() const { return received_; }

 private:
  enum class SessionEnd { kStopped, kServerEnded };

  SessionEnd session();
  // Forgets the session (see "Retrying" above): the next one starts from the repository's durable end.
  void drop_session();
  // Logs a retryable failure; held is the durable end when it happened.
  void log_retry(const Error& e, wal::Lsn held, std::chrono::milliseconds delay);
  std::optional<pg::TimelineEnd> stream();
  void on_data(const pg::XLogData& data);
  void switch_timeline(const pg::TimelineEnd& end);
  void close_chain(const repo::ChainBreak& chain_break);
  void open_tip(wal::SegmentNo segno);
  void complete_segment();
  // Archives the tip (complete, or the last partial segment of a timeline) ending at end, then removes it.
  std::string archive_tip(wal::Lsn end, bool final);
  // Syncs the tip, publishes index entries and the state record, then reports the durable end to the server.
  void make_durable();
  void send_status(bool reply_requested);
  void write_state();
  void sleep_unless_stopped(std::chrono::milliseconds delay);
  // Takes a relation name snapshot and stores it when it differs from the last one.
  void refresh_names();

  storage::Storage& storage_;
  repo::RepoConfig config_;
  Clock& clock_;
  SourceOpener open_source_;
  StreamerOptions options_;
  const std::atomic<bool>& stop_;

  std::unique_ptr<pg::ReplicationSource> source_;
  std::optional<ResumePoint> position_;  // where the next START_REPLICATION begins
  wal::TimelineId timeline_;
  wal::Lsn received_;
  wal::Lsn server_lsn_;
  bool server_lsn_heard_ = false;  // server_lsn_ came from the server in this session (not a stale or zero value)
  std::unique_ptr<Tip> tip_;
  std::optional<WalIndexer> indexer_;  // always set; replaced by drop_session()
  std::unique_ptr<storage::AppendFile> state_file_;
  StreamState state_;
  std::chrono::steady_clock::time_point last_sync_;
  std::chrono::steady_clock::time_point last_status_;
  std::chrono::steady_clock::time_point last_message_;
  std::optional<NameSnapshot> names_;
  std::chrono::steady_clock::time_point last_names_;
  std::optional<wal::Lsn> disk_full_at_;  // set while the repository is full: the furthest WAL an attempt received
  bool version_checked_ = false;
  bool warned_damage_ = false;
};

}  // namespace walvault::archive
