// Stored timeline history files (wal/NNNNNNNN.history): the one writer and the one reader of the objects.
//
// PostgreSQL's history file is stored sealed (format/sealed_object.hpp, FORMAT.md "Sealed objects"): a comment line
// "# walvault checksum <xxh3>" and then the file exactly as the server sent it. read_history_file() checks the seal
// and returns the server's bytes, which are what wal-fetch serves and what the parsers read; a damaged file is never
// returned. A repository of config version 1 may hold unsealed files (written before seals), read as they are.
//
// Errors: kCorrupt ("history file wal/NNNNNNNN.history is damaged: it ...") for a damaged file, or from
// store_history_file() when a different file of that timeline is stored already (objects are immutable);
// kNotFound, kIo from Storage.
#pragma once

#include <string>
#include <string_view>

#include "format/sealed_object.hpp"
#include "storage/storage.hpp"
#include "wal/lsn.hpp"

namespace walvault::archive {

// "wal/NNNNNNNN.history".
[[nodiscard]] std::string history_object_name(wal::TimelineId tli);

// Stores the server's history file of tli, sealed. An object holding the same content (sealed or not) is left as
// it is.
void store_history_file(storage::Storage& storage, wal::TimelineId tli, std::string_view content);

// The server's bytes of the stored history file `name` ("wal/NNNNNNNN.history"); rule: the repository's
// (repo::seal_rule). The overload without it reads the rule from walvault.json.
[[nodiscard]] std::string read_history_file(const storage::Storage& storage, const std::string& name,
                                            format::SealRule rule);
[[nodiscard]] std::string read_history_file(const storage::Storage& storage, const std::string& name);

}  // namespace walvault::archive
