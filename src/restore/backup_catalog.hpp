// The backup catalog: one entry per complete base backup, "backup/<id>/backup.json" (format/FORMAT.md, "Backup
// catalog entry"), written last by `walvault backup`. Its presence is what makes a backup exist; objects under
// backup/<id>/ without it are the leftovers of an interrupted backup and are ignored here.
//
// encode/decode are the JSON codec, sealed (format/sealed_object.hpp; decode throws kCorrupt naming the object
// and the field, or the failed seal); read_backup_catalog() lists the complete backups of a repository, oldest
// first, with the damaged entries apart; read_backups() throws kCorrupt for a damaged entry. Storage errors pass
// through.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "format/sealed_object.hpp"
#include "storage/storage.hpp"
#include "wal/lsn.hpp"

namespace walvault::restore {

inline constexpr int kBackupCatalogVersion = 1;
inline constexpr std::string_view kBackupPrefix = "backup/";
inline constexpr std::string_view kCatalogObjectName = "backup.json";

struct BackupStream {
  std::string name;             // archive name without ".tar": "base", or the tablespace oid
  std::string object;           // "backup/<id>/<name>.wvt"
  uint32_t tablespace_oid = 0;  // 0 for the data directory
  std::string tablespace_path;
  uint64_t raw_size = 0;
  uint64_t stored_size = 0;
  uint64_t checksum = 0;  // xxh3 of the raw tar bytes
  uint32_t chunk_size = 0;
  uint32_t chunk_count = 0;
  bool operator==(const BackupStream&) const = default;
};

struct BackupEntry {
  int format_version = kBackupCatalogVersion;
  std::string id;
  std::string label;
  uint64_t system_identifier = 0;
  int pg_version = 0;
  wal::TimelineId timeline;
  wal::Lsn start_lsn;
  wal::Lsn stop_lsn;
  std::string start_time;  // ISO 8601 UTC with microseconds
  std::string stop_time;
  std::string backup_label;
  std::string tablespace_map;
  std::vector<BackupStream> streams;
  std::string manifest_object;
  uint64_t manifest_size = 0;
  uint64_t manifest_checksum = 0;  // xxh3

  [[nodiscard]] uint64_t raw_size() const;
  [[nodiscard]] uint64_t stored_size() const;
  bool operator==(const BackupEntry&) const = default;
};

// "backup/<id>/<leaf>".
[[nodiscard]] std::string backup_object_name(std::string_view id, std::string_view leaf);

[[nodiscard]] std::string encode_backup_entry(const BackupEntry& entry);
// object: the object's name, for error messages; rule: the repository's (repo::seal_rule).
[[nodiscard]] BackupEntry decode_backup_entry(std::string_view text, std::string_view object, format::SealRule rule);

// The catalog as found: every complete backup whose entry reads, sorted by id (oldest first), and the error
// (kCorrupt, naming the object) of each entry that does not. Readers that can do without a backup (list, status,
// check, restore planning) name the damaged ones and go on with the rest.
struct BackupCatalog {
  std::vector<BackupEntry> backups;
  std::vector<Error> damaged;
};
[[nodiscard]] BackupCatalog read_backup_catalog(const storage::Storage& storage);
// Every complete backup, sorted by id (oldest first); throws the first damaged entry's error, for callers that must
// know every backup (expire: it would otherwise remove WAL a damaged entry's backup needs).
[[nodiscard]] std::vector<BackupEntry> read_backups(const storage::Storage& storage);
// Seconds from the newest backup's stop time to now; nullopt without a backup (or a readable stop time).
[[nodiscard]] std::optional<double> newest_backup_age_seconds(const std::vector<BackupEntry>& backups,
                                                              std::chrono::system_clock::time_point now);
// The objects under backup/<id>/ of every id without a catalog entry (an interrupted backup, or a lost entry), by id,
// from a listing of backup/. Pure.
[[nodiscard]] std::map<std::string, std::vector<storage::ObjectInfo>> uncatalogued_backup_objects(
    const std::vector<storage::ObjectInfo>& listing);
// Removes a backup: its catalog entry first (from then on it is not listed), then its objects. Throws Storage
// errors.
void remove_backup(storage::Storage& storage, const std::string& id);
// What interrupted backups left: the objects under backup/<id>/ of an id without a catalog entry, and the pending
// writes under backup/ (temporary files, multipart uploads) whatever their age. Only under the backup lock
// (repo::kBackupLockName), which proves that no backup is being written. Removed unless dry_run; returned by name.
// Throws Storage errors.
std::vector<storage::ObjectInfo> remove_interrupted_backups(storage::Storage& storage, bool dry_run);
// Each backup's start LSN.
[[nodiscard]] std::vector<wal::Lsn> backup_starts(const std::vector<BackupEntry>& backups);

}  // namespace walvault::restore
