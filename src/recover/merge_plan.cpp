#include "recover/merge_plan.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "pg/sql_text.hpp"

namespace walvault::recover {
namespace {

using pg::quote_identifier;
using pg::quote_literal;

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : sep) + p;
  return out;
}

std::string col(const std::string& alias, const std::string& name) { return alias + "." + quote_identifier(name); }

// The table as production has it (or will have it, once created).
const TableShape& target(const TableRecovery& t) { return t.now ? *t.now : t.before; }

std::string key_match(const TableRecovery& t, const std::string& p, const std::string& s) {
  std::vector<std::string> parts;
  for (const auto& k : t.before.key) parts.push_back(col(p, k) + " = " + col(s, k));
  return join(parts, " AND ");
}

std::string same_values(const TableRecovery& t, const std::string& p, const std::string& s) {
  std::vector<std::string> ps;
  std::vector<std::string> ss;
  for (const auto& c : t.columns) {
    ps.push_back(col(p, c) + "::text");
    ss.push_back(col(s, c) + "::text");
  }
  return "ROW(" + join(ps, ", ") + ") IS NOT DISTINCT FROM ROW(" + join(ss, ", ") + ")";
}

// s: the alias of the staged row.
std::string exists_in_production(const TableRecovery& t, const std::string& extra, const std::string& s = "s") {
  return "EXISTS (SELECT 1 FROM " + target(t).qualified() + " p WHERE " + key_match(t, "p", s) +
         (extra.empty() ? "" : " AND " + extra) + ")";
}

struct Predicates {
  std::string restore = "false";
  std::string present = "false";
  std::string conflict = "false";
  std::string changed = "false";
  std::string deleted_since = "false";
  std::string update = "false";
};

std::string xid_literal(const TableRecovery& t) { return quote_literal(std::to_string(t.event_xid)) + "::xid"; }

Predicates predicates(const TableRecovery& t, const std::string& s = "s") {
  Predicates p;
  if (t.presence == Presence::kAbsent) {
    p.restore = "true";
    return p;
  }
  if (t.before.key.empty()) return p;  // keyless: EXCEPT ALL (count_sql, merge_statements)
  const std::string absent = "NOT " + exists_in_production(t, "", s);
  const std::string equal = exists_in_production(t, same_values(t, "p", s), s);
  const std::string differ = exists_in_production(t, "NOT " + same_values(t, "p", s), s);
  p.present = equal;
  switch (t.damage) {
    case Damage::kDropped:
    case Damage::kTruncated:
      p.restore = absent;
      p.conflict = differ;
      break;
    case Damage::kDeleted:
      p.restore = absent;
      p.changed = differ;
      break;
    case Damage::kUpdated:
      p.update = exists_in_production(t, "p.xmin = " + xid_literal(t) + " AND NOT " + same_values(t, "p", s), s);
      p.changed = exists_in_production(t, "p.xmin <> " + xid_literal(t) + " AND NOT " + same_values(t, "p", s), s);
      p.deleted_since = absent;
      break;
    case Damage::kAltered:
      p.changed = differ;
      p.deleted_since = absent;
      break;
  }
  return p;
}

const TableRecovery* find_recovered(const std::vector<TableRecovery>& all, const std::string& qualified) {
  for (const auto& t : all) {
    if (target(t).qualified() == qualified || t.before.qualified() == qualified) return &t;
  }
  return nullptr;
}

std::string map_table(const TableRecovery& t) {
  return quote_identifier("walvault_map_" + std::to_string(t.before.oid));
}

// The value a staged column takes in production: its new key when its table or the referenced table renumbered it.
std::string mapped(const TableRecovery& t, const std::vector<TableRecovery>& all, const std::string& column,
                   const std::string& s) {
  const TableRecovery* owner = nullptr;
  if (t.renumber && t.before.key.size() == 1 && t.before.key[0] == column) owner = &t;
  for (const auto& fk : target(t).foreign_keys) {
    if (owner != nullptr || fk.columns.size() != 1 || fk.columns[0] != column) continue;
    const TableRecovery* parent = find_recovered(all, fk.parent);
    if (parent != nullptr && parent->renumber && parent->before.key == fk.parent_columns) owner = parent;
  }
  if (owner == nullptr) return col(s, column);
  return "coalesce((SELECT m.new_key FROM " + map_table(*owner) + " m WHERE m.old_key = " + col(s, column) + "), " +
         col(s, column) + ")";
}

