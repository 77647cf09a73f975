// Test support for the encryption tests (integration and s3): keys written as a user would, and the search for
// plaintext in repository objects read straight from the disk or the bucket.
#pragma once

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "process.hpp"

namespace walvault::test {

// A raw key: 32 random bytes, the first one non-printable (so it is never read as a passphrase), mode 0600, owned
// by the postgres OS user (walvault and PostgreSQL's restore_command run as that user). Returns the bytes.
inline std::string write_key(const std::string& path) {
  std::random_device random;
  std::string key(32, '\0');
  for (auto& c : key) c = static_cast<char>(random() & 0xFF);
  key[0] = '\x01';
  std::ofstream(path, std::ios::binary) << key;
  std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
                               std::filesystem::perm_options::replace);
  give_to_postgres(path);
  return key;
}

inline std::string hex_of(const std::string& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (const char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

// The bytes of hex digits (as PostgreSQL's encode(..., 'hex') prints them).
inline std::string unhex(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  return out;
}

// A WAL page header of PostgreSQL 15 on timeline 1: xlp_magic 0xD110, xlp_info with no bit beyond XLP_ALL_FLAGS
// (0x000F), xlp_tli 1, all little-endian (/work/shared/reference/postgres-wal.md). Eight fixed bytes but for four
// bits: random (encrypted) bytes match by chance once in about 2^60 positions.
inline bool has_wal_page_header(const std::string& bytes) {
  static const std::string kTli("\x01\x00\x00\x00", 4);
  for (auto at = bytes.find("\x10\xD1"); at != std::string::npos; at = bytes.find("\x10\xD1", at + 1)) {
    if (at + 8 > bytes.size()) break;
    const auto info_low = static_cast<unsigned char>(bytes[at + 2]);
    if (info_low <= 0x0F && bytes[at + 3] == '\0' && bytes.compare(at + 4, 4, kTli) == 0) return true;
  }
  return false;
}

// A byte string to search for, and what to call it in a report (some needles are binary).
struct Needle {
  std::string label;
  std::string bytes;
};

// What bytes give away: "wal page header", and the label of every needle they contain.
inline std::vector<std::string> plaintext_in(const std::string& bytes, const std::vector<Needle>& needles) {
  std::vector<std::string> found;
  if (has_wal_page_header(bytes)) found.emplace_back("wal page header");
  for (const auto& needle : needles) {
    if (bytes.find(needle.bytes) != std::string::npos) found.push_back(needle.label);
  }
  return found;
}

// Whether an object (its name relative to the repository) stays plaintext by design: walvault.json, the keyrings
// under keys/ and the locks under locks/.
inline bool plaintext_by_design(const std::string& name) {
  return name == "walvault.json" || name.starts_with("keys/") || name.starts_with("locks/");
}

}  // namespace walvault::test
