#include "restore/backup_manifest.hpp"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

namespace walvault::restore {
namespace {

std::optional<std::string> hex_decode(const std::string& hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string out;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const auto nibble = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    const int hi = nibble(hex[i]);
    const int lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
  }
  return out;
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

}  // namespace

Expected<BackupManifest, std::string> parse_backup_manifest(std::string_view text) {
  const nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return Unexpected(std::string("backup_manifest is not valid JSON"));
  const auto version = doc.find("PostgreSQL-Backup-Manifest-Version");
  if (version == doc.end() || !version->is_number_integer()) {
    return Unexpected(std::string("backup_manifest has no PostgreSQL-Backup-Manifest-Version"));
  }
  const auto supported = "(walvault reads versions " + std::to_string(kMinManifestVersion) + " to " +
                         std::to_string(kMaxManifestVersion) + ")";
  if (!version->is_number_unsigned() || version->get<uint64_t>() < kMinManifestVersion ||
      version->get<uint64_t>() > kMaxManifestVersion) {
    return Unexpected("backup_manifest has unsupported version " + version->dump() + " " + supported);
  }
  BackupManifest manifest;
  manifest.version = version->get<int>();
  if (manifest.version >= 2) {
    const auto sysid = doc.find("System-Identifier");
    if (sysid == doc.end()) {
      return Unexpected("backup_manifest version " + std::to_string(manifest.version) + " has no System-Identifier");
    }
    if (!sysid->is_number_unsigned()) return Unexpected(std::string("backup_manifest has a malformed System-Identifier"));
    manifest.system_identifier = sysid->get<uint64_t>();
  }
  const auto files = doc.find("Files");
  if (files == doc.end() || !files->is_array()) return Unexpected(std::string("backup_manifest has no Files list"));
  for (const auto& item : *files) {
    if (!item.is_object()) return Unexpected(std::string("backup_manifest has a malformed file entry"));
    ManifestFile file;
    if (const auto path = item.find("Path"); path != item.end() && path->is_string()) {
      file.path = path->get<std::string>();
    } else if (const auto encoded = item.find("Encoded-Path"); encoded != item.end() && encoded->is_string()) {
      const auto decoded = hex_decode(encoded->get<std::string>());
      if (!decoded) return Unexpected(std::string("backup_manifest has a malformed Encoded-Path"));
      file.path = *decoded;
    } else {
      return Unexpected(std::string("backup_manifest has a file entry without a path"));
    }
    const auto size = item.find("Size");
    if (size == item.end() || !size->is_number_unsigned()) {
      return Unexpected("backup_manifest entry \"" + file.path + "\" has no valid Size");
    }
    file.size = size->get<uint64_t>();
    const auto algorithm = item.find("Checksum-Algorithm");
    if (algorithm != item.end()) {
      const std::string name = algorithm->is_string() ? algorithm->get<std::string>() : "";
      if (name == "CRC32C") {
        const auto checksum = item.find("Checksum");
        if (checksum == item.end() || !checksum->is_string() || checksum->get<std::string>().size() != 8) {
          return Unexpected("backup_manifest entry \"" + file.path + "\" has a malformed CRC32C checksum");
        }
        file.crc32c = lower(checksum->get<std::string>());
      } else if (name != "NONE") {
        return Unexpected("backup_manifest entry \"" + file.path + "\" uses unsupported checksum algorithm \"" + name +
                          "\"");
      }
    }
    manifest.files.push_back(std::move(file));
  }
  if (const auto ranges = doc.find("WAL-Ranges"); ranges != doc.end() && ranges->is_array()) {
    for (const auto& item : *ranges) {
      const auto tli = item.find("Timeline");
      const auto start = item.find("Start-LSN");
      const auto end = item.find("End-LSN");
      if (!item.is_object() || tli == item.end() || start == item.end() || end == item.end() ||
          !tli->is_number_unsigned() || !start->is_string() || !end->is_string()) {
        return Unexpected(std::string("backup_manifest has a malformed WAL range"));
      }
      const auto start_lsn = wal::Lsn::parse(start->get<std::string>());
      const auto end_lsn = wal::Lsn::parse(end->get<std::string>());
      if (!start_lsn || !end_lsn) return Unexpected(std::string("backup_manifest has a malformed WAL range"));
      manifest.wal_ranges.push_back({wal::TimelineId(tli->get<uint32_t>()), *start_lsn, *end_lsn});
    }
  }
  return manifest;
}

Expected<void, std::string> check_manifest_system(const BackupManifest& manifest,
                                                  uint64_t repository_system_identifier) {
  if (!manifest.system_identifier || *manifest.system_identifier == repository_system_identifier) return {};
  return Unexpected("backup_manifest is of database system " + std::to_string(*manifest.system_identifier) +
                    ", but the repository's is " + std::to_string(repository_system_identifier));
}

std::string crc32c_manifest_text(uint32_t crc) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 4; ++i) {
    const auto byte = static_cast<uint8_t>(crc >> (8 * i));
    out += kHex[byte >> 4];
    out += kHex[byte & 0xF];
  }
  return out;
}

std::vector<std::string> check_files(const BackupManifest& manifest,
                                     const std::map<std::string, FileDigest>& extracted) {
  std::map<std::string, std::string> problems;
  std::map<std::string, const ManifestFile*> listed;
  for (const auto& file : manifest.files) listed.emplace(file.path, &file);
  for (const auto& [path, file] : listed) {
    const auto found = extracted.find(path);
    if (found == extracted.end()) {
      problems[path] = "\"" + path + "\" is in backup_manifest but not in the backup";
    } else if (found->second.size != file->size) {
      problems[path] = "\"" + path + "\" has size " + std::to_string(found->second.size) + ", backup_manifest says " +
                       std::to_string(file->size);
    } else if (file->crc32c && crc32c_manifest_text(found->second.crc32c) != *file->crc32c) {
      problems[path] = "\"" + path + "\" has CRC32C " + crc32c_manifest_text(found->second.crc32c) +
                       ", backup_manifest says " + *file->crc32c;
    }
  }
  for (const auto& [path, digest] : extracted) {
    if (!listed.contains(path)) problems[path] = "\"" + path + "\" is in the backup but not in backup_manifest";
  }
  std::vector<std::string> out;
  out.reserve(problems.size());
  for (auto& [path, problem] : problems) out.push_back(std::move(problem));
  return out;
}

}  // namespace walvault::restore
