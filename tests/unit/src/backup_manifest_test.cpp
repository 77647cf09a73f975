#include "restore/backup_manifest.hpp"

#include <catch2/catch.hpp>
#include <string>

#include "wal/crc32c.hpp"

using walvault::restore::check_files;
using walvault::restore::crc32c_manifest_text;
using walvault::restore::FileDigest;
using walvault::restore::parse_backup_manifest;

namespace {

// Shaped like PG15's output (the real backups are checked end to end by the integration tests).
const char* const kManifest = R"({ "PostgreSQL-Backup-Manifest-Version": 1,
"Files": [
{ "Path": "backup_label", "Size": 3, "Last-Modified": "2026-11-21 04:15:40 GMT", "Checksum-Algorithm": "CRC32C", "Checksum": "PLACEHOLDER" },
{ "Encoded-Path": "676c6f62616c2f70675f636f6e74726f6c", "Size": 0, "Last-Modified": "2026-11-21 04:15:40 GMT", "Checksum-Algorithm": "NONE" }
],
"WAL-Ranges": [
{ "Timeline": 1, "Start-LSN": "0/3000028", "End-LSN": "0/3000100" }
],
"Manifest-Checksum": "0000"}
)";

uint32_t crc_of(const std::string& text) {
  return walvault::wal::crc32c(std::as_bytes(std::span(text.data(), text.size())));
}

}  // namespace

TEST_CASE("CRC32C renders as PostgreSQL's manifest does (little-endian bytes)", "[restore][manifest]") {
  CHECK(crc32c_manifest_text(0x12345678) == "78563412");
  CHECK(crc32c_manifest_text(0) == "00000000");
}

TEST_CASE("backup_manifest parses files and WAL ranges", "[restore][manifest]") {
  std::string text = kManifest;
  text.replace(text.find("PLACEHOLDER"), 11, crc32c_manifest_text(crc_of("abc")));
  const auto manifest = parse_backup_manifest(text);
  REQUIRE(manifest);
  REQUIRE(manifest->files.size() == 2);
  CHECK(manifest->files[0].path == "backup_label");
  CHECK(manifest->files[0].size == 3);
  CHECK(manifest->files[1].path == "global/pg_control");
  CHECK_FALSE(manifest->files[1].crc32c.has_value());
  REQUIRE(manifest->wal_ranges.size() == 1);
  CHECK(manifest->wal_ranges[0].start.to_string() == "0/3000028");
  CHECK(manifest->wal_ranges[0].end.to_string() == "0/3000100");

  std::map<std::string, FileDigest> extracted = {{"backup_label", {3, crc_of("abc")}}, {"global/pg_control", {0, 0}}};
  CHECK(check_files(*manifest, extracted).empty());

  SECTION("a checksum mismatch is found") {
    extracted["backup_label"].crc32c = crc_of("abd");
    const auto problems = check_files(*manifest, extracted);
    REQUIRE(problems.size() == 1);
    CHECK(problems[0].find("\"backup_label\" has CRC32C") == 0);
  }
  SECTION("a size mismatch is found") {
    extracted["backup_label"].size = 4;
    CHECK(check_files(*manifest, extracted) ==
          std::vector<std::string>{"\"backup_label\" has size 4, backup_manifest says 3"});
  }
  SECTION("missing and extra files are found") {
    extracted.erase("global/pg_control");
    extracted["base/1/1234"] = {};
    CHECK(check_files(*manifest, extracted) ==
          std::vector<std::string>{"\"base/1/1234\" is in the backup but not in backup_manifest",
                                   "\"global/pg_control\" is in backup_manifest but not in the backup"});
  }
}

