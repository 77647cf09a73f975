// What recover knows about one table on one server (the side copy before the event, or production now): its
// columns, the key rows are matched by, its foreign keys, and what it takes to create it again. Read from the
// catalogs over an ordinary connection; read-only, so it works on a paused side copy (a hot standby).
// Errors: kConnection with the server's message.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pg/connection.hpp"

namespace walvault::recover {

struct Column {
  std::string name;
  std::string type;          // format_type(): "integer", "character varying(40)"
  bool not_null = false;
  std::string default_expr;  // pg_get_expr of its default, "" for none
  char identity = '\0';      // 'a' (ALWAYS), 'd' (BY DEFAULT), '\0'
  bool generated = false;    // GENERATED ALWAYS AS (...) STORED: never inserted
  std::string sequence;      // the sequence its values come from (serial or identity), quoted, "" for none
};

struct Sequence {
  std::string name;  // quoted schema.name
  int64_t last_value = 0;
  bool is_called = false;
  std::string options;  // "AS bigint INCREMENT 1 MINVALUE 1 MAXVALUE ... START 1 CACHE 1 [NO] CYCLE"
};

struct ForeignKey {
  std::string name;
  std::string definition;  // pg_get_constraintdef: "FOREIGN KEY (board_id) REFERENCES boards(id)"
  std::vector<std::string> columns;
  std::string parent;  // quoted schema.name of the referenced table
  std::vector<std::string> parent_columns;
};

struct TableShape {
  uint32_t oid = 0;
  std::string schema;
  std::string name;
  std::vector<Column> columns;
  std::vector<std::string> key;  // the primary key's columns, else a unique non-null key's; empty: none
  bool key_is_primary = false;
  std::vector<ForeignKey> foreign_keys;
  std::vector<std::string> constraints;  // "CONSTRAINT name <def>": primary, unique, check, exclusion
  std::vector<std::string> indexes;      // CREATE INDEX statements of indexes no constraint owns
  std::vector<Sequence> sequences;       // of serial columns (identity sequences are the column's own)

  [[nodiscard]] std::string qualified() const;     // "public"."users"
  [[nodiscard]] std::string display() const;       // public.users
  [[nodiscard]] const Column* column(const std::string& name) const;
};

// The table with this oid; nullopt when there is none.
[[nodiscard]] std::optional<TableShape> read_table_shape(const pg::Connection& conn, uint32_t oid);
// The table schema.name (an ordinary or partitioned table); nullopt when there is none.
[[nodiscard]] std::optional<TableShape> find_table_shape(const pg::Connection& conn, const std::string& schema,
                                                         const std::string& name);
// The tables (ordinary, not catalogs) that own these relation files or oids: a table itself, its toast table or
// one of its indexes. Sorted by oid, each once.
[[nodiscard]] std::vector<uint32_t> tables_of_relations(const pg::Connection& conn,
                                                        const std::vector<uint32_t>& relations);

}  // namespace walvault::recover
