// `walvault stream`: run the streamer (archive/streamer.hpp) in the foreground until SIGTERM or SIGINT.
//
// Takes the repository's stream lock (locks/stream.lock; a second streamer fails with kRepository naming the
// first one's pid), connects with the repository's connection string, and streams. On SIGTERM/SIGINT it makes
// everything received durable, acknowledges it to the server and returns 0. Errors: whatever the streamer
// throws that retrying cannot fix.
#pragma once

#include <optional>
#include <string>

#include "archive/streamer.hpp"
#include "repo/address.hpp"

namespace walvault::command {

inline constexpr int kLocalFsyncIntervalMs = 200;
inline constexpr int kS3FsyncIntervalMs = 1000;

struct StreamOptions {
  repo::RepoAddress repo;
  // The longest time received WAL stays unsynced while data arrives; unset: kLocalFsyncIntervalMs, or
  // kS3FsyncIntervalMs for an S3 repository (each sync is a PUT per changed append file).
  std::optional<int> fsync_interval_ms;
  int status_interval_ms = 10000;
  int compress_level = archive::StreamerOptions::kDefaultCompressLevel;  // zstd level of the segment containers
  uint64_t mass_rows_threshold = wal::kDefaultMassRowsThreshold;  // for the WAL indexed from now on
};

int run_stream(const StreamOptions& options);

}  // namespace walvault::command
