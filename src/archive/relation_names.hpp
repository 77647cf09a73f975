// Relation names: snapshots of relfilenode → database.schema.table, so events can name tables that were dropped
// (the WAL only carries numbers). Stored as "names/<16-hex LSN>.json" (format/FORMAT.md, "Relation name
// snapshots"), the LSN being the server's WAL position when the snapshot was taken: a snapshot describes the
// catalog as of that LSN.
//
// take_name_snapshot() connects over regular libpq connections (the repository's conninfo with dbname replaced)
// to every database that allows connections and reads pg_class/pg_namespace through pg_relation_filenode(). It
// never throws: without catalog access it logs a warning and returns nullopt, and events keep showing oids.
// names_for() resolves an event's relations against a snapshot (empty strings are never returned: unknown
// relations are left out). Errors of store_name_snapshot(): Storage errors pass through.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "storage/storage.hpp"
#include "wal/events.hpp"
#include "wal/lsn.hpp"

namespace walvault::archive {

struct NameSnapshot {
  wal::Lsn lsn;
  std::map<uint32_t, std::string> databases;                          // database oid → name
  std::map<std::pair<uint32_t, uint32_t>, std::string> relations;     // (database oid, relfilenode) → schema.table
  bool operator==(const NameSnapshot&) const = default;
};

[[nodiscard]] std::optional<NameSnapshot> take_name_snapshot(const std::string& conninfo);

[[nodiscard]] std::string encode_name_snapshot(const NameSnapshot& snapshot);
// nullopt for malformed text.
[[nodiscard]] std::optional<NameSnapshot> decode_name_snapshot(std::string_view text);
// Writes names/<lsn>.json.
void store_name_snapshot(storage::Storage& storage, const NameSnapshot& snapshot);
// The newest stored snapshot, if any (nullopt also when it is unreadable).
[[nodiscard]] std::optional<NameSnapshot> latest_name_snapshot(const storage::Storage& storage);

// "database.schema.table" for each relation of the event the snapshot knows (for drop_database: the database).
[[nodiscard]] std::vector<std::string> names_for(const NameSnapshot& snapshot, const wal::Event& event);

// conninfo with its dbname replaced (key=value or URI input; key=value output).
[[nodiscard]] std::string conninfo_for_database(const std::string& conninfo, const std::string& dbname);

}  // namespace walvault::archive
