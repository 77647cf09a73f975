// Copying a whole repository from one Storage to another (a local directory to a bucket and back: `walvault copy`,
// command/copy.hpp), object by object, with every byte checked.
//
// What is copied: every object of the source but the locks (locks/, which belong to the processes of one store).
// Order, so that a copy cut short never looks like a complete repository (FORMAT.md, "Repository layout"): every
// other object first, then the backup catalogs (backup/<id>/backup.json: a backup is complete when its catalog
// exists), then walvault.json (a repository exists when it does). Objects the destination already holds come
// first: they are checked before anything new is written, so a destination that is not a copy of this repository
// is refused before it changes.
// How: immutable objects through open_writer(), streamed in bounded memory (chunk bytes at a time); append files
// (tip/*, index/<TTTTTTTT>/tip-*.wvl) through open_append(), append() and one sync(), so that a streamer started on
// the destination adopts them. Checked: the source's bytes are hashed (xxh3-64) as they are read, the destination's
// are read back after the write and must hash the same. Resumable: an object the destination holds with the same
// bytes is skipped; an append file it holds a prefix of gets the rest appended.
// walvault.json is the one object not copied byte for byte: destination_config() records the destination's S3
// endpoint in it, as init does. The source must not change meanwhile (the caller holds its stream and backup locks).
//
// Errors: walvault::Error. kRepository from check_copy_destination(); kCorrupt naming the object when the
// destination holds different bytes under a source object's name, when the bytes read back differ, or when a
// source object changes size while it is copied; Storage errors (kIo) pass through.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "repo/address.hpp"
#include "storage/storage.hpp"

namespace walvault::repo {

// How copy_repository() writes an object, and when (the order of the enumerators; walvault.json comes last).
enum class CopyKind {
  kObject,   // immutable: open_writer()
  kAppend,   // an append file: tip/*, index/<TTTTTTTT>/tip-*.wvl
  kCatalog,  // backup/<id>/backup.json: after every other object of the backups
};

// The kind of the object name. Pure.
[[nodiscard]] CopyKind copy_kind(std::string_view name);

struct CopyStats {
  uint64_t objects = 0;          // objects of the source (locks excluded)
  uint64_t copied_objects = 0;   // written (entirely or, for an append file, its missing end)
  uint64_t skipped_objects = 0;  // already at the destination with the same bytes
  uint64_t copied_bytes = 0;     // bytes written to the destination
  uint64_t skipped_bytes = 0;    // bytes the destination already held
};

// The walvault.json a copy writes: the source's (source_config, its bytes), with the S3 endpoint it records
// (RepoConfig::s3) replaced by the destination's (nullopt for a directory), so that later commands on the
// destination need only its URL, as after init. The source's bytes when they record that already, and for a
// repository created before seals (version 1, never rewritten). Throws what decode_config() throws.
[[nodiscard]] storage::Bytes destination_config(const storage::Bytes& source_config,
                                                const std::optional<S3Endpoint>& destination);

// Refuses (kRepository, naming `to_url`) a destination that is neither empty (locks aside), nor a copy of `from`
// (its walvault.json is `config`, what the copy writes), nor a copy of `from` cut short (no walvault.json, and every
// object it holds is one of the source's objects by name and size; an append file's may be smaller).
void check_copy_destination(const storage::Storage& from, const storage::Storage& to, const storage::Bytes& config,
                            const std::string& to_url);

// Called as the copy goes: bytes done (copied or skipped) of bytes total, and the object being worked on.
using CopyProgress = std::function<void(uint64_t done, uint64_t total, std::string_view name)>;

inline constexpr uint64_t kCopyChunk = 8 << 20;

// Copies every object of `from` to `to` (see the top of this file), writing `config` as walvault.json (the
// source's, or destination_config()); `to_url` names the destination in errors. chunk: the bytes read and written
// at a time (the bound on the memory used per object).
CopyStats copy_repository(const storage::Storage& from, storage::Storage& to, const storage::Bytes& config,
                          const std::string& to_url, const CopyProgress& progress = {}, uint64_t chunk = kCopyChunk);

}  // namespace walvault::repo
