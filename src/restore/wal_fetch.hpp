// Serving WAL files to a recovering PostgreSQL (restore_command): the work behind `walvault wal-fetch`.
//
// fetch_wal_file() writes one file PostgreSQL asks for (%f) to its destination (%p):
//   - a segment "TTTTTTTTXXXXXXXXYYYYYYYY": the container wal/<name>.wvs, verified (every chunk checksum, the
//     whole-content checksum, and that its header names this cluster, timeline, segment and segment size) and
//     decompressed; else the streamer's in-progress tip (archive/tip.hpp: its whole chunks, each checked, and
//     its tail log), up to its durable end as recorded in tip/stream.state (the WAL just before a wipe usually
//     lives there). A partial segment is padded with zeros
//     to the full segment size, as PostgreSQL requires a full-size file (zeros read as the end of WAL);
//   - "NNNNNNNN.history": the server's bytes of wal/<name> (archive/history_files.hpp), once its seal is checked
//     and it parses.
// The destination appears complete or not at all: bytes go to a temporary file in the destination's directory,
// which is then renamed into place. Anything else, or an object that does not exist, is kMissing (PostgreSQL
// asks for files that do not exist as a matter of course).
//
// The spool makes replay fast: a prefetcher (a detached process) verifies and decompresses the next `depth`
// complete segments (four at a time: from an object store a segment is mostly waiting) into a spool directory
// ahead of PostgreSQL's requests, so a request finds its segment
// ready and only renames it. The spool holds at most `depth` segments: each request records its segment in
// the spool (file "requested"), and the prefetcher deletes spooled segments at or below it and works only up
// to requested + depth. One prefetcher per spool (flock on "prefetch.lock"). stop_spool() asks a running
// prefetcher to stop, waits for it, and removes the spool. Segments in the spool were verified when they were
// written; they are renamed, never copied, so a request never sees a partial file.
//
// Errors: walvault::Error. kCorrupt when a container, tip, history file or tip/stream.state fails verification or
// belongs to another cluster (never hands PostgreSQL unverified bytes, and never answers "not found" because the
// state naming the tip is damaged), kIo for the filesystem, Storage errors pass through.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "repo/repository.hpp"
#include "storage/io_bytes.hpp"
#include "storage/storage.hpp"
#include "wal/lsn.hpp"

namespace walvault::restore {

enum class FetchOutcome { kFetched, kMissing };

// The WAL of one segment as the repository holds it: raw bytes from `offset` in the segment (a repository's
// first container may start inside its segment; a tip ends at its durable end).
struct HeldSegment {
  uint64_t offset = 0;
  storage::IoBytes bytes;
};
// The verified bytes of a segment: its container, else the durable prefix of the streamer's tip; nullopt when the
// repository holds neither. Throws kCorrupt as fetch_wal_file does (a tip that tip/stream.state records as
// durable but that is missing or shorter counts as damaged, never as "not held").
[[nodiscard]] std::optional<HeldSegment> read_held_segment(const storage::Storage& storage,
                                                           const repo::RepoConfig& config,
                                                           const wal::SegmentName& segment);

FetchOutcome fetch_wal_file(const storage::Storage& storage, const repo::RepoConfig& config, std::string_view name,
                            const std::string& dest);

inline constexpr uint32_t kDefaultPrefetchDepth = 8;

class Spool {
 public:
  // dir: the spool directory (created when missing, with its parent); relative paths are taken from the
  // current directory (PostgreSQL runs restore_command in the data directory).
  explicit Spool(std::string dir);

  // Records `name` as the segment PostgreSQL wants now, and moves it from the spool to dest when it is there.
  // True when it was (the request is served).
  bool take(std::string_view name, const std::string& dest);
  // Starts a detached prefetcher for the segments after the last requested one, unless one is running.
  // address_argv names the repository (repo::address_argv).
  void start_prefetcher(const std::vector<std::string>& address_argv, uint32_t depth) const;
  // The prefetcher's loop (in the detached process): fetch ahead until nothing is left to do or stop_spool().
  void prefetch(const repo::Repository& repository, uint32_t depth) const;
  // Stops a running prefetcher and removes the spool directory.
  void remove() const;

  [[nodiscard]] const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

}  // namespace walvault::restore
