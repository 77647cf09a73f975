// `walvault backup`: a base backup over the replication protocol, into the repository.
//
// The backup runs BASE_BACKUP (pg/base_backup.hpp) on the repository's server and stores, under backup/<id>/
// (format/FORMAT.md): each tar archive as a stream container "<name>.wvt" (zstd, xxh3 per chunk and overall),
// PostgreSQL's backup_manifest verbatim, and last, atomically, the catalog entry backup.json. Its presence is
// what makes a backup exist: an interrupted backup leaves no catalog entry; `list` and restore ignore such
// orphaned objects, and the next `backup` removes them (the whole backup/<id>/ directory, temporary files
// of a killed writer included). Ids are the UTC start time, "20261121T041540Z", so they
// sort by age.
//
// Safety checks, all before the catalog entry is written (a failure leaves none):
//   - the server's system identifier is the repository's (kRepository otherwise);
//   - a streamer holds the repository's stream lock, and the repository's WAL on the backup's timeline reaches
//     back to the backup's start segment (kNotRestorable otherwise: such a backup could never be restored);
//   - at the end, the repository's durable WAL reaches the stop LSN with no gap from the start, within
//     wal_wait (kNotRestorable otherwise);
//   - the cluster has no user tablespaces (kNotRestorable, naming each by oid and location: walvault restores
//     into one data directory and does not relocate tablespaces).
// One backup at a time per repository (locks/backup.lock). Memory is bounded (one CopyData message, one
// container chunk) whatever the database size. Progress goes to stderr when it is a terminal.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "repo/address.hpp"

namespace walvault::command {

struct BackupOptions {
  repo::RepoAddress repo;
  bool fast = false;                  // CHECKPOINT 'fast'
  std::string label;                  // default "walvault <id>"
  std::chrono::seconds wal_wait{60};  // how long to wait for the stop LSN's WAL to be durable
  bool json = false;
};

int run_backup(const BackupOptions& options);

// A byte count as backup and list print it: "1.2 GiB".
[[nodiscard]] std::string format_size(uint64_t bytes);

}  // namespace walvault::command
