// `walvault init`: bind a repository to a cluster and make sure its physical replication slot exists.
//
// Connects in replication mode, records in walvault.json (repo/repository.hpp) the system identifier, server
// version, timeline, segment size, connection string and slot name, and creates the slot with RESERVE_WAL. A
// repository owns its slot alone: a new repository refuses a slot that already exists (another repository's or a
// standby's; their acknowledgements would release WAL this one needs). Run again on a repository, init checks
// it: the same cluster (else kRepository naming both identifiers), the same slot and connection string (a
// different --slot or -d is refused, never silently ignored), and the slot still there (a lost slot is refused:
// a new one would hide the gap in the WAL). Also refuses a non-empty directory that is not a repository and a
// connection string holding a password (kUsage). Errors as thrown by the modules it calls.
#pragma once

#include <optional>
#include <string>

#include "repo/address.hpp"

namespace walvault::command {

struct InitOptions {
  repo::RepoAddress repo;
  std::string conninfo;
  std::optional<std::string> slot;  // unset: default_slot_name(repo)
  bool encrypt = false;             // a new repository is encrypted (repo/encryption.hpp) with the key repo.key names
  bool json = false;
};

// The slot a new repository creates unless told otherwise: named after the repository's directory
// ("walvault_" and its last path component in [a-z0-9_], at most 63 characters), so two repositories on one
// cluster do not share one by accident.
[[nodiscard]] std::string default_slot_name(const std::string& repo);

int run_init(const InitOptions& options);

}  // namespace walvault::command
