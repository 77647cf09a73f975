#pragma once

#include <string>

#include "repo/address.hpp"

namespace walvault::command {

// `walvault set-connection`: records a new connection string for the repository (repo::write_settings_change),
// after checking that it reaches the repository's cluster (system identifier, version, segment size) and that the
// repository's slot there is sound. Refused while a streamer runs (it keeps the string it started with).
// Errors: kUsage (a password in it), kRepository, kConnection.
struct SetConnectionOptions {
  repo::RepoAddress repo;
  std::string conninfo;
};

int run_set_connection(const SetConnectionOptions& options);

}  // namespace walvault::command
