#include "repo/copy.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <vector>

#include "common/error.hpp"
#include "format/checksum.hpp"
#include "repo/encryption.hpp"
#include "repo/repository.hpp"

namespace walvault::repo {
namespace {

using storage::Bytes;
using storage::Storage;

constexpr std::string_view kLocksPrefix = "locks/";

std::vector<storage::ObjectInfo> objects_of(const Storage& storage) {
  auto objects = storage.list("");
  std::erase_if(objects, [](const storage::ObjectInfo& o) { return o.name.starts_with(kLocksPrefix); });
  return objects;
}

Error different_content(const std::string& to_url, const std::string& name, const std::string& why) {
  return Error(ErrorCode::kCorrupt, to_url + ": " + name + " " + why,
               "the destination holds other bytes under this repository's object name: another repository's or "
               "damaged ones; copy into an empty directory or bucket prefix");
}

Error read_back_differs(const std::string& to_url, const std::string& name) {
  return Error(ErrorCode::kCorrupt, to_url + ": " + name + " reads back with other bytes than were copied",
               "the destination store changed or lost bytes; check it, then run 'walvault copy' again");
}

// Reads [begin, end) of name in chunks, each passed to each_chunk. Throws kCorrupt when the object ends first.
void read_chunks(const Storage& storage, const std::string& name, uint64_t begin, uint64_t end, uint64_t chunk,
                 const std::string& where, const std::function<void(std::span<const std::byte>)>& each_chunk) {
  for (uint64_t offset = begin; offset < end;) {
    const Bytes bytes = storage.read_range(name, offset, std::min(chunk, end - offset));
    if (bytes.empty()) {
      throw Error(ErrorCode::kCorrupt,
                  where + ": " + name + " ended at " + std::to_string(offset) + " of " + std::to_string(end) +
                      " bytes while it was copied",
                  "nothing may write to the repository while it is copied; run 'walvault copy' again");
    }
    each_chunk(bytes);
    offset += bytes.size();
  }
}

uint64_t hash_of(const Storage& storage, const std::string& name, uint64_t length, uint64_t chunk,
                 const std::string& where) {
  format::Hasher hasher;
  read_chunks(storage, name, 0, length, chunk, where, [&](std::span<const std::byte> bytes) { hasher.update(bytes); });
  return hasher.digest();
}

class Copier {
 public:
  Copier(const Storage& from, Storage& to, const std::string& to_url, const CopyProgress& progress, uint64_t chunk,
         uint64_t total)
      : from_(from), to_(to), to_url_(to_url), progress_(progress), chunk_(chunk), total_(total) {}

  // Copies (or skips) one object; at_destination: its size there, when it exists.
  void copy(const storage::ObjectInfo& object, std::optional<uint64_t> at_destination, CopyStats& stats) {
    const std::string& name = object.name;
    report(name);
    const bool append = copy_kind(name) == CopyKind::kAppend;
    const uint64_t held = at_destination.value_or(0);
    if (held > object.size || (!append && at_destination && held != object.size)) {
      throw different_content(to_url_, name,
                              "exists with another size (" + std::to_string(held) + " bytes, the source's has " +
                                  std::to_string(object.size) + ")");
    }
    // What the destination holds must be the source's bytes (for an append file: their beginning).
    format::Hasher source;
    read_chunks(from_, name, 0, held, chunk_, "the source",
                [&](std::span<const std::byte> bytes) { source.update(bytes); });
    if (held > 0 && hash_of(to_, name, held, chunk_, to_url_) != source.digest()) {
      throw different_content(to_url_, name, append ? "begins with other bytes" : "exists with different content");
    }
    done_ += held;
    stats.skipped_bytes += held;
    if (at_destination && held == object.size) {
      ++stats.skipped_objects;
      report(name);
      return;
    }

    const auto write_rest = [&](const std::function<void(std::span<const std::byte>)>& write) {
      read_chunks(from_, name, held, object.size, chunk_, "the source", [&](std::span<const std::byte> bytes) {
        source.update(bytes);
        write(bytes);
        done_ += bytes.size();
        stats.copied_bytes += bytes.size();
        report(name);
      });
    };
    if (append) {
      const auto file = to_.open_append(name);
      if (file->size() != held) {
        throw different_content(to_url_, name, "changed size while it was copied");
      }
      write_rest([&](std::span<const std::byte> bytes) { file->append(bytes); });
      file->sync();
    } else {
      const auto writer = to_.open_writer(name);
      write_rest([&](std::span<const std::byte> bytes) { writer->write(bytes); });
      writer->commit();
    }
    // The bytes the destination stores now, read back.
    if (hash_of(to_, name, object.size, chunk_, to_url_) != source.digest() || to_.info(name) != object.size) {
      throw read_back_differs(to_url_, name);
    }
    ++stats.copied_objects;
  }

