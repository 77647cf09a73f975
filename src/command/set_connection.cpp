#include "command/set_connection.hpp"

#include <iostream>

#include "common/error.hpp"
#include "pg/replication.hpp"
#include "repo/lock.hpp"
#include "repo/repository.hpp"

namespace walvault::command {

int run_set_connection(const SetConnectionOptions& options) {
  repo::check_no_password(options.conninfo);
  repo::Repository repository = repo::open_repository(options.repo);
  const repo::RepoConfig& config = repository.config;
  const repo::RepositoryLock lock = repo::lock_stopped_streamer(*repository.storage, "set-connection");
  if (options.conninfo == config.conninfo) {
    std::cout << "unchanged: the repository already connects with that connection string\n";
    return 0;
  }
  pg::LibpqReplicationSource source(options.conninfo);
  repo::check_system_identifier(config, source.identify_system().system_identifier);
  repo::check_server_version(source.server_version());
  if (source.wal_segment_size() != config.segment_size) {
    throw Error(ErrorCode::kRepository, "the server's wal_segment_size differs from the repository's",
                "this connection string reaches another cluster");
  }
  if (const auto problem = pg::slot_problem(config.slot, source.read_slot(config.slot), std::nullopt, config.segment_size)) {
    throw Error(ErrorCode::kRepository, *problem + " on the server this connection string reaches",
                "connect to the primary that holds the repository's slot; if the slot is lost, run 'walvault "
                "new-chain' after the connection is changed");
  }
  repo::write_settings_change(*repository.storage, options.conninfo, config.slot, "set-connection");
  std::cout << "the repository now connects with the new connection string (the old one: \"" << config.conninfo
            << "\"); start the streamer again\n";
  return 0;
}

}  // namespace walvault::command
