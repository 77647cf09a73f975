// VerifyState: what `walvault verify` remembers between runs, so that it checks only new or changed objects.
//
// For every object it verified clean, the state keeps the object's size and a key: the xxh3 of the object's
// last bytes (containers and index runs end with a footer that holds the checksum of their whole table, so the
// key changes whenever a chunk or block checksum does), or, for a backup, of its catalog entry, its manifest
// and its streams' footers together. An object whose size or key differs, or that the state does not name, is
// verified again. Objects with problems are never recorded, so they are checked (and reported) every time.
//
// Storage: "verify/state-<NNNNNNNNNNNNNNNNNNNN>.json" (20-digit sequence number). Objects are immutable, so each
// run writes the next number and then removes the older ones; a reader takes the highest. JSON:
//   {"version": 1, "objects": {"<name>": {"size": 123, "key": "0123456789abcdef"}, ...}}
// A malformed or newer state is ignored (read_verify_state returns an empty state and the run is a full one).
// Errors: Storage errors (kIo) pass through.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "storage/storage.hpp"

namespace walvault::archive {

inline constexpr std::string_view kVerifyStatePrefix = "verify/";
inline constexpr int kVerifyStateVersion = 1;

struct VerifiedObject {
  uint64_t size = 0;
  uint64_t key = 0;
  bool operator==(const VerifiedObject&) const = default;
};

struct VerifyState {
  std::map<std::string, VerifiedObject, std::less<>> objects;
  // Whether name was verified clean with this size and key.
  [[nodiscard]] bool verified(std::string_view name, const VerifiedObject& now) const;
  bool operator==(const VerifyState&) const = default;
};

[[nodiscard]] std::string encode_verify_state(const VerifyState& state);
// nullopt for malformed text or an unknown version.
[[nodiscard]] std::optional<VerifyState> decode_verify_state(std::string_view text);

// The latest stored state (empty when there is none or it cannot be read).
[[nodiscard]] VerifyState read_verify_state(const storage::Storage& storage);
// Stores state as the next state object and removes the older ones.
void write_verify_state(storage::Storage& storage, const VerifyState& state);

}  // namespace walvault::archive