TEST_CASE("malformed backup_manifests are refused", "[restore][manifest]") {
  CHECK(parse_backup_manifest("{").error() == "backup_manifest is not valid JSON");
  CHECK(parse_backup_manifest(R"({"PostgreSQL-Backup-Manifest-Version": 3, "Files": []})").error() ==
        "backup_manifest has unsupported version 3 (walvault reads versions 1 to 2)");
  CHECK(parse_backup_manifest(R"({"PostgreSQL-Backup-Manifest-Version": 0, "Files": []})").error() ==
        "backup_manifest has unsupported version 0 (walvault reads versions 1 to 2)");
  CHECK(parse_backup_manifest(R"({"PostgreSQL-Backup-Manifest-Version": -1, "Files": []})").error() ==
        "backup_manifest has unsupported version -1 (walvault reads versions 1 to 2)");
  CHECK(parse_backup_manifest(R"({"PostgreSQL-Backup-Manifest-Version": "1", "Files": []})").error() ==
        "backup_manifest has no PostgreSQL-Backup-Manifest-Version");
  CHECK(parse_backup_manifest(R"({"Files": []})").error() ==
        "backup_manifest has no PostgreSQL-Backup-Manifest-Version");
  CHECK(parse_backup_manifest(R"({"PostgreSQL-Backup-Manifest-Version": 1})").error() ==
        "backup_manifest has no Files list");
  CHECK(
      parse_backup_manifest(
          R"({"PostgreSQL-Backup-Manifest-Version": 1, "Files": [{"Path": "a", "Size": 1, "Checksum-Algorithm": "SHA256", "Checksum": "00"}]})")
          .error() == "backup_manifest entry \"a\" uses unsupported checksum algorithm \"SHA256\"");
  CHECK(parse_backup_manifest(R"({"PostgreSQL-Backup-Manifest-Version": 1, "Files": [{"Path": "a"}]})").error() ==
        "backup_manifest entry \"a\" has no valid Size");
}

namespace {

// Shaped like PostgreSQL 17's output: version 2 adds System-Identifier after the version.
const char* const kManifestV2 = R"({ "PostgreSQL-Backup-Manifest-Version": 2,
"System-Identifier": 7441961253426843290,
"Files": [
{ "Path": "backup_label", "Size": 3, "Last-Modified": "2026-11-21 04:15:40 GMT", "Checksum-Algorithm": "CRC32C", "Checksum": "00000000" }
],
"WAL-Ranges": [
{ "Timeline": 1, "Start-LSN": "0/3000028", "End-LSN": "0/3000100" }
],
"Manifest-Checksum": "0000"}
)";

constexpr uint64_t kSystem = 7441961253426843290ULL;

std::string without_system_identifier(std::string text) {
  const auto at = text.find("\"System-Identifier\"");
  return text.erase(at, text.find('\n', at) + 1 - at);
}

}  // namespace

TEST_CASE("backup_manifest version 1 names no cluster, and any repository accepts it", "[restore][manifest]") {
  const auto v1 = parse_backup_manifest(R"({"PostgreSQL-Backup-Manifest-Version": 1, "Files": []})");
  REQUIRE(v1);
  CHECK(v1->version == 1);
  CHECK_FALSE(v1->system_identifier);
  CHECK(walvault::restore::check_manifest_system(*v1, kSystem));
  CHECK(walvault::restore::check_manifest_system(*v1, 1));
}

TEST_CASE("backup_manifest version 2 (PostgreSQL 17+) carries the cluster's System-Identifier", "[restore][manifest]") {
  const auto v2 = parse_backup_manifest(kManifestV2);
  REQUIRE(v2);
  CHECK(v2->version == 2);
  REQUIRE(v2->system_identifier);
  CHECK(*v2->system_identifier == kSystem);
  CHECK(v2->files.size() == 1);
  CHECK(v2->wal_ranges.size() == 1);
  CHECK(walvault::restore::check_manifest_system(*v2, kSystem));

  // Identifiers above INT64_MAX are valid (the server prints the uint64 as is).
  std::string big = kManifestV2;
  big.replace(big.find("7441961253426843290"), 19, "18446744073709551615");
  const auto high = parse_backup_manifest(big);
  REQUIRE(high);
  CHECK(*high->system_identifier == 18446744073709551615ULL);
}

TEST_CASE("backup_manifest version 2 without a System-Identifier, or of another cluster, is refused",
          "[restore][manifest]") {
  CHECK(parse_backup_manifest(without_system_identifier(kManifestV2)).error() ==
        "backup_manifest version 2 has no System-Identifier");
  std::string text = kManifestV2;
  text.replace(text.find("7441961253426843290"), 19, "\"7441961253426843290\"");
  CHECK(parse_backup_manifest(text).error() == "backup_manifest has a malformed System-Identifier");
  text = kManifestV2;
  text.replace(text.find("7441961253426843290"), 19, "-5");
  CHECK(parse_backup_manifest(text).error() == "backup_manifest has a malformed System-Identifier");

  const auto v2 = parse_backup_manifest(kManifestV2);
  REQUIRE(v2);
  const auto foreign = walvault::restore::check_manifest_system(*v2, 7441961253426843291ULL);
  REQUIRE_FALSE(foreign);
  CHECK(foreign.error() ==
        "backup_manifest is of database system 7441961253426843290, but the repository's is 7441961253426843291");
}