// Whether a staged row (alias s) goes into production: restored, or a conflict given a new key. Keyless tables
// compare whole rows (EXCEPT ALL), so any of their staged rows may go in.
std::string goes_in(const TableRecovery& t, const std::string& s) {
  if (t.presence != Presence::kAbsent && t.before.key.empty()) return "true";
  const Predicates p = predicates(t, s);
  return t.renumber ? "(" + p.restore + " OR " + p.conflict + ")" : p.restore;
}

// A restored row (alias s) whose foreign key points at no row: production's parent (restored parents are merged
// first), or, in the count before the merge, a staged row of a parent recovered together that goes in and is not
// left out itself (followed up the chain, `depth` levels so far).
std::string orphan(const TableRecovery& t, const std::vector<TableRecovery>& all, bool counting,
                   const std::string& s = "s", size_t depth = 0);

// The foreign keys of production's table whose columns are all staged: the references a restored row can miss.
std::vector<const ForeignKey*> staged_foreign_keys(const TableRecovery& t) {
  std::vector<const ForeignKey*> out;
  for (const auto& fk : target(t).foreign_keys) {
    bool staged = true;
    for (const auto& c : fk.columns) staged = staged && std::find(t.columns.begin(), t.columns.end(), c) != t.columns.end();
    if (staged) out.push_back(&fk);
  }
  return out;
}

// orphan()'s condition for one foreign key.
std::string orphan_by(const TableRecovery& t, const ForeignKey& fk, const std::vector<TableRecovery>& all,
                      bool counting, const std::string& s, size_t depth) {
  const std::string r = "r" + std::to_string(depth);
  const std::string ps = "ps" + std::to_string(depth);
  std::vector<std::string> parts;
  std::vector<std::string> not_null;
  std::vector<std::string> match;
  std::vector<std::string> staged_match;
  for (size_t i = 0; i < fk.columns.size() && i < fk.parent_columns.size(); ++i) {
    not_null.push_back(col(s, fk.columns[i]) + " IS NOT NULL");
    // Counting runs before the merge, when no renumbering map exists: the staged parent rows stand in for it.
    match.push_back(col(r, fk.parent_columns[i]) + " = " +
                    (counting ? col(s, fk.columns[i]) : mapped(t, all, fk.columns[i], s)));
    staged_match.push_back(col(r, fk.parent_columns[i]) + " = " + col(s, fk.columns[i]));
  }
  const TableRecovery* parent = find_recovered(all, fk.parent);
  std::vector<std::string> missing = not_null;
  // Before the merge a parent absent in production does not exist yet (the merge creates it first).
  if (!counting || parent == nullptr || parent->presence != Presence::kAbsent) {
    missing.push_back("NOT EXISTS (SELECT 1 FROM " + fk.parent + " " + r + " WHERE " + join(match, " AND ") + ")");
  }
  if (counting && parent != nullptr && parent != &t) {
    missing.push_back("NOT EXISTS (SELECT 1 FROM " + parent->staging + " " + r + " WHERE " +
                      join(staged_match, " AND ") + " AND " + goes_in(*parent, r) + " AND NOT " +
                      orphan(*parent, all, counting, r, depth + 1) + ")");
  }
  parts.push_back("(" + join(missing, " AND ") + ")");
  // A parent recovered together whose staged row stays staged (its key was reused since and not renumbered) is
  // not this row's parent: production's row under that key is another one.
  if (parent != nullptr && parent != &t && !parent->renumber && parent->damage != Damage::kUpdated &&
      parent->before.key == fk.parent_columns) {
    const Predicates pp = predicates(*parent, ps);
    std::vector<std::string> parent_match;
    for (size_t i = 0; i < fk.columns.size(); ++i) {
      parent_match.push_back(col(ps, fk.parent_columns[i]) + " = " + col(s, fk.columns[i]));
    }
    parts.push_back("(" + join(not_null, " AND ") + " AND EXISTS (SELECT 1 FROM " + parent->staging + " " + ps +
                    " WHERE " + join(parent_match, " AND ") + " AND (" + pp.conflict + " OR " + pp.changed + ")))");
  }
  return "(" + join(parts, " OR ") + ")";
}

