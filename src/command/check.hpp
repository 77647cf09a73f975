// `walvault check`: an end-to-end probe for monitoring, in the spirit of `pgbackrest check`. Each check has a
// name, a verdict and one line of detail:
//   server     the server answers over a replication connection and is the repository's cluster;
//   slot       the repository's slot exists, reserves WAL and is not ahead of it (pg::slot_problem);
//   streamer   a streamer holds the repository's stream lock;
//   archiving  a WAL switch forced on the server (pg_switch_wal(), over a regular connection) reaches the repository
//              as an archived segment within --timeout seconds: WAL really flows, end to end;
//   backup     the newest backup stopped less than --max-backup-age hours ago;
//   verify     the last `walvault verify` recorded its result and found nothing damaged.
// Output: human lines ("ok"/"FAIL"), or --json {"ok": ..., "checks": [{"name", "ok", "detail"}]}.
// Exit 0 when every check passes, 11 when any fails (as `status` does for broken). Errors: kRepository when there is
// no repository (exit 3).
#pragma once

#include <string>

#include "repo/address.hpp"

namespace walvault::command {

inline constexpr int kCheckFailedExit = 11;

struct CheckOptions {
  repo::RepoAddress repo;
  bool json = false;
  int timeout_seconds = 60;
  int max_backup_age_hours = 48;
};

int run_check(const CheckOptions& options);

}  // namespace walvault::command
