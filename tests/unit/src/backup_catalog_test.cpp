#include "restore/backup_catalog.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "common/error.hpp"

using walvault::restore::BackupEntry;
using walvault::restore::decode_backup_entry;
using walvault::format::SealRule;
using walvault::restore::encode_backup_entry;

namespace {

BackupEntry sample() {
  BackupEntry e;
  e.id = "20261121T041540Z";
  e.label = "walvault \"quoted\"";
  e.system_identifier = 18446744073709551615ULL;
  e.pg_version = 150018;
  e.timeline = walvault::wal::TimelineId(1);
  e.start_lsn = *walvault::wal::Lsn::parse("0/3000028");
  e.stop_lsn = *walvault::wal::Lsn::parse("0/3000100");
  e.start_time = "2026-11-21T04:15:40.000001Z";
  e.stop_time = "2026-11-21T04:15:42.500000Z";
  e.backup_label = "START WAL LOCATION: 0/3000028 (file 000000010000000000000003)\n";
  e.streams.push_back(
      {"base", "backup/20261121T041540Z/base.wvt", 0, "", 1000, 100, 0xfedcba9876543210ULL, 1 << 20, 1});
  e.manifest_object = "backup/20261121T041540Z/backup_manifest";
  e.manifest_size = 50;
  e.manifest_checksum = 7;
  return e;
}

}  // namespace

TEST_CASE("backup catalog entries round-trip", "[restore][catalog]") {
  const BackupEntry e = sample();
  const std::string text = encode_backup_entry(e);
  CHECK(text.find("\"system_identifier\": \"18446744073709551615\"") != std::string::npos);
  CHECK(text.find("\"checksum\": \"fedcba9876543210\"") != std::string::npos);
  CHECK(decode_backup_entry(text, "backup/20261121T041540Z/backup.json", SealRule::kRequired) == e);
  CHECK(e.raw_size() == 1050);
  CHECK(e.stored_size() == 150);
}

TEST_CASE("damaged backup catalog entries are refused with the object and field named", "[restore][catalog]") {
  const std::string object = "backup/20261121T041540Z/backup.json";
  const auto fails = [&](const std::string& text) {
    try {
      (void)decode_backup_entry(text, object, SealRule::kLegacyAccepted);
    } catch (const walvault::Error& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  CHECK(fails("{") == "backup catalog entry " + object + " is damaged: it is not a JSON object");
  const std::string sealed = encode_backup_entry(sample());
  CHECK(fails(std::string(sealed).replace(sealed.find("0/3000100"), 9, "0/3000101"))
            .starts_with("backup catalog entry " + object + " is damaged: it fails its checksum"));
  // The fields' own checks, on entries written before seals.
  nlohmann::json unsealed = nlohmann::json::parse(sealed);
  unsealed.erase("checksum");
  const std::string text = unsealed.dump(2);
  CHECK(fails(std::string(text).replace(text.find("0/3000100"), 9, "nonsense!")) ==
        "backup catalog entry " + object + " is malformed: \"stop_lsn\" is not an LSN");
  CHECK(fails(std::string(text).replace(text.find("\"label\""), 7, "\"lab_l\"")) ==
        "backup catalog entry " + object + " is malformed: no \"label\"");
  CHECK(fails(text) == "accepted");
  try {
    (void)decode_backup_entry(text, "backup/20261121T000000Z/backup.json", SealRule::kLegacyAccepted);
    FAIL("an entry under another id was accepted");
  } catch (const walvault::Error& e) {
    CHECK(std::string(e.what()).find("\"id\" does not match the object name") != std::string::npos);
  }
}