  // walvault.json, written whole (it is small); at_destination: whether it exists there.
  void copy_config(const Bytes& config, bool at_destination, CopyStats& stats) {
    const std::string name(kConfigObject);
    report(name);
    if (at_destination) {
      if (to_.read(name) != config) throw different_content(to_url_, name, "exists with different content");
      ++stats.skipped_objects;
      stats.skipped_bytes += config.size();
    } else {
      to_.write_atomic(name, config);
      if (to_.read(name) != config) {
        throw read_back_differs(to_url_, name);
      }
      ++stats.copied_objects;
      stats.copied_bytes += config.size();
    }
    done_ += config.size();
    report(name);
  }

 private:
  void report(std::string_view name) const {
    if (progress_) progress_(done_, total_, name);
  }

  const Storage& from_;
  Storage& to_;
  const std::string& to_url_;
  const CopyProgress& progress_;
  uint64_t chunk_;
  uint64_t total_;
  uint64_t done_ = 0;
};

}  // namespace

CopyKind copy_kind(std::string_view name) {
  if (is_append_object(name)) return CopyKind::kAppend;
  if (name.starts_with("backup/") && name.ends_with("/backup.json") && std::count(name.begin(), name.end(), '/') == 2) {
    return CopyKind::kCatalog;
  }
  return CopyKind::kObject;
}

Bytes destination_config(const Bytes& source_config, const std::optional<S3Endpoint>& destination) {
  RepoConfig config =
      decode_config(std::string_view(reinterpret_cast<const char*>(source_config.data()), source_config.size()));
  if (config.version == kUnsealedConfigVersion || config.s3 == destination) return source_config;
  config.s3 = destination;
  const std::string text = encode_config(config);
  const auto bytes = std::as_bytes(std::span(text.data(), text.size()));
  return Bytes(bytes.begin(), bytes.end());
}

void check_copy_destination(const Storage& from, const Storage& to, const Bytes& config, const std::string& to_url) {
  if (to.info(kConfigObject)) {
    if (to.read(kConfigObject) == config) return;
    throw Error(ErrorCode::kRepository, to_url + " holds another walvault repository (a different walvault.json)",
                "copy into an empty directory or bucket prefix, or into a copy of this repository to complete it");
  }
  std::map<std::string, uint64_t, std::less<>> source;
  for (auto& o : objects_of(from)) source.emplace(std::move(o.name), o.size);
  for (const auto& o : objects_of(to)) {
    const auto it = source.find(o.name);
    const bool fits =
        it != source.end() && (copy_kind(o.name) == CopyKind::kAppend ? o.size <= it->second : o.size == it->second);
    if (fits) continue;
    throw Error(ErrorCode::kRepository,
                to_url + " holds objects that are not this repository's (" + o.name + ", " + std::to_string(o.size) +
                    " bytes) and is not a walvault repository",
                "copy into an empty directory or bucket prefix (a copy cut short is resumed into the same one)");
  }
}

CopyStats copy_repository(const Storage& from, Storage& to, const Bytes& config, const std::string& to_url,
                          const CopyProgress& progress, uint64_t chunk) {
  auto objects = objects_of(from);
  std::erase_if(objects, [](const storage::ObjectInfo& o) { return o.name == kConfigObject; });
  std::map<std::string, uint64_t, std::less<>> held;
  for (auto& o : objects_of(to)) held.emplace(std::move(o.name), o.size);
  // What the destination holds first (checked before anything new is written), then by kind: other objects, then
  // catalogs; walvault.json last of all.
  std::stable_sort(objects.begin(), objects.end(), [&](const storage::ObjectInfo& a, const storage::ObjectInfo& b) {
    const auto rank = [&](const storage::ObjectInfo& o) {
      const CopyKind kind = copy_kind(o.name);
      return std::pair(held.contains(o.name) ? 0 : 1, kind == CopyKind::kAppend ? CopyKind::kObject : kind);
    };
    return rank(a) < rank(b);
  });

  CopyStats stats;
  stats.objects = objects.size() + 1;
  uint64_t total = config.size();
  for (const auto& o : objects) total += o.size;
  Copier copier(from, to, to_url, progress, chunk, total);
  for (const auto& o : objects) {
    const auto it = held.find(o.name);
    copier.copy(o, it == held.end() ? std::nullopt : std::optional<uint64_t>(it->second), stats);
  }
  copier.copy_config(config, held.contains(kConfigObject), stats);
  return stats;
}

}  // namespace walvault::repo
