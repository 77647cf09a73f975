// `walvault new-chain`: the one operator action after the server removed WAL the repository had not received (its
// slot lost, invalidated, or moved past the repository; the streamer stops and says so). It
//   1. refuses unless the repository's slot really is broken (pg::slot_problem), and while a streamer runs;
//   2. drops the broken slot (when it still exists) and creates a fresh one (the same name, or --slot NAME, which
//      is then recorded as the repository's slot: repo::write_settings_change);
//   3. records the chain break (repo/wal_chains.hpp): the gap from the old chain's durable end to the fresh slot's
//      first segment, which `list` and `verify` show as declared and no restorable window spans;
//   4. says what now must happen: start the streamer, and take a base backup, since nothing after the gap is
//      restorable until one exists (`status` and `check` report broken until then).
// Errors: kRepository (no repository, a streamer running, a sound slot, a --slot name in use), kConnection,
// Storage errors.
#pragma once

#include <optional>
#include <string>

#include "repo/address.hpp"

namespace walvault::command {

struct NewChainOptions {
  repo::RepoAddress repo;
  std::optional<std::string> slot;
  bool json = false;
};

int run_new_chain(const NewChainOptions& options);

}  // namespace walvault::command
