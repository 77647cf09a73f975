// `walvault verify`: prove the repository's contents (archive/verifier.hpp does the checks).
//
// Verifies every segment container, backup, index object and history file, and WAL continuity from each backup
// to the end of the archive; prints every problem with its object and LSN range (human text, or --json), and
// remembers what verified clean (archive/verify_state.hpp) so the next run checks only new or changed objects
// (size, last bytes, or the store's version token: inode and times) and a rotating share of the others (every one
// at least every --recheck-days days), unless --full. The run's result (when, which objects were damaged) is kept
// with that state: list marks damaged backups, status reports it, and restore planning skips them. Progress goes to stderr when it is a terminal. One verify at a time per repository
// (locks/verify.lock); backups, expire and the streamer may run meanwhile.
// Exit: 0 when clean; throws kCorrupt (exit 5) after printing the report when anything is wrong; kRepository for
// a missing repository or a concurrent verify; kIo when the storage fails.
#pragma once

#include <string>

#include "repo/address.hpp"

namespace walvault::command {

struct VerifyOptions {
  repo::RepoAddress repo;
  bool full = false;  // re-check every object, not only new or changed ones
  bool json = false;
  int recheck_days = 7;  // unchanged objects are read again at least this often (a share of them each day)
};

int run_verify(const VerifyOptions& options);

}  // namespace walvault::command
