// `walvault locate --time T`: where an instant falls in the WAL, from the index alone. Prints the last commit at
// or before T that recovery to T replays and the first commit after it, where recovery stops (time, xid, LSN,
// and whether it was an abort), with PostgreSQL's recovery_target_time semantics (format/FORMAT.md, "Lookup
// semantics"), on the newest timeline's branch or --timeline's.
// Errors: kUsage (bad time), kRepository, kCorrupt (damaged index).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "format/index.hpp"
#include "repo/address.hpp"

namespace walvault::command {

struct LocateOptions {
  repo::RepoAddress repo;
  std::string time;
  std::optional<uint32_t> timeline;
  bool json = false;
};

int run_locate(const LocateOptions& options);

// {"time", "xid", "lsn", "end_lsn", "aborted"} of a commit, or null; shared with `restore --dry-run --json`.
[[nodiscard]] nlohmann::ordered_json commit_json(const std::optional<format::CommitEntry>& commit);

}  // namespace walvault::command
