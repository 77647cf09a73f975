#include "pg/sql_text.hpp"

namespace walvault::pg {
namespace {

std::string quoted(std::string_view text, char quote, char escape) {
  std::string out(1, quote);
  for (const char c : text) {
    if (c == quote || c == escape) out += escape;
    out += c;
  }
  out += quote;
  return out;
}

}  // namespace

std::string quote_identifier(std::string_view name) { return quoted(name, '"', '"'); }

std::string quote_qualified(std::string_view schema, std::string_view name) {
  return quote_identifier(schema) + "." + quote_identifier(name);
}

std::string quote_literal(std::string_view text) { return quoted(text, '\'', '\''); }

std::string quote_conninfo_value(std::string_view value) { return quoted(value, '\'', '\\'); }

}  // namespace walvault::pg
