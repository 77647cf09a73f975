// Text that goes to PostgreSQL: identifiers and literals in SQL, values in key=value connection strings.
// Pure string functions; the one home of PostgreSQL quoting rules in walvault.
#pragma once

#include <string>
#include <string_view>

namespace walvault::pg {

// An identifier, always double-quoted, with " doubled: users → "users", a"b → "a""b". Also for replication
// commands (slot names).
[[nodiscard]] std::string quote_identifier(std::string_view name);
// schema.name, both quoted.
[[nodiscard]] std::string quote_qualified(std::string_view schema, std::string_view name);
// A string literal with ' doubled: it's → 'it''s' (standard_conforming_strings, on since PostgreSQL 9.1).
[[nodiscard]] std::string quote_literal(std::string_view text);
// A key=value connection string value: 'text' with ' and \ escaped by \.
[[nodiscard]] std::string quote_conninfo_value(std::string_view value);

}  // namespace walvault::pg
