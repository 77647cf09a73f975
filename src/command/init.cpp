#include "command/init.hpp"

#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "archive/streamer.hpp"
#include "common/clock.hpp"
#include "common/error.hpp"
#include "pg/replication.hpp"
#include "repo/encryption.hpp"
#include "repo/repository.hpp"

namespace walvault::command {
namespace {

// A bucket prefix that holds objects but no walvault.json is someone else's data.
void check_prefix_is_ours(const storage::Storage& storage, const std::string& url) {
  if (storage.info(repo::kConfigObject) || storage.list("").empty()) return;
  throw Error(ErrorCode::kRepository, url + " holds objects and is not a walvault repository",
              "give 'walvault init' a new or empty bucket prefix, e.g. s3://BUCKET/NEW_PREFIX");
}

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

std::string default_slot_name(const std::string& repo) {
  std::string base;
  if (const auto s3 = repo::parse_s3_url(repo)) {
    base = s3->prefix.empty() ? s3->bucket : s3->prefix.substr(s3->prefix.rfind('/') + 1);
  } else {
    base = std::filesystem::absolute(repo).lexically_normal().filename().string();
  }
  std::string name = "walvault_";
  for (const char c : base) {
    const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    name += (lower >= 'a' && lower <= 'z') || (lower >= '0' && lower <= '9') ? lower : '_';
  }
  name.resize(std::min<std::size_t>(name.size(), 63));
  return name;
}

int run_init(const InitOptions& options) {
  repo::check_no_password(options.conninfo);
  const std::string& url = options.repo.url;
  const bool s3 = repo::parse_s3_url(url).has_value();
  const std::string wanted_slot = options.slot.value_or(default_slot_name(url));
  if (!pg::valid_slot_name(wanted_slot)) {
    throw Error(ErrorCode::kUsage, "invalid slot name \"" + wanted_slot + "\"",
                "use 1 to 63 lower-case letters, digits and underscores");
  }
  if (!s3) check_directory_is_ours(url);

  pg::LibpqReplicationSource source(options.conninfo);
  const auto identity = source.identify_system();
  const int version = source.server_version();
  repo::check_server_version(version);
  const uint32_t segment_size = source.wal_segment_size();

  std::unique_ptr<storage::Storage> opened = repo::open_storage(options.repo);
  if (s3) check_prefix_is_ours(*opened, url);
  const repo::KeySource key = repo::or_environment(options.repo.key);
  bool created_repo = false;
  bool created_slot = false;
  std::optional<repo::RepoConfig> config;
  if (const auto existing = repo::read_config_object(*opened)) {
    if (options.encrypt && !existing->encrypted) {
      throw Error(ErrorCode::kRepository, "the repository at " + url + " exists and is not encrypted",
                  "an existing repository keeps its form: 'walvault init --encrypt' a new one");
    }
    if (existing->encrypted) opened = repo::encrypted_storage(std::move(opened), key, url);
    config = repo::read_config(*opened);
  } else if (key.given() && !options.encrypt) {
    throw Error(ErrorCode::kUsage, key.describe() + " was given without --encrypt",
                "add --encrypt to create an encrypted repository, or leave the key out");
  }
  storage::Storage& storage = *opened;
  if (config) {
    // An existing repository keeps its slot and connection string: nothing given here is silently ignored.
    repo::check_system_identifier(*config, identity.system_identifier);
    if (options.slot && *options.slot != config->slot) {
      throw Error(ErrorCode::kRepository,
                  "this repository owns the replication slot \"" + config->slot + "\", not \"" + *options.slot + "\"",
                  "a repository's WAL chain lives in its one slot; for another slot, create another repository");
    }
    if (options.conninfo != config->conninfo) {
      throw Error(ErrorCode::kRepository,
                  "this repository connects with \"" + config->conninfo + "\", not the connection string given",
                  "to change it, run 'walvault set-connection --repo " + url + " -d NEW_CONNSTR'");
    }
    const auto slot = source.read_slot(config->slot);
    if (!slot || !slot->restart_lsn) {
      throw Error(ErrorCode::kRepository,
                  "the repository's replication slot \"" + config->slot + "\" " +
                      (slot ? "was invalidated (it reserves no WAL)" : "no longer exists") +
                      ": the server has not kept WAL for this repository since, and a new slot would hide that gap",
                  "run 'walvault new-chain --repo " + url + "': it starts a new WAL chain on a fresh slot "
                  "and declares the gap; then take a backup");
    }
  } else {
    if (source.read_slot(wanted_slot)) {
      throw Error(ErrorCode::kRepository,
                  "replication slot \"" + wanted_slot +
                      "\" already exists: another repository or a standby may use it, and a repository owns its slot "
                      "alone",
                  "give --slot a new name, or drop the old slot if nothing uses it: SELECT "
                  "pg_drop_replication_slot('" + wanted_slot + "')");
    }
    config = repo::RepoConfig{};
    config->system_identifier = identity.system_identifier;
    config->pg_version = version;
    config->segment_size = segment_size;
    config->timeline = identity.timeline;
    config->conninfo = options.conninfo;
    config->slot = wanted_slot;
    config->created = format_time(std::chrono::system_clock::now());
    if (s3) config->s3 = repo::resolve_s3_endpoint(options.repo.s3, std::nullopt);
    if (options.encrypt) {
      // The keyring first: walvault.json, written last, is what makes the repository exist.
      const std::vector<std::byte> secret = repo::read_secret(key, url);
      const format::DataKey data_key = repo::new_data_key();
      repo::write_keyring(storage, repo::make_keyring(secret, {data_key}, data_key.id));
      config->version = repo::kEncryptedConfigVersion;
      config->encrypted = true;
    }
    repo::write_config(storage, *config);
    created_repo = true;
    try {
      source.create_slot(config->slot);
    } catch (...) {
      storage.remove(repo::kConfigObject);  // no repository without its slot: init can simply run again
      throw;
    }
    created_slot = true;
  }
  if (created_repo && options.encrypt) opened = repo::encrypted_storage(std::move(opened), key, url);
  // Restoring the timeline the cluster is on needs its history file; the streamer stores later ones.
  archive::store_timeline_history(source, *opened, identity.timeline);

  if (options.json) {
    nlohmann::ordered_json j;
    j["repository"] = url;
    j["created"] = created_repo;
    j["system_identifier"] = std::to_string(config->system_identifier);
    j["pg_version"] = config->pg_version;
    j["timeline"] = config->timeline.value();
    j["segment_size"] = config->segment_size;
    j["slot"] = config->slot;
    j["slot_created"] = created_slot;
    j["encrypted"] = config->encrypted;
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << (created_repo ? "initialised" : "already initialised:") << " repository " << url
              << " for database system " << config->system_identifier << " (PostgreSQL "
              << config->pg_version / 10000 << ", timeline " << config->timeline.value() << ", "
              << (config->segment_size >> 20) << " MiB segments" << (config->encrypted ? ", encrypted" : "")
              << ")\n"
              << "replication slot \"" << config->slot << "\" " << (created_slot ? "created" : "exists") << "\n";
  }
  return 0;
}

}  // namespace walvault::command
