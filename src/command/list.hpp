// `walvault list`: what the repository can restore.
//
// It shows the complete backups (those with a catalog entry; leftovers of interrupted backups are ignored), the
// WAL held per timeline with any gaps between runs of segments (restore/wal_coverage.hpp), and the restorable
// windows. A backup is restorable when the repository holds its WAL from its start segment to its stop LSN.
// Its window runs from its consistency point, the backup's stop time (every commit before the stop LSN is
// earlier), to the last commit the commit index holds in the same gap-free WAL run. Backups sharing a run
// share one window, opened by the oldest. `--json` prints {"backups": [...], "wal": [...], "gaps": [...],
// "windows": [...]} with the field names of the human output.
//
// Errors: kRepository (no repository), kCorrupt (a damaged catalog entry or index object), Storage errors.
#pragma once

#include <string>

#include "repo/address.hpp"

namespace walvault::command {

struct ListOptions {
  repo::RepoAddress repo;
  bool json = false;
};

int run_list(const ListOptions& options);

}  // namespace walvault::command
