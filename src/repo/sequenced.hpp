// Sequenced objects: the repository's way to keep a small record that changes (verify's state, the connection
// settings, the last drill) with immutable objects only. Each new version is written once under
// "<prefix><20-digit sequence><suffix>", one past the highest there; readers take the highest. Names of another
// shape under the prefix are not versions and are ignored. Errors: Storage errors (kIo).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "storage/storage.hpp"

namespace walvault::repo {

struct SequencedObject {
  uint64_t sequence = 0;
  std::string name;
};

// The versions under prefix, lowest sequence first.
[[nodiscard]] std::vector<SequencedObject> sequenced_objects(const storage::Storage& storage, std::string_view prefix,
                                                             std::string_view suffix);
// The name of the version after the highest there (sequence 1 when there is none).
[[nodiscard]] std::string next_sequenced_name(const storage::Storage& storage, std::string_view prefix,
                                              std::string_view suffix);

}  // namespace walvault::repo
