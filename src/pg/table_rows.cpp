#include "pg/table_rows.hpp"

#include "common/error.hpp"
#include "pg/sql_text.hpp"

namespace walvault::pg {

std::vector<std::string> connectable_databases(const Connection& conn) {
  const Result rows =
      conn.exec("SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname");
  std::vector<std::string> out;
  for (int i = 0; i < rows.rows(); ++i) out.push_back(rows.value(i, 0));
  return out;
}

std::vector<TableRows> count_table_rows(const Connection& conn) {
  const Result tables = conn.exec(
      "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
      "WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
      "AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%' ORDER BY 1, 2");
  std::vector<TableRows> out;
  for (int i = 0; i < tables.rows(); ++i) {
    TableRows t{tables.value(i, 0) + "." + tables.value(i, 1), std::nullopt, {}};
    try {
      const Result count = conn.exec("SELECT count(*) FROM " + quote_qualified(tables.value(i, 0), tables.value(i, 1)));
      t.rows = std::stoull(count.value(0, 0));
    } catch (const Error& e) {
      t.error = e.what();
    }
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace walvault::pg