std::string orphan(const TableRecovery& t, const std::vector<TableRecovery>& all, bool counting,
                   const std::string& s, size_t depth) {
  if (depth > all.size()) return "false";  // a cycle of foreign keys: stop following it
  std::vector<std::string> parts;
  for (const ForeignKey* fk : staged_foreign_keys(t)) parts.push_back(orphan_by(t, *fk, all, counting, s, depth));
  return parts.empty() ? "false" : "(" + join(parts, " OR ") + ")";
}

std::string column_list(const std::vector<std::string>& names) {
  std::vector<std::string> q;
  for (const auto& n : names) q.push_back(quote_identifier(n));
  return join(q, ", ");
}

// The sequence of a column as an expression that finds it when the statement runs (an absent table's identity
// sequence exists only once the table is created).
std::string sequence_of(const TableRecovery& t, const std::string& column) {
  return "pg_get_serial_sequence(" + quote_literal(target(t).qualified()) + ", " + quote_literal(column) + ")";
}

bool has_sequence(const TableRecovery& t, const std::string& column) {
  const Column* c = target(t).column(column);
  return c != nullptr && !c->sequence.empty();
}

std::vector<Statement> create_table(const TableRecovery& t) {
  std::vector<Statement> out;
  const TableShape& b = t.before;
  out.push_back({"-- " + b.display() + " is absent in production: create it as it was before the event",
                 "CREATE SCHEMA IF NOT EXISTS " + quote_identifier(b.schema), "", Statement::Kind::kOther});
  for (const auto& s : b.sequences) {
    bool identity = false;
    for (const auto& c : b.columns) identity = identity || (c.sequence == s.name && c.identity != '\0');
    if (identity) continue;  // created with its column
    out.push_back({"", "CREATE SEQUENCE " + s.name + " " + s.options, "", Statement::Kind::kOther});
    // Where it stood before the event (it may lie past every restored key: rows deleted earlier).
    out.push_back({"", "SELECT setval(" + quote_literal(s.name) + ", " + std::to_string(s.last_value) + ", " +
                           (s.is_called ? "true" : "false") + ")",
                   "", Statement::Kind::kOther});
  }
  std::vector<std::string> defs;
  for (const auto& c : b.columns) {
    std::string d = quote_identifier(c.name) + " " + c.type;
    if (c.identity == 'a') d += " GENERATED ALWAYS AS IDENTITY";
    if (c.identity == 'd') d += " GENERATED BY DEFAULT AS IDENTITY";
    if (c.generated) {
      d += " GENERATED ALWAYS AS (" + c.default_expr + ") STORED";
    } else if (!c.default_expr.empty() && c.identity == '\0') {
      d += " DEFAULT " + c.default_expr;
    }
    if (c.not_null) d += " NOT NULL";
    defs.push_back(d);
  }
  for (const auto& c : b.constraints) defs.push_back(c);
  out.push_back({"", "CREATE TABLE " + b.qualified() + " (\n  " + join(defs, ",\n  ") + "\n)", "",
                 Statement::Kind::kOther});
  for (const auto& c : b.columns) {
    if (!c.sequence.empty() && c.identity == '\0') {
      out.push_back({"", "ALTER SEQUENCE " + c.sequence + " OWNED BY " + b.qualified() + "." + quote_identifier(c.name),
                     "", Statement::Kind::kOther});
    }
  }
  return out;
}

}  // namespace

