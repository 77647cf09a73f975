// `walvault expire`: remove old backups and the WAL only they needed (archive/retention.hpp decides what).
//
// Exactly one policy: --keep-backups N (the N newest backups stay) or --keep-days D (every point in time of the
// last D days stays restorable). The newest backup always stays, and so does all WAL a kept backup needs.
// Prints what it removes, or with --dry-run what it would remove, and removes nothing else.
//
// Order of removal, so that a crash part-way never leaves something that looks usable but is not: for each
// expired backup, oldest first, its catalog entry FIRST (the backup stops being listed, and its leftover objects
// are the "interrupted backup" kind that the next `walvault backup` removes), then its objects; then the WAL
// segments, oldest first (the WAL that remains stays contiguous); then the index runs that covered only removed
// WAL (runs straddling the cut stay; lookups are bounded by the WAL present).
//
// Maintenance after retention: the index of every timeline is compacted fully (storage/index_store.hpp,
// plan_full_compaction: hundreds of per-segment runs become a few, so lookups stay under a millisecond), runs
// an interrupted compaction left covered are removed, and temporary files of object writes that a killed process
// left behind (older than an hour, not locked by a live writer) are removed. Both are reported (runs before ->
// after per timeline; each temporary file), and --dry-run reports what would be done.
//
// Locking: expire takes locks/backup.lock, the lock `walvault backup` holds for its whole run, so an expire never
// runs during a backup or another expire (the second one fails at once with kRepository naming the holder's pid).
// The streamer may run: it only adds WAL above the cut. Index removals and compaction hold the storage lock
// "index" (locks/index.lock), during which the streamer skips its own small compactions.
// Errors: kUsage for a bad policy; kRepository (no repository, locked, not local); kCorrupt when a catalog entry
// or history file cannot be read (expire refuses to guess what is needed); kIo from storage.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "repo/address.hpp"

namespace walvault::command {

struct ExpireOptions {
  repo::RepoAddress repo;
  std::optional<uint32_t> keep_backups;
  std::optional<uint32_t> keep_days;
  bool dry_run = false;
  bool json = false;
};

int run_expire(const ExpireOptions& options);

}  // namespace walvault::command
