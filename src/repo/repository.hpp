// The repository: its configuration (walvault.json), which binds it to one PostgreSQL cluster, and opening it.
//
// RepoConfig is what `walvault init` records (format/FORMAT.md, "walvault.json"): the cluster's system identifier,
// its server version, segment size and timeline at init, the connection string (never with a password) and the
// physical slot's name. walvault.json is written once, atomically and durably, through Storage; a second init
// against the same cluster leaves it alone, against another cluster is refused. What may change later (the
// connection string, by `walvault set-connection`; the slot, by `walvault new-chain`) is recorded as immutable
// settings objects config/<20-digit sequence>.json (format/FORMAT.md, "Settings changes"); the newest one wins, and
// read_config() returns walvault.json with it applied.
//
// Errors: walvault::Error. kRepository for a missing, malformed or foreign repository; kUsage for a connection
// string that holds a password; kConnection for a server whose version walvault cannot serve; Storage errors
// (kIo) pass through.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "format/sealed_object.hpp"
#include "repo/address.hpp"
#include "storage/storage.hpp"
#include "wal/lsn.hpp"
#include "wal/page.hpp"

namespace walvault::repo {

inline constexpr std::string_view kConfigObject = "walvault.json";
// Version 2 (format 3): walvault.json and every JSON object and history file of the repository are sealed
// (format/sealed_object.hpp); an unsealed one is damage. Version 1 repositories (written before seals) are read
// with their unsealed objects accepted as legacy; what this walvault writes into them is sealed.
inline constexpr int kConfigVersion = 2;
inline constexpr int kUnsealedConfigVersion = 1;
// Version 3: an encrypted repository (member "encryption"; repo/encryption.hpp). A walvault that predates encryption
// refuses it by number rather than reading encrypted objects as damage.
inline constexpr int kEncryptedConfigVersion = 3;

struct RepoConfig {
  int version = kConfigVersion;
  uint64_t system_identifier = 0;
  int pg_version = 0;  // server_version_num at init, e.g. 150018
  uint32_t segment_size = 0;
  wal::TimelineId timeline;  // the server's timeline at init
  std::string conninfo;      // libpq connection string, without a password
  std::string slot;          // physical replication slot name
  std::string created;       // ISO 8601 UTC time of init
  std::optional<S3Endpoint> s3;  // how init reached the bucket (S3 repositories; repo/address.hpp)
  bool encrypted = false;        // version 3: every object but walvault.json, keys/ and locks/ is encrypted

  bool operator==(const RepoConfig&) const = default;
};

// The JSON text of walvault.json (sealed), and back. decode throws kRepository naming what is wrong, kCorrupt when
// it fails its checksum or a version 2 config has none.
[[nodiscard]] std::string encode_config(const RepoConfig& config);
[[nodiscard]] RepoConfig decode_config(std::string_view text);

// An opened repository: its storage and configuration. The storage lives as long as the Repository.
struct Repository {
  std::string path;  // what messages call it: the directory, or the s3:// URL
  RepoAddress address;
  std::unique_ptr<storage::Storage> storage;
  RepoConfig config;

  // The store under the encryption of an encrypted repository (its objects' stored bytes), else storage.
  [[nodiscard]] storage::Storage& raw_storage() const;
  // The arguments that name this repository to another walvault process (repo/address.hpp).
  [[nodiscard]] std::vector<std::string> address_argv() const { return repo::address_argv(address, config.s3); }
};

// Opens the repository at address (a local directory, or an s3:// URL) and reads walvault.json; an S3 repository
// is reopened with the region and addressing init recorded when the command line and environment give none.
// Throws kRepository when there is none ("no walvault repository at URL", hint: run walvault init).
[[nodiscard]] Repository open_repository(const RepoAddress& address);

// Reads walvault.json alone (no settings change applied); nullopt when it does not exist.
[[nodiscard]] std::optional<RepoConfig> read_config_object(const storage::Storage& storage);
// Reads walvault.json from storage, with the newest settings change applied; nullopt when it does not exist.
// Throws kCorrupt naming a damaged settings change (never skipped: an older connection would be used silently).
[[nodiscard]] std::optional<RepoConfig> read_config(const storage::Storage& storage);
// Records a new connection string and slot for the repository (the next settings object). `reason` is one line.
void write_settings_change(storage::Storage& storage, const std::string& conninfo, const std::string& slot,
                           const std::string& reason);
// Writes walvault.json (durable; never replaces a different one).
void write_config(storage::Storage& storage, const RepoConfig& config);

// Whether the repository's other objects must be sealed: kRequired unless its walvault.json is version 1 (a
// repository created before seals existed). The storage-only readers of sealed objects call this (it reads and
// checks walvault.json; kRequired when there is none, which no repository lacks).
[[nodiscard]] format::SealRule seal_rule(const RepoConfig& config);
[[nodiscard]] format::SealRule seal_rule(const storage::Storage& storage);

// Throws kRepository when the repository belongs to another cluster; the message names both identifiers.
void check_system_identifier(const RepoConfig& config, uint64_t server_system_identifier);

// The one gate on PostgreSQL versions in src/: the supported majors are exactly those of wal/'s version table
// (wal::wal_format_for_major, 15 to 18). Throws kConnection for any other server version (server_version_num, e.g.
// 180004), with one line naming the version and the supported range.
void check_server_version(int server_version_num);
// The WAL format of the repository's PostgreSQL version. Throws kRepository when walvault does not support it (a
// repository written by a walvault that did).
[[nodiscard]] wal::WalFormat wal_format(const RepoConfig& config);

// Throws kUsage when the connection string (key=value or URI) sets a password.
void check_no_password(const std::string& conninfo);

}  // namespace walvault::repo
