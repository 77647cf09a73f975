#include "restore/backup_catalog.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <limits>
#include <map>
#include <set>
#include <nlohmann/json.hpp>

#include "common/clock.hpp"
#include "common/error.hpp"
#include "repo/repository.hpp"

namespace walvault::restore {
namespace {

using nlohmann::json;

std::string hex64(uint64_t value) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(value));
  return buf;
}

// The backup id of an object name under backup/, or "" when it is not "backup/<id>/<leaf>".
std::string_view id_of(std::string_view name) {
  if (!name.starts_with(kBackupPrefix)) return {};
  name.remove_prefix(kBackupPrefix.size());
  const std::size_t slash = name.find('/');
  return slash == std::string_view::npos ? std::string_view{} : name.substr(0, slash);
}

class Decoder {
 public:
  Decoder(std::string_view object) : object_(object) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw Error(ErrorCode::kCorrupt, "backup catalog entry " + std::string(object_) + " is malformed: " + what,
                "the entry was damaged or written by an incompatible walvault");
  }
  const json& field(const json& doc, const char* key) const {
    const auto it = doc.find(key);
    if (it == doc.end()) fail(std::string("no \"") + key + "\"");
    return *it;
  }
  std::string text(const json& doc, const char* key) const {
    const json& v = field(doc, key);
    if (!v.is_string()) fail(std::string("\"") + key + "\" is not a string");
    return v.get<std::string>();
  }
  template <typename T>
  T number(const json& doc, const char* key) const {
    const json& v = field(doc, key);
    if (!v.is_number_unsigned() || v.get<uint64_t>() > std::numeric_limits<T>::max()) {
      fail(std::string("\"") + key + "\" is not a valid number");
    }
    return v.get<T>();
  }
  uint64_t decimal(const json& doc, const char* key) const { return parse(text(doc, key), key, 10); }
  uint64_t hex(const json& doc, const char* key) const { return parse(text(doc, key), key, 16); }
  wal::Lsn lsn(const json& doc, const char* key) const {
    const auto value = wal::Lsn::parse(text(doc, key));
    if (!value) fail(std::string("\"") + key + "\" is not an LSN");
    return *value;
  }

 private:
  uint64_t parse(const std::string& s, const char* key, int base) const {
    uint64_t value = 0;
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value, base);
    if (ec != std::errc() || ptr != s.data() + s.size() || s.empty()) {
      fail(std::string("\"") + key + "\" is not a valid number");
    }
    return value;
  }
  std::string_view object_;
};

}  // namespace

uint64_t BackupEntry::raw_size() const {
  uint64_t total = manifest_size;
  for (const auto& s : streams) total += s.raw_size;
  return total;
}

uint64_t BackupEntry::stored_size() const {
  uint64_t total = manifest_size;
  for (const auto& s : streams) total += s.stored_size;
  return total;
}

std::string backup_object_name(std::string_view id, std::string_view leaf) {
  return std::string(kBackupPrefix) + std::string(id) + "/" + std::string(leaf);
}

std::string encode_backup_entry(const BackupEntry& entry) {
  json streams = json::array();
  for (const auto& s : entry.streams) {
    streams.push_back(json{{"name", s.name},
                           {"object", s.object},
                           {"tablespace_oid", s.tablespace_oid},
                           {"tablespace_path", s.tablespace_path},
                           {"raw_size", s.raw_size},
                           {"stored_size", s.stored_size},
                           {"checksum", hex64(s.checksum)},
                           {"chunk_size", s.chunk_size},
                           {"chunk_count", s.chunk_count}});
  }
  const json doc = {
      {"format_version", entry.format_version},
      {"id", entry.id},
      {"label", entry.label},
      {"system_identifier", std::to_string(entry.system_identifier)},
      {"pg_version", entry.pg_version},
      {"timeline", entry.timeline.value()},
      {"start_lsn", entry.start_lsn.to_string()},
      {"stop_lsn", entry.stop_lsn.to_string()},
      {"start_time", entry.start_time},
      {"stop_time", entry.stop_time},
      {"backup_label", entry.backup_label},
      {"tablespace_map", entry.tablespace_map},
      {"streams", streams},
      {"manifest",
       {{"object", entry.manifest_object},
        {"size", entry.manifest_size},
        {"checksum", hex64(entry.manifest_checksum)}}},
  };
  return format::seal_json(nlohmann::ordered_json(doc), 2);
}

