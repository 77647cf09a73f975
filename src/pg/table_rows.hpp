// Rows per table of a database, and the databases of a server: what drill checks and preview shows.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pg/connection.hpp"

namespace walvault::pg {

struct TableRows {
  std::string table;              // schema.table
  std::optional<uint64_t> rows;   // nullopt when count(*) failed
  std::string error;              // why, one line
};

// The databases that accept connections, templates excluded, by name. Throws kConnection.
[[nodiscard]] std::vector<std::string> connectable_databases(const Connection& conn);
// count(*) of every ordinary table outside pg_catalog, information_schema, pg_toast and temporary schemas, in
// schema and name order. A table whose count fails is listed with its error; listing the tables throws kConnection.
[[nodiscard]] std::vector<TableRows> count_table_rows(const Connection& conn);

}  // namespace walvault::pg
