// `walvault init`: bind a repository to a cluster and make sure its physical replication slot exists.
//
// Connects in replication mode, records in walvault.json (repo/repository.hpp) the system identifier, server
// version, timeline, segment size, connection string and slot name, and creates the slot with RESERVE_WAL if it
// is absent. Idempotent on a repository of the same cluster (walvault.json is left as it is, a missing slot is
// recreated); refuses a repository of another cluster (kRepository, naming both identifiers), a non-empty
// directory that is not a repository, and a connection string holding a password (kUsage). Errors as thrown by
// the modules it calls.
#pragma once

#include <string>

namespace walvault::command {

struct InitOptions {
  std::string repo;
  std::string conninfo;
  std::string slot = "walvault";
  bool json = false;
};

int run_init(const InitOptions& options);

}  // namespace walvault::command
