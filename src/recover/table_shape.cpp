#include "recover/table_shape.hpp"

#include <algorithm>
#include <sstream>

#include "pg/sql_text.hpp"

namespace walvault::recover {
namespace {

std::vector<int> attnums(const std::string& text) {  // int2vector "1 3" or int2[] "{1,3}"
  std::vector<int> out;
  std::string cleaned = text;
  for (char& c : cleaned) {
    if (c == '{' || c == '}' || c == ',') c = ' ';
  }
  std::istringstream in(cleaned);
  int v = 0;
  while (in >> v) out.push_back(v);
  return out;
}

std::string oid_text(uint32_t oid) { return std::to_string(oid); }

}  // namespace

std::string TableShape::qualified() const { return pg::quote_qualified(schema, name); }
std::string TableShape::display() const { return schema + "." + name; }

const Column* TableShape::column(const std::string& wanted) const {
  for (const auto& c : columns) {
    if (c.name == wanted) return &c;
  }
  return nullptr;
}

std::optional<TableShape> read_table_shape(const pg::Connection& conn, uint32_t oid) {
  const std::string o = oid_text(oid);
  const pg::Result rel = conn.exec(
      "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
      "WHERE c.oid = " + o + " AND c.relkind IN ('r', 'p')");
  if (rel.rows() == 0) return std::nullopt;
  TableShape t;
  t.oid = oid;
  t.schema = rel.value(0, 0);
  t.name = rel.value(0, 1);

  std::vector<std::pair<int, std::string>> by_attnum;
  const pg::Result cols = conn.exec(
      "SELECT a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, "
      "coalesce(pg_get_expr(d.adbin, d.adrelid), ''), a.attidentity, a.attgenerated, "
      "coalesce(pg_get_serial_sequence(" + pg::quote_literal(t.qualified()) + ", a.attname), '') "
      "FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
      "WHERE a.attrelid = " + o + " AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum");
  for (int i = 0; i < cols.rows(); ++i) {
    Column c;
    c.name = cols.value(i, 1);
    c.type = cols.value(i, 2);
    c.not_null = cols.value(i, 3) == "t";
    c.default_expr = cols.value(i, 4);
    c.identity = cols.value(i, 5).empty() ? '\0' : cols.value(i, 5)[0];
    c.generated = !cols.value(i, 6).empty();
    c.sequence = cols.value(i, 7);
    by_attnum.emplace_back(static_cast<int>(cols.integer(i, 0)), c.name);
    t.columns.push_back(std::move(c));
  }
  const auto name_of = [&](int attnum) -> std::string {
    for (const auto& [n, name] : by_attnum) {
      if (n == attnum) return name;
    }
    return {};
  };

  // The key: the primary key, else the first unique index on plain, NOT NULL columns.
  const pg::Result keys = conn.exec(
      "SELECT i.indisprimary, i.indkey::text FROM pg_index i WHERE i.indrelid = " + o +
      " AND i.indisunique AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL "
      "ORDER BY i.indisprimary DESC, i.indexrelid");
  for (int i = 0; i < keys.rows() && t.key.empty(); ++i) {
    std::vector<std::string> names;
    bool usable = true;
    for (const int n : attnums(keys.value(i, 1))) {
      const std::string name = name_of(n);
      const Column* c = name.empty() ? nullptr : t.column(name);
      if (c == nullptr || !c->not_null) usable = false;
      names.push_back(name);
    }
    if (usable && !names.empty()) {
      t.key = std::move(names);
      t.key_is_primary = keys.value(i, 0) == "t";
    }
  }

  const pg::Result fks = conn.exec(
      "SELECT c.conname, pg_get_constraintdef(c.oid), c.conkey::text, c.confkey::text, "
      "pn.nspname, p.relname, c.confrelid "
      "FROM pg_constraint c JOIN pg_class p ON p.oid = c.confrelid JOIN pg_namespace pn ON pn.oid = p.relnamespace "
      "WHERE c.conrelid = " + o + " AND c.contype = 'f' ORDER BY c.conname");
  for (int i = 0; i < fks.rows(); ++i) {
    ForeignKey fk;
    fk.name = fks.value(i, 0);
    fk.definition = fks.value(i, 1);
    for (const int n : attnums(fks.value(i, 2))) fk.columns.push_back(name_of(n));
    fk.parent = pg::quote_qualified(fks.value(i, 4), fks.value(i, 5));
    const pg::Result parent_cols = conn.exec(
        "SELECT a.attname FROM unnest('" + fks.value(i, 3) + "'::int2[]) WITH ORDINALITY k(n, o) "
        "JOIN pg_attribute a ON a.attrelid = " + fks.value(i, 6) + " AND a.attnum = k.n ORDER BY k.o");
    for (int j = 0; j < parent_cols.rows(); ++j) fk.parent_columns.push_back(parent_cols.value(j, 0));
    t.foreign_keys.push_back(std::move(fk));
  }

  const pg::Result cons = conn.exec(
      "SELECT 'CONSTRAINT ' || quote_ident(conname) || ' ' || pg_get_constraintdef(oid) FROM pg_constraint "
      "WHERE conrelid = " + o + " AND contype IN ('p', 'u', 'c', 'x') ORDER BY contype = 'p' DESC, conname");
  for (int i = 0; i < cons.rows(); ++i) t.constraints.push_back(cons.value(i, 0));
  const pg::Result idx = conn.exec(
      "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i WHERE i.indrelid = " + o +
      " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid) "
      "ORDER BY i.indexrelid");
  for (int i = 0; i < idx.rows(); ++i) t.indexes.push_back(idx.value(i, 0));

  for (const auto& c : t.columns) {
    if (c.sequence.empty()) continue;
    const pg::Result seq = conn.exec(
        "SELECT s.last_value, s.is_called, 'AS ' || format_type(q.seqtypid, NULL) || ' INCREMENT ' || q.seqincrement "
        "|| ' MINVALUE ' || q.seqmin || ' MAXVALUE ' || q.seqmax || ' START ' || q.seqstart || ' CACHE ' || "
        "q.seqcache || CASE WHEN q.seqcycle THEN ' CYCLE' ELSE ' NO CYCLE' END "
        "FROM " + c.sequence + " s, pg_sequence q WHERE q.seqrelid = " + pg::quote_literal(c.sequence) + "::regclass");
    if (seq.rows() != 1) continue;
    Sequence s;
    s.name = c.sequence;
    s.last_value = seq.integer(0, 0);
    s.is_called = seq.value(0, 1) == "t";
    s.options = seq.value(0, 2);
    t.sequences.push_back(std::move(s));
  }
  return t;
}

std::optional<TableShape> find_table_shape(const pg::Connection& conn, const std::string& schema,
                                           const std::string& name) {
  const pg::Result r = conn.exec(
      "SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = " +
      pg::quote_literal(schema) + " AND c.relname = " + pg::quote_literal(name) + " AND c.relkind IN ('r', 'p')");
  if (r.rows() == 0) return std::nullopt;
  return read_table_shape(conn, static_cast<uint32_t>(r.integer(0, 0)));
}

std::vector<uint32_t> tables_of_relations(const pg::Connection& conn, const std::vector<uint32_t>& relations) {
  if (relations.empty()) return {};
  std::string list;
  for (const uint32_t r : relations) list += (list.empty() ? "" : ",") + std::to_string(r);
  const pg::Result r = conn.exec(
      "SELECT DISTINCT t.oid FROM pg_class c "
      "LEFT JOIN pg_index i ON i.indexrelid = c.oid "
      "LEFT JOIN pg_class owner ON owner.reltoastrelid = c.oid "
      "JOIN pg_class t ON t.oid = coalesce(i.indrelid, owner.oid, c.oid) "
      "JOIN pg_namespace n ON n.oid = t.relnamespace "
      "WHERE (pg_relation_filenode(c.oid) IN (" + list + ") OR c.oid IN (" + list + ")) "
      "AND t.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
      "AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1");
  std::vector<uint32_t> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(static_cast<uint32_t>(r.integer(i, 0)));
  return out;
}

}  // namespace walvault::recover