std::string_view damage_name(Damage d) {
  switch (d) {
    case Damage::kDropped: return "dropped";
    case Damage::kTruncated: return "truncated";
    case Damage::kDeleted: return "mass deleted";
    case Damage::kUpdated: return "mass updated";
    case Damage::kAltered: return "column dropped or retyped";
  }
  return "?";
}

std::string_view presence_name(Presence p) {
  switch (p) {
    case Presence::kSame: return "the same table";
    case Presence::kRecreated: return "recreated since";
    case Presence::kAbsent: return "absent";
  }
  return "?";
}

void decide_columns(TableRecovery& t, ConflictPolicy policy) {
  t.columns.clear();
  t.lost_columns.clear();
  for (const auto& c : t.before.columns) {
    const Column* now = t.now ? t.now->column(c.name) : &c;
    if (now == nullptr) {
      t.lost_columns.push_back(c.name);
    } else if (!c.generated && !now->generated) {
      t.columns.push_back(c.name);
    }
  }
  std::vector<std::string> notes;
  if (t.before.key.empty()) notes.push_back("no primary or unique key: rows compared whole");
  for (const auto& k : t.before.key) {
    if (std::find(t.columns.begin(), t.columns.end(), k) == t.columns.end()) {
      notes.push_back("key column " + k + " is gone from production: rows compared whole");
      t.before.key.clear();
      break;
    }
  }
  if (!t.lost_columns.empty()) {
    notes.push_back("columns no longer in production stay in staging: " + join(t.lost_columns, ", "));
  }
  const bool conflicts_possible = t.presence != Presence::kAbsent && !t.before.key.empty() &&
                                  (t.damage == Damage::kDropped || t.damage == Damage::kTruncated);
  if (policy == ConflictPolicy::kRenumber && conflicts_possible) {
    if (t.before.key.size() == 1 && has_sequence(t, t.before.key[0])) {
      t.renumber = true;
    } else {
      notes.push_back("renumber needs a key of one column with a sequence: its conflicts are skipped");
    }
  }
  t.note = join(notes, "; ");
}

std::vector<TableRecovery> merge_order(std::vector<TableRecovery> tables) {
  std::sort(tables.begin(), tables.end(),
            [](const TableRecovery& a, const TableRecovery& b) { return a.before.display() < b.before.display(); });
  std::vector<TableRecovery> out;
  std::vector<bool> placed(tables.size(), false);
  while (out.size() < tables.size()) {
    bool progress = false;
    for (size_t i = 0; i < tables.size(); ++i) {
      if (placed[i]) continue;
      bool ready = true;
      for (const auto& fk : target(tables[i]).foreign_keys) {
        for (size_t j = 0; j < tables.size(); ++j) {
          if (j != i && !placed[j] && (target(tables[j]).qualified() == fk.parent)) ready = false;
        }
      }
      if (!ready) continue;
      placed[i] = true;
      out.push_back(tables[i]);
      progress = true;
    }
    if (!progress) {  // a cycle: the rest in name order
      for (size_t i = 0; i < tables.size(); ++i) {
        if (!placed[i]) {
          placed[i] = true;
          out.push_back(tables[i]);
        }
      }
    }
  }
  return out;
}

std::string staging_table_sql(const TableRecovery& t) {
  std::vector<std::string> defs;
  for (const auto& c : t.before.columns) defs.push_back(quote_identifier(c.name) + " " + c.type);
  return "CREATE TABLE " + t.staging + " (" + join(defs, ", ") + ")";
}

std::string copy_out_sql(const TableRecovery& t) {
  std::vector<std::string> names;
  for (const auto& c : t.before.columns) names.push_back(c.name);
  return "COPY " + t.before.qualified() + " (" + column_list(names) + ") TO STDOUT";
}

std::string copy_in_sql(const TableRecovery& t) {
  std::vector<std::string> names;
  for (const auto& c : t.before.columns) names.push_back(c.name);
  return "COPY " + t.staging + " (" + column_list(names) + ") FROM STDIN";
}

