#include "repo/repository.hpp"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/clock.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "pg/libpq.hpp"
#include "repo/encryption.hpp"
#include "repo/sequenced.hpp"

namespace walvault::repo {
namespace {

Error bad_config(const std::string& what) {
  return Error(ErrorCode::kRepository, "walvault.json is malformed: " + what,
               "restore walvault.json from a copy, or create a new repository with 'walvault init'");
}

constexpr std::string_view kSettingsPrefix = "config/";
constexpr std::string_view kSettingsSuffix = ".json";

void apply_settings(const storage::Storage& storage, const std::string& object, RepoConfig& config) {
  const storage::Bytes bytes = storage.read(object);
  const auto opened = format::open_sealed_json(
      std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), format::SealRule::kRequired);
  const auto damaged = [&](const std::string& what) {
    return Error(ErrorCode::kCorrupt, "the settings change " + object + " is damaged: " + what,
                 "it holds the repository's connection string and slot; restore it from a copy, or remove it and "
                 "record them again with 'walvault set-connection'");
  };
  if (!opened) throw damaged("it " + opened.error());
  try {
    config.conninfo = opened->value.at("conninfo").get<std::string>();
    config.slot = opened->value.at("slot").get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    throw damaged(e.what());
  }
}

}  // namespace

std::string encode_config(const RepoConfig& c) {
  nlohmann::ordered_json j;
  j["version"] = c.version;
  // A string: 64-bit identifiers lose precision in many JSON readers.
  j["system_identifier"] = std::to_string(c.system_identifier);
  j["pg_version"] = c.pg_version;
  j["segment_size"] = c.segment_size;
  j["timeline"] = c.timeline.value();
  j["conninfo"] = c.conninfo;
  j["slot"] = c.slot;
  j["created"] = c.created;
  if (c.s3) {
    j["s3"] = {{"endpoint", c.s3->endpoint}, {"region", c.s3->region}, {"path_style", c.s3->path_style}};
  }
  if (c.encrypted) j["encryption"] = {{"cipher", "aes-256-gcm"}, {"keyring", "keys/"}};
  return format::seal_json(std::move(j), 2);
}

RepoConfig decode_config(std::string_view text) {
  // The config says whether seals are required, so its own seal is checked after its version is known.
  const auto opened = format::open_sealed_json(text, format::SealRule::kLegacyAccepted);
  if (!opened) {
    throw Error(ErrorCode::kCorrupt, std::string(kConfigObject) + " is damaged: it " + opened.error(),
                "restore walvault.json from a copy (it is written once, by 'walvault init')");
  }
  const nlohmann::json& j = opened->value;
  RepoConfig c;
  try {
    c.version = j.at("version").get<int>();
    if (c.version != kConfigVersion && c.version != kUnsealedConfigVersion && c.version != kEncryptedConfigVersion) {
      throw Error(ErrorCode::kRepository, "walvault.json has version " + std::to_string(c.version) +
                                              ", this walvault reads versions " +
                                              std::to_string(kUnsealedConfigVersion) + " to " +
                                              std::to_string(kEncryptedConfigVersion),
                  "use the walvault release that created this repository");
    }
    c.encrypted = c.version == kEncryptedConfigVersion;
    if (c.encrypted != j.contains("encryption") ||
        (c.encrypted && j.at("encryption").at("cipher").get<std::string>() != "aes-256-gcm")) {
      throw bad_config("version " + std::to_string(c.version) + " and its encryption member disagree");
    }
    const std::string sysid = j.at("system_identifier").get<std::string>();
    std::size_t used = 0;
    c.system_identifier = std::stoull(sysid, &used);
    if (used != sysid.size()) throw bad_config("system_identifier is not a number");
    c.pg_version = j.at("pg_version").get<int>();
    c.segment_size = j.at("segment_size").get<uint32_t>();
    c.timeline = wal::TimelineId(j.at("timeline").get<uint32_t>());
    c.conninfo = j.at("conninfo").get<std::string>();
    c.slot = j.at("slot").get<std::string>();
    c.created = j.value("created", "");
    if (j.contains("s3")) {
      const nlohmann::json& s3 = j.at("s3");
      c.s3 = S3Endpoint{.endpoint = s3.at("endpoint").get<std::string>(),
                        .region = s3.at("region").get<std::string>(),
                        .path_style = s3.at("path_style").get<bool>()};
    }
  } catch (const nlohmann::json::exception& e) {
    throw bad_config(e.what());
  } catch (const std::logic_error&) {  // stoull
    throw bad_config("system_identifier is not a number");
  }
  if (opened->state == format::SealState::kLegacy && c.version != kUnsealedConfigVersion) {
    throw Error(ErrorCode::kCorrupt, std::string(kConfigObject) + " is damaged: it has no checksum",
                "restore walvault.json from a copy (it is written once, by 'walvault init')");
  }
  if (!wal::valid_segment_size(c.segment_size)) throw bad_config("segment_size is not a valid WAL segment size");
  if (!c.timeline.valid()) throw bad_config("timeline is 0");
  return c;
}

