// Relation names: snapshots of relfilenode → database.schema.table, so events can name tables that were dropped
// (the WAL only carries numbers). Stored as "names/<16-hex LSN>.json" (format/FORMAT.md, "Relation name
// snapshots"), the LSN being the server's WAL position when the snapshot was taken: a snapshot describes the
// catalog as of that LSN.
//
// take_name_snapshot() connects over regular libpq connections (the repository's conninfo with dbname replaced)
// to every database that allows connections and reads pg_class/pg_namespace through pg_relation_filenode(). It
// never throws: without catalog access it logs a warning and returns nullopt, and events keep showing oids.
// names_for() resolves an event's relations against a snapshot (empty strings are never returned: unknown
// relations are left out). Snapshots are sealed (format/sealed_object.hpp): read_name_snapshot() throws kCorrupt
// naming a damaged one, which is never used. Errors of store_name_snapshot(): Storage errors pass through.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "format/sealed_object.hpp"
#include "storage/storage.hpp"
#include "wal/expected.hpp"
#include "wal/events.hpp"
#include "wal/lsn.hpp"

namespace walvault::archive {

inline constexpr std::string_view kNamesPrefix = "names/";

struct NameSnapshot {
  wal::Lsn lsn;
  std::map<uint32_t, std::string> databases;                          // database oid → name
  std::map<std::pair<uint32_t, uint32_t>, std::string> relations;     // (database oid, relfilenode) → schema.table
  // (database oid, relfilenode) → the relation's oid; empty in snapshots stored before it was recorded.
  std::map<std::pair<uint32_t, uint32_t>, uint32_t> oids;
  bool operator==(const NameSnapshot&) const = default;
};

// "schema.table" of the relation with this oid (drop_column names tables by oid): through `oids`, else, for a
// snapshot without oids, the relation whose relfilenode is the oid (a table never rewritten).
[[nodiscard]] std::optional<std::string> relation_name_by_oid(const NameSnapshot& snapshot, uint32_t db, uint32_t oid);

[[nodiscard]] std::optional<NameSnapshot> take_name_snapshot(const std::string& conninfo);

[[nodiscard]] std::string encode_name_snapshot(const NameSnapshot& snapshot);
// The error says what is wrong ("fails its checksum (...)", "does not hold a snapshot's fields", ...).
[[nodiscard]] Expected<NameSnapshot, std::string> decode_name_snapshot(std::string_view text, format::SealRule rule);
// Writes names/<lsn>.json.
void store_name_snapshot(storage::Storage& storage, const NameSnapshot& snapshot);
// The snapshot object `name`. Throws kCorrupt ("names/<LSN>.json is damaged: it ...") when it does not decode;
// kNotFound, kIo.
[[nodiscard]] NameSnapshot read_name_snapshot(const storage::Storage& storage, const std::string& name);
// The newest stored snapshot, if any (nullopt also when it is damaged: that is logged, and the streamer's next
// snapshot is stored as a new object).
[[nodiscard]] std::optional<NameSnapshot> latest_name_snapshot(const storage::Storage& storage);

// "database.schema.table" for each relation of the event the snapshot knows (for drop_database: the database).
[[nodiscard]] std::vector<std::string> names_for(const NameSnapshot& snapshot, const wal::Event& event);

// conninfo with its dbname replaced (key=value or URI input; key=value output).
[[nodiscard]] std::string conninfo_for_database(const std::string& conninfo, const std::string& dbname);

}  // namespace walvault::archive