std::vector<std::string> missing_reference_keys(const TableRecovery& t) {
  std::vector<std::string> out;
  if (t.presence != Presence::kAbsent && t.before.key.empty()) return out;  // counted whole (EXCEPT ALL)
  for (const ForeignKey* fk : staged_foreign_keys(t)) {
    out.push_back(fk->name + " (" + join(fk->columns, ", ") + " -> " + fk->parent + ")");
  }
  return out;
}

std::string count_sql(const TableRecovery& t, const std::vector<TableRecovery>& all) {
  if (t.presence != Presence::kAbsent && t.before.key.empty()) {
    const std::string cols = column_list(t.columns);
    const std::string missing = "SELECT " + cols + " FROM " + t.staging + " EXCEPT ALL SELECT " + cols + " FROM " +
                                target(t).qualified();
    // Rows production lacks go back after a drop, truncate or delete; after an update or a column change nothing
    // goes back by itself (there is no key to find the row by): they count as changed.
    const bool restores = t.damage != Damage::kUpdated && t.damage != Damage::kAltered;
    return "SELECT (SELECT count(*) FROM " + t.staging + "), " + (restores ? "r.n" : "0") + ", (SELECT count(*) FROM " +
           t.staging + ") - r.n, 0, " + (restores ? "0" : "r.n") + ", 0, 0 FROM (SELECT count(*) AS n FROM (" +
           missing + ") x) r";
  }
  const Predicates p = predicates(t);
  std::string by_key;
  for (const ForeignKey* fk : staged_foreign_keys(t)) {
    by_key += ", count(*) FILTER (WHERE " + goes_in(t, "s") + " AND " + orphan_by(t, *fk, all, true, "s", 0) + ")";
  }
  return "SELECT count(*), count(*) FILTER (WHERE " + p.restore + " OR " + p.update + "), count(*) FILTER (WHERE " +
         p.present + "), count(*) FILTER (WHERE " + p.conflict + "), count(*) FILTER (WHERE " + p.changed +
         "), count(*) FILTER (WHERE " + p.deleted_since + "), count(*) FILTER (WHERE " + goes_in(t, "s") + " AND " +
         orphan(t, all, true) + ")" + by_key + " FROM " + t.staging + " s";
}

