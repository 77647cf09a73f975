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
//   {"version": 1, "objects": {"<name>": {"size": 123, "key": "0123456789abcdef", "checked": 1796000000}, ...},
//    "finished": "<ISO 8601>", "full": false, "damaged": ["backup/<id>/base.wvt", ...]}
// The last three are the run's result (absent in states written before they existed: read as unknown, none): when
// it finished, whether it was --full, and every object it found a problem in. `list`, `status` and restore
// planning read them: a backup with a damaged object is marked, and skipped by the planner.
// The object is sealed (format/sealed_object.hpp), so damage can never mark an object as verified. A damaged,
// malformed or newer state is ignored (read_verify_state returns an empty state and the run is a full one), and
// damaged_verify_states() names the damaged ones for verify's report. Errors: Storage errors (kIo) pass through.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "format/sealed_object.hpp"
#include "storage/storage.hpp"
#include "wal/expected.hpp"

namespace walvault::archive {

inline constexpr std::string_view kVerifyStatePrefix = "verify/";
inline constexpr int kVerifyStateVersion = 1;

struct VerifiedObject {
  uint64_t size = 0;
  uint64_t key = 0;      // also covers the store's version token (Storage::version): a rewrite changes it
  int64_t checked = 0;   // when it was last read in full (Unix seconds; 0: unknown)
  bool operator==(const VerifiedObject&) const = default;
};

// When an unchanged object is read again anyway (bit rot changes no size, time or inode): at least every `days`
// days, and on each day a share of about 1/days of the objects, chosen by name, that were read more than a day ago.
struct Recheck {
  int64_t now = 0;  // Unix seconds
  int days = 7;
};

struct VerifyState {
  std::map<std::string, VerifiedObject, std::less<>> objects;
  std::string finished;               // ISO 8601 UTC; "" when unknown
  bool full = false;
  std::vector<std::string> damaged;   // objects the run found a problem in, sorted
  // The backups (ids) with a damaged object ("backup/<id>/...").
  [[nodiscard]] std::set<std::string> damaged_backups() const;
  // Whether name was verified clean with this size and key, and is not due to be read again (recheck).
  [[nodiscard]] bool verified(std::string_view name, const VerifiedObject& now, const Recheck& recheck) const;
  // When name was last read in full (0 when the state does not name it).
  [[nodiscard]] int64_t checked(std::string_view name) const;
  bool operator==(const VerifyState&) const = default;
};

[[nodiscard]] std::string encode_verify_state(const VerifyState& state);
// The error says what is wrong (a failed seal, malformed fields, an unknown version).
[[nodiscard]] Expected<VerifyState, std::string> decode_verify_state(std::string_view text, format::SealRule rule);

// The latest stored state (empty when there is none or it cannot be read).
[[nodiscard]] VerifyState read_verify_state(const storage::Storage& storage);
// Every stored state object that does not decode: (object name, "... is damaged: it ..."). One removed meanwhile
// (by a concurrent verify) is skipped.
[[nodiscard]] std::vector<std::pair<std::string, std::string>> damaged_verify_states(const storage::Storage& storage);
// Stores state as the next state object and removes the older ones.
void write_verify_state(storage::Storage& storage, const VerifyState& state);

}  // namespace walvault::archive
