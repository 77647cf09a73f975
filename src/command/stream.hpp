// `walvault stream`: run the streamer (archive/streamer.hpp) in the foreground until SIGTERM or SIGINT.
//
// Takes the repository's stream lock (locks/stream.lock; a second streamer fails with kRepository naming the
// first one's pid), connects with the repository's connection string, and streams. On SIGTERM/SIGINT it makes
// everything received durable, acknowledges it to the server and returns 0. Errors: whatever the streamer
// throws that retrying cannot fix.
#pragma once

#include <string>

#include "repo/address.hpp"
#include "archive/streamer.hpp"

namespace walvault::command {

struct StreamOptions {
  repo::RepoAddress repo;
  int fsync_interval_ms = 200;  // the longest time received WAL stays unsynced while data arrives
  int status_interval_ms = 10000;
  int compress_level = archive::StreamerOptions::kDefaultCompressLevel;  // zstd level of the segment containers
  uint64_t mass_rows_threshold = wal::kDefaultMassRowsThreshold;  // for the WAL indexed from now on
};

int run_stream(const StreamOptions& options);

}  // namespace walvault::command