Merge merge_statements(const std::vector<TableRecovery>& ordered) {
  Merge merge;
  std::vector<Statement>& out = merge.merge;
  for (const auto& t : ordered) {
    if (t.presence == Presence::kAbsent) {
      for (auto& s : create_table(t)) out.push_back(std::move(s));
    }
  }
  for (const auto& t : ordered) {
    const TableShape& dest = target(t);
    const std::string name = t.before.display();
    // Sequences first: the application's next keys then lie past every staged one. A table production has moves
    // them in the first transaction (its application may be taking keys now); an absent table's, once created.
    for (const auto& c : t.columns) {
      if (!has_sequence(t, c)) continue;
      const std::string seq = sequence_of(t, c);
      (t.presence == Presence::kAbsent ? out : merge.sequences).push_back({"-- " + name + ": move the sequence of " + c + " past every restored key",
                     "SELECT setval(" + seq + ", greatest(coalesce(pg_sequence_last_value(" + seq + "), 0), m)) FROM "
                     "(SELECT max(" + quote_identifier(c) + ") AS m FROM " + t.staging + ") x WHERE m IS NOT NULL",
                     "", Statement::Kind::kOther});
    }
    const Predicates p = predicates(t);
    if (t.damage == Damage::kUpdated && t.presence != Presence::kAbsent && !t.before.key.empty()) {
      std::vector<std::string> sets;
      std::vector<std::string> values;
      for (const auto& c : t.columns) {
        if (std::find(t.before.key.begin(), t.before.key.end(), c) != t.before.key.end()) continue;
        sets.push_back(quote_identifier(c));
        values.push_back(col("s", c));
      }
      if (sets.empty()) continue;
      out.push_back({"-- " + name + ": put back the values of the rows the event changed and nothing changed since",
                     "UPDATE " + dest.qualified() + " p SET (" + join(sets, ", ") + ") = ROW(" + join(values, ", ") +
                         ") FROM " + t.staging + " s WHERE " + key_match(t, "p", "s") + " AND p.xmin = " +
                         xid_literal(t) + " AND NOT " + same_values(t, "p", "s"),
                     name, Statement::Kind::kUpdate});
      continue;
    }
    if (t.damage == Damage::kUpdated && t.presence != Presence::kAbsent) continue;  // keyless: nothing to match by
    if (t.damage == Damage::kAltered && t.presence != Presence::kAbsent) continue;  // the old values stay staged
    if (t.renumber) {
      out.push_back({"-- " + name + ": new keys for the restored rows whose keys the application reused",
                     "CREATE TEMP TABLE " + map_table(t) + " ON COMMIT DROP AS SELECT " + col("s", t.before.key[0]) +
                         " AS old_key, nextval(" + sequence_of(t, t.before.key[0]) + ") AS new_key FROM " + t.staging +
                         " s WHERE " + p.conflict,
                     "", Statement::Kind::kOther});
    }
    bool overriding = false;
    std::vector<std::string> exprs;
    for (const auto& c : t.columns) {
      const Column* dc = dest.column(c);
      overriding = overriding || (dc != nullptr && dc->identity == 'a');
      exprs.push_back(mapped(t, ordered, c, "s"));
    }
    const std::string insert = "INSERT INTO " + dest.qualified() + " (" + column_list(t.columns) + ")" +
                               (overriding ? " OVERRIDING SYSTEM VALUE" : "");
    if (t.presence != Presence::kAbsent && t.before.key.empty()) {
      const std::string cols = column_list(t.columns);
      out.push_back({"-- " + name + ": no key, so the staged rows production lacks (as whole rows) go back",
                     insert + " SELECT " + cols + " FROM " + t.staging + " EXCEPT ALL SELECT " + cols + " FROM " +
                         dest.qualified(),
                     name, Statement::Kind::kInsert});
      continue;
    }
    const std::string missing = orphan(t, ordered, false);
    out.push_back({"-- " + name + ": restore the rows (" + std::string(damage_name(t.damage)) + ", " +
                       std::string(presence_name(t.presence)) + ")",
                   insert + " SELECT " + join(exprs, ", ") + " FROM " + t.staging + " s WHERE " + goes_in(t, "s") +
                       (missing == "false" ? "" : " AND NOT " + missing),
                   name, Statement::Kind::kInsert});
  }
  for (const auto& t : ordered) {
    if (t.presence != Presence::kAbsent) continue;
    for (const auto& index : t.before.indexes) out.push_back({"", index, "", Statement::Kind::kOther});
    for (const auto& fk : t.before.foreign_keys) {
      out.push_back({"", "ALTER TABLE " + t.before.qualified() + " ADD CONSTRAINT " + quote_identifier(fk.name) + " " +
                             fk.definition,
                     "", Statement::Kind::kOther});
    }
  }
  return merge;
}

std::string merge_script(const Merge& merge) {
  const auto statements = [](const std::vector<Statement>& list) {
    std::string out = "SET LOCAL lock_timeout = '" + std::string(kLockTimeout) + "';\n";
    for (const auto& s : list) {
      if (!s.comment.empty()) out += s.comment + "\n";
      out += s.sql + ";\n";
    }
    return out + "COMMIT;\n";
  };
  std::string out;
  if (!merge.sequences.empty()) {
    out += "BEGIN;\n" + statements(merge.sequences) +
           "-- then wait until every transaction open at that COMMIT has ended (walvault polls pg_stat_activity):\n"
           "-- one of them may have taken a key from a sequence before it moved\n";
  }
  return out + std::string(kMergeBegin) + ";\n" + statements(merge.merge);
}

uint64_t rows_to_write(const TableRecovery& t, uint64_t restore, uint64_t conflicts, uint64_t orphans) {
  const uint64_t in = restore + (t.renumber ? conflicts : 0);
  return in > orphans ? in - orphans : 0;
}

}  // namespace walvault::recover
