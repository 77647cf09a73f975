// PostgreSQL's backup_manifest, as BASE_BACKUP sends it with MANIFEST 'yes': parsing, and the checks of extracted
// files and of the cluster against it.
//
// parse_backup_manifest() reads the JSON into the file list and the WAL ranges; "Encoded-Path" (hex, for names
// that are not UTF-8) is decoded. Versions 1 (PostgreSQL 13-16) and 2 (17 and later, which adds the cluster's
// "System-Identifier", required there) are understood; any other version is an error naming it. The manifest's own SHA-256 "Manifest-Checksum" is not recomputed here: the
// manifest is stored in a checksummed container, and pg_verifybackup checks it. File checksums are understood for
// CRC32C (what walvault asks for) and NONE (size only); another algorithm is an error.
//
// FileDigest is what an extractor measures for one file; crc32c_manifest_text() renders a CRC-32C the way the
// manifest does (the four bytes of the value in little-endian order, as hex). check_files() compares the two
// sides and lists every problem in a stable order (by path). check_manifest_system() compares a version 2
// manifest's System-Identifier with the repository's: a backup of another cluster is foreign data, never restored or
// counted as verified. All functions are pure and return errors as values.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wal/expected.hpp"
#include "wal/lsn.hpp"

namespace walvault::restore {

struct ManifestFile {
  std::string path;
  uint64_t size = 0;
  std::optional<std::string> crc32c;  // lower-case hex as in the manifest; unset for "NONE"
};

struct ManifestWalRange {
  wal::TimelineId timeline;
  wal::Lsn start;
  wal::Lsn end;
};

// The manifest versions parse_backup_manifest() understands.
inline constexpr int kMinManifestVersion = 1;
inline constexpr int kMaxManifestVersion = 2;

struct BackupManifest {
  int version = 1;
  std::optional<uint64_t> system_identifier;  // version 2 on; unset in version 1, which does not say
  std::vector<ManifestFile> files;
  std::vector<ManifestWalRange> wal_ranges;
};

[[nodiscard]] Expected<BackupManifest, std::string> parse_backup_manifest(std::string_view json);

// An empty result when the manifest's System-Identifier is the repository's, or when it names none (version 1);
// else the problem, one line naming both identifiers.
[[nodiscard]] Expected<void, std::string> check_manifest_system(const BackupManifest& manifest,
                                                                uint64_t repository_system_identifier);

// What extraction measured for one regular file.
struct FileDigest {
  uint64_t size = 0;
  uint32_t crc32c = 0;  // finished CRC-32C of the content
};

[[nodiscard]] std::string crc32c_manifest_text(uint32_t crc);

// Every mismatch between the manifest and the extracted files (path → digest): files missing from the backup,
// files the manifest does not list, and size or checksum differences. Empty when everything matches.
[[nodiscard]] std::vector<std::string> check_files(const BackupManifest& manifest,
                                                   const std::map<std::string, FileDigest>& extracted);

}  // namespace walvault::restore
