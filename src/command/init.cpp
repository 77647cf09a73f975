#include "command/init.hpp"

#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "archive/streamer.hpp"
#include "common/clock.hpp"
#include "common/error.hpp"
#include "pg/replication.hpp"
#include "repo/repository.hpp"
#include "storage/posix_storage.hpp"

namespace walvault::command {
namespace {

// A directory that has entries but no walvault.json is someone else's data.
void check_directory_is_ours(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return;
  if (!std::filesystem::is_directory(path, ec)) {
    throw Error(ErrorCode::kRepository, path + " exists and is not a directory", "choose another --repo path");
  }
  if (std::filesystem::exists(std::filesystem::path(path) / repo::kConfigObject, ec)) return;
  if (std::filesystem::directory_iterator(path, ec) != std::filesystem::directory_iterator()) {
    throw Error(ErrorCode::kRepository, path + " is not empty and is not a walvault repository",
                "give 'walvault init' a new or empty directory");
  }
}

}  // namespace

int run_init(const InitOptions& options) {
  repo::check_no_password(options.conninfo);
  if (!pg::valid_slot_name(options.slot)) {
    throw Error(ErrorCode::kUsage, "invalid slot name \"" + options.slot + "\"",
                "use 1 to 63 lower-case letters, digits and underscores");
  }
  check_directory_is_ours(options.repo);

  pg::LibpqReplicationSource source(options.conninfo);
  const auto identity = source.identify_system();
  const int version = source.server_version();
  repo::check_server_version(version);
  const uint32_t segment_size = source.wal_segment_size();

  storage::PosixStorage storage(options.repo);
  bool created_repo = false;
  auto config = repo::read_config(storage);
  if (config) {
    repo::check_system_identifier(*config, identity.system_identifier);
  } else {
    config = repo::RepoConfig{};
    config->system_identifier = identity.system_identifier;
    config->pg_version = version;
    config->segment_size = segment_size;
    config->timeline = identity.timeline;
    config->conninfo = options.conninfo;
    config->slot = options.slot;
    config->created = format_time(std::chrono::system_clock::now());
    repo::write_config(storage, *config);
    created_repo = true;
  }

  // Restoring the timeline the cluster is on needs its history file; the streamer stores later ones.
  archive::store_timeline_history(source, storage, identity.timeline);

  bool created_slot = false;
  if (!source.read_slot(config->slot)) {
    source.create_slot(config->slot);
    created_slot = true;
  }

  if (options.json) {
    nlohmann::ordered_json j;
    j["repository"] = options.repo;
    j["created"] = created_repo;
    j["system_identifier"] = std::to_string(config->system_identifier);
    j["pg_version"] = config->pg_version;
    j["timeline"] = config->timeline.value();
    j["segment_size"] = config->segment_size;
    j["slot"] = config->slot;
    j["slot_created"] = created_slot;
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << (created_repo ? "initialised" : "already initialised:") << " repository " << options.repo
              << " for database system " << config->system_identifier << " (PostgreSQL "
              << config->pg_version / 10000 << ", timeline " << config->timeline.value() << ", "
              << (config->segment_size >> 20) << " MiB segments)\n"
              << "replication slot \"" << config->slot << "\" " << (created_slot ? "created" : "exists") << "\n";
  }
  return 0;
}

}  // namespace walvault::command
