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
  CHECK(parse_backup_manifest(R"({"PostgreSQL-Backup-Manifest-Version": 2, "Files": []})").error() ==
        "backup_manifest has an unsupported version (expected 1)");
  CHECK(parse_backup_manifest(R"({"PostgreSQL-Backup-Manifest-Version": 1})").error() ==
        "backup_manifest has no Files list");
  CHECK(
      parse_backup_manifest(
          R"({"PostgreSQL-Backup-Manifest-Version": 1, "Files": [{"Path": "a", "Size": 1, "Checksum-Algorithm": "SHA256", "Checksum": "00"}]})")
          .error() == "backup_manifest entry \"a\" uses unsupported checksum algorithm \"SHA256\"");
  CHECK(parse_backup_manifest(R"({"PostgreSQL-Backup-Manifest-Version": 1, "Files": [{"Path": "a"}]})").error() ==
        "backup_manifest entry \"a\" has no valid Size");
}