BackupEntry decode_backup_entry(std::string_view text, std::string_view object, format::SealRule rule) {
  const Decoder d(object);
  const auto opened = format::open_sealed_json(text, rule);
  if (!opened) {
    throw Error(ErrorCode::kCorrupt,
                "backup catalog entry " + std::string(object) + " is damaged: it " + opened.error(),
                "this backup cannot be trusted: restore from another backup, and take a new one");
  }
  const json& doc = opened->value;
  BackupEntry e;
  e.format_version = d.number<int>(doc, "format_version");
  if (e.format_version != kBackupCatalogVersion) {
    throw Error(ErrorCode::kRepository,
                "backup catalog entry " + std::string(object) + " has format version " +
                    std::to_string(e.format_version) + ", this walvault reads version " +
                    std::to_string(kBackupCatalogVersion),
                "use the walvault version that wrote this repository");
  }
  e.id = d.text(doc, "id");
  e.label = d.text(doc, "label");
  e.system_identifier = d.decimal(doc, "system_identifier");
  e.pg_version = d.number<int>(doc, "pg_version");
  e.timeline = wal::TimelineId(d.number<uint32_t>(doc, "timeline"));
  e.start_lsn = d.lsn(doc, "start_lsn");
  e.stop_lsn = d.lsn(doc, "stop_lsn");
  e.start_time = d.text(doc, "start_time");
  e.stop_time = d.text(doc, "stop_time");
  e.backup_label = d.text(doc, "backup_label");
  e.tablespace_map = d.text(doc, "tablespace_map");
  const json& streams = d.field(doc, "streams");
  if (!streams.is_array()) d.fail("\"streams\" is not a list");
  for (const json& item : streams) {
    if (!item.is_object()) d.fail("a stream is not an object");
    BackupStream s;
    s.name = d.text(item, "name");
    s.object = d.text(item, "object");
    s.tablespace_oid = d.number<uint32_t>(item, "tablespace_oid");
    s.tablespace_path = d.text(item, "tablespace_path");
    s.raw_size = d.number<uint64_t>(item, "raw_size");
    s.stored_size = d.number<uint64_t>(item, "stored_size");
    s.checksum = d.hex(item, "checksum");
    s.chunk_size = d.number<uint32_t>(item, "chunk_size");
    s.chunk_count = d.number<uint32_t>(item, "chunk_count");
    e.streams.push_back(std::move(s));
  }
  const json& manifest = d.field(doc, "manifest");
  if (!manifest.is_object()) d.fail("\"manifest\" is not an object");
  e.manifest_object = d.text(manifest, "object");
  e.manifest_size = d.number<uint64_t>(manifest, "size");
  e.manifest_checksum = d.hex(manifest, "checksum");
  if (e.id != id_of(object)) d.fail("\"id\" does not match the object name");
  return e;
}

BackupCatalog read_backup_catalog(const storage::Storage& storage) {
  BackupCatalog out;
  const format::SealRule rule = repo::seal_rule(storage);
  for (const auto& info : storage.list(kBackupPrefix)) {
    const std::string_view id = id_of(info.name);
    if (id.empty() || info.name != backup_object_name(id, kCatalogObjectName)) continue;
    const auto bytes = storage.read(info.name);
    try {
      out.backups.push_back(decode_backup_entry(
          std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), info.name, rule));
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kCorrupt) throw;
      out.damaged.push_back(e);
    }
  }
  std::sort(out.backups.begin(), out.backups.end(),
            [](const BackupEntry& a, const BackupEntry& b) { return a.id < b.id; });
  return out;
}

std::vector<BackupEntry> read_backups(const storage::Storage& storage) {
  BackupCatalog catalog = read_backup_catalog(storage);
  if (!catalog.damaged.empty()) throw catalog.damaged.front();
  return std::move(catalog.backups);
}

std::optional<double> newest_backup_age_seconds(const std::vector<BackupEntry>& backups,
                                                std::chrono::system_clock::time_point now) {
  std::optional<double> newest;
  for (const auto& b : backups) {
    if (const auto stop = parse_time(b.stop_time)) {
      const double age = std::chrono::duration<double>(now - *stop).count();
      if (!newest || age < *newest) newest = age;
    }
  }
  return newest;
}

std::vector<wal::Lsn> backup_starts(const std::vector<BackupEntry>& backups) {
  std::vector<wal::Lsn> starts;
  for (const auto& b : backups) starts.push_back(b.start_lsn);
  return starts;
}

void remove_backup(storage::Storage& storage, const std::string& id) {
  storage.remove(backup_object_name(id, kCatalogObjectName));
  for (const auto& object : storage.list(backup_object_name(id, ""))) storage.remove(object.name);
}

std::map<std::string, std::vector<storage::ObjectInfo>> uncatalogued_backup_objects(
    const std::vector<storage::ObjectInfo>& listing) {
  std::map<std::string, std::vector<storage::ObjectInfo>> by_id;
  std::set<std::string, std::less<>> catalogued;
  for (const auto& object : listing) {
    const auto slash = object.name.find('/', kBackupPrefix.size());
    if (!object.name.starts_with(kBackupPrefix) || slash == std::string::npos) continue;
    std::string id = object.name.substr(kBackupPrefix.size(), slash - kBackupPrefix.size());
    if (std::string_view(object.name).substr(slash + 1) == kCatalogObjectName) catalogued.insert(id);
    by_id[std::move(id)].push_back(object);
  }
  std::erase_if(by_id, [&](const auto& entry) { return catalogued.contains(entry.first); });
  return by_id;
}

std::vector<storage::ObjectInfo> remove_interrupted_backups(storage::Storage& storage, bool dry_run) {
  std::vector<storage::ObjectInfo> removed;
  for (const auto& [id, objects] : uncatalogued_backup_objects(storage.list(kBackupPrefix))) {
    for (const auto& object : objects) {
      if (!dry_run) storage.remove(object.name);
      removed.push_back(object);
    }
  }
  // Whatever their age, also written in this very second: the lock proves that no writer is alive.
  const auto pending = storage.sweep_temporaries(kBackupPrefix, std::chrono::system_clock::time_point::max(), dry_run);
  removed.insert(removed.end(), pending.begin(), pending.end());
  return removed;
}

}  // namespace walvault::restore