std::optional<RepoConfig> read_config_object(const storage::Storage& storage) {
  if (!storage.info(kConfigObject)) return std::nullopt;
  const storage::Bytes bytes = storage.read(kConfigObject);
  return decode_config(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

std::optional<RepoConfig> read_config(const storage::Storage& storage) {
  auto base = read_config_object(storage);
  if (!base) return std::nullopt;
  RepoConfig config = std::move(*base);
  const auto changes = sequenced_objects(storage, kSettingsPrefix, kSettingsSuffix);
  if (!changes.empty()) apply_settings(storage, changes.back().name, config);
  return config;
}

void write_settings_change(storage::Storage& storage, const std::string& conninfo, const std::string& slot,
                           const std::string& reason) {
  nlohmann::ordered_json j;
  j["conninfo"] = conninfo;
  j["slot"] = slot;
  j["reason"] = reason;
  j["created"] = format_time(std::chrono::system_clock::now());
  const std::string text = format::seal_json(std::move(j), 2);
  storage.write_atomic(next_sequenced_name(storage, kSettingsPrefix, kSettingsSuffix), std::as_bytes(std::span(text.data(), text.size())));
}

format::SealRule seal_rule(const RepoConfig& config) {
  return config.version == kUnsealedConfigVersion ? format::SealRule::kLegacyAccepted : format::SealRule::kRequired;
}

format::SealRule seal_rule(const storage::Storage& storage) {
  const auto config = read_config_object(storage);
  return config ? seal_rule(*config) : format::SealRule::kRequired;
}

void write_config(storage::Storage& storage, const RepoConfig& config) {
  const std::string text = encode_config(config);
  storage.write_atomic(kConfigObject, std::as_bytes(std::span(text.data(), text.size())));
}

Repository open_repository(const RepoAddress& address) {
  const bool s3 = parse_s3_url(address.url).has_value();
  std::error_code ec;
  const auto missing = [&](const std::string& why) {
    return Error(ErrorCode::kRepository, "no walvault repository at " + address.url + why,
                 "create one with 'walvault init --repo " + address.url + " -d CONNSTR'");
  };
  if (!s3 && !std::filesystem::is_directory(address.url, ec)) throw missing("");
  Repository repo;
  repo.path = address.url;
  repo.address = address;
  repo.storage = open_storage(address);
  const auto base = read_config_object(*repo.storage);
  if (!base) throw missing(" (walvault.json is missing)");
  if (base->s3 && resolve_s3_endpoint(address.s3, base->s3) != resolve_s3_endpoint(address.s3, std::nullopt)) {
    repo.storage = open_storage(address, base->s3);
  }
  if (base->encrypted) {
    repo.storage = encrypted_storage(std::move(repo.storage), or_environment(address.key), address.url);
  } else if (address.key.given()) {
    throw Error(ErrorCode::kUsage, "the repository at " + address.url + " is not encrypted, and " +
                                       address.key.describe() + " was given",
                "leave the key option out (an unencrypted repository stays unencrypted; 'walvault copy' keeps "
                "its form)");
  }
  repo.config = *read_config(*repo.storage);
  return repo;
}

storage::Storage& Repository::raw_storage() const {
  if (auto* encrypted = dynamic_cast<storage::EncryptedStorage*>(storage.get())) return encrypted->inner();
  return *storage;
}

void check_system_identifier(const RepoConfig& config, uint64_t server_system_identifier) {
  if (config.system_identifier == server_system_identifier) return;
  throw Error(ErrorCode::kRepository,
              "repository belongs to database system " + std::to_string(config.system_identifier) +
                  ", but the server is database system " + std::to_string(server_system_identifier),
              "point -d at the cluster this repository was created for, or use a new repository for this one");
}

void check_server_version(int server_version_num) {
  const int major = server_version_num / 10000;
  if (wal::wal_format_for_major(major)) return;
  const std::string range = wal::supported_versions_text();
  if (major < wal::kOldestSupportedMajor) {
    throw Error(ErrorCode::kConnection,
                "PostgreSQL " + std::to_string(major) + " is not supported: walvault supports " + range,
                "upgrade the server to a supported version (pg_upgrade), then run walvault init");
  }
  throw Error(ErrorCode::kConnection,
              "PostgreSQL " + std::to_string(major) + " (server_version_num " + std::to_string(server_version_num) +
                  ") is newer than walvault supports: walvault supports " + range,
              "use a walvault release that supports PostgreSQL " + std::to_string(major));
}

wal::WalFormat wal_format(const RepoConfig& config) {
  if (const auto format = wal::wal_format_for_major(config.pg_version / 10000)) return *format;
  throw Error(ErrorCode::kRepository,
              "the repository holds PostgreSQL " + std::to_string(config.pg_version / 10000) +
                  " wal, and this walvault supports " + wal::supported_versions_text(),
              "use the walvault release that created the repository");
}

void check_no_password(const std::string& conninfo) {
  char* error = nullptr;
  PQconninfoOption* options = pg::libpq().PQconninfoParse(conninfo.c_str(), &error);
  if (options == nullptr) {
    const std::string reason = error == nullptr ? "out of memory" : error;
    pg::libpq().PQfreemem(error);
    throw Error(ErrorCode::kUsage, "invalid connection string: " + reason.substr(0, reason.find('\n')),
                "use libpq syntax, e.g. 'host=db.example port=5432 user=walvault'");
  }
  bool has_password = false;
  for (const PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (std::string_view(o->keyword) == "password" && o->val != nullptr && o->val[0] != '\0') has_password = true;
  }
  pg::libpq().PQconninfoFree(options);
  if (has_password) {
    throw Error(ErrorCode::kUsage, "the connection string contains a password",
                "remove it: walvault never stores passwords; set PGPASSWORD or use ~/.pgpass (PGPASSFILE)");
  }
}

}  // namespace walvault::repo
