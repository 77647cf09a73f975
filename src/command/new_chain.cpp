#include "command/new_chain.hpp"

#include <iostream>
#include <nlohmann/json.hpp>

#include "archive/stream_state.hpp"
#include "common/clock.hpp"
#include "common/error.hpp"
#include "pg/replication.hpp"
#include "repo/lock.hpp"
#include "repo/repository.hpp"
#include "repo/wal_chains.hpp"

namespace walvault::command {

int run_new_chain(const NewChainOptions& options) {
  repo::Repository repository = repo::open_repository(options.repo);
  storage::Storage& storage = *repository.storage;
  const repo::RepoConfig& config = repository.config;
  const repo::RepositoryLock lock = repo::lock_stopped_streamer(*repository.storage, "new-chain");
  const std::string slot = options.slot.value_or(config.slot);
  if (!pg::valid_slot_name(slot)) {
    throw Error(ErrorCode::kUsage, "invalid slot name \"" + slot + "\"",
                "use 1 to 63 lower-case letters, digits and underscores");
  }

  pg::LibpqReplicationSource source(config.conninfo);
  const auto identity = source.identify_system();
  repo::check_system_identifier(config, identity.system_identifier);
  const auto state = archive::read_stream_state(storage);
  const auto old_slot = source.read_slot(config.slot);
  auto problem = pg::slot_problem(
      config.slot, old_slot,
      repo::slot_needed_from(archive::positioned_durable_lsn(state), repo::read_chain_breaks(storage)),
      config.segment_size);
  if (!problem) {
    throw Error(ErrorCode::kRepository,
                "the replication slot \"" + config.slot + "\" is sound: the repository's WAL chain is whole",
                "new-chain is for a slot that is lost, invalidated or ahead of the repository ('walvault status' "
                "says so); if the streamer stopped for another reason, start it again");
  }
  *problem += pg::describe_slot(config.conninfo, config.slot);
  if (slot != config.slot && source.read_slot(slot)) {
    throw Error(ErrorCode::kRepository, "replication slot \"" + slot + "\" already exists",
                "give --slot a name no one uses: a repository owns its slot alone");
  }

  if (old_slot) source.drop_slot(config.slot);
  source.create_slot(slot);
  const auto fresh = source.read_slot(slot);
  if (!fresh || !fresh->restart_lsn || !fresh->restart_timeline) {
    throw Error(ErrorCode::kConnection, "the new replication slot \"" + slot + "\" reserves no WAL",
                "check the server's log; run 'walvault new-chain' again");
  }
  repo::ChainBreak chain;
  chain.timeline = *fresh->restart_timeline;
  chain.start = wal::segment_start(wal::segment_of(*fresh->restart_lsn, config.segment_size), config.segment_size);
  chain.previous_timeline = state ? state->timeline : config.timeline;
  if (state) chain.previous_end = state->durable_lsn;
  chain.slot = slot;
  chain.created = format_time(std::chrono::system_clock::now());
  chain.reason = *problem;
  repo::write_chain_break(storage, chain);
  if (slot != config.slot) {
    repo::write_settings_change(storage, config.conninfo, slot, "new-chain: the slot \"" + config.slot + "\" was broken");
  }

  const std::string end = chain.previous_end ? chain.previous_end->to_string() : std::string("its start");
  if (options.json) {
    nlohmann::ordered_json j;
    j["slot"] = slot;
    j["start_lsn"] = chain.start.to_string();
    j["timeline"] = chain.timeline.value();
    j["previous_end_lsn"] = chain.previous_end ? nlohmann::json(end) : nlohmann::json(nullptr);
    j["reason"] = chain.reason;
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << "new WAL chain from " << chain.start.to_string() << " on timeline " << chain.timeline.value()
              << " (replication slot \"" << slot << "\" created)\n"
              << "the WAL from " << end << " to " << chain.start.to_string()
              << " is lost: 'walvault list' shows it as a declared gap\n"
              << "now: start 'walvault stream', then take a backup with 'walvault backup --repo " << options.repo.url
              << "': nothing after " << end << " is restorable until that backup\n";
  }
  return 0;
}

}  // namespace walvault::command
