#include <algorithm>
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "recover/merge_plan.hpp"

using namespace walvault::recover;

namespace {

Column column(const std::string& name, const std::string& sequence = "", char identity = '\0') {
  Column c;
  c.name = name;
  c.type = name == "id" || name.ends_with("_id") ? "integer" : "text";
  c.not_null = name == "id";
  c.sequence = sequence;
  c.identity = identity;
  return c;
}

TableShape table(uint32_t oid, const std::string& name, std::vector<Column> columns, std::vector<ForeignKey> fks = {}) {
  TableShape t;
  t.oid = oid;
  t.schema = "public";
  t.name = name;
  t.columns = std::move(columns);
  t.key = {"id"};
  t.key_is_primary = true;
  t.foreign_keys = std::move(fks);
  return t;
}

ForeignKey references(const std::string& column, const std::string& parent) {
  return {"fk_" + column, "FOREIGN KEY (" + column + ") REFERENCES " + parent + "(id)", {column},
          "\"public\".\"" + parent + "\"", {"id"}};
}

TableRecovery recovery(TableShape before, std::optional<TableShape> now, Presence presence, Damage damage,
                       ConflictPolicy policy = ConflictPolicy::kSkip) {
  TableRecovery t;
  t.staging = "\"walvault_recovered_1_x\".\"public." + before.name + "\"";
  t.before = std::move(before);
  t.now = std::move(now);
  t.presence = presence;
  t.damage = damage;
  decide_columns(t, policy);
  return t;
}

size_t position(const std::string& text, const std::string& needle) {
  const size_t p = text.find(needle);
  INFO(needle);
  REQUIRE(p != std::string::npos);
  return p;
}

}  // namespace

TEST_CASE("recover: columns production lost stay staged, generated columns are never inserted", "[recover]") {
  TableShape before = table(1, "users", {column("id", "\"public\".\"users_id_seq\""), column("email"), column("note")});
  before.columns.push_back(column("shout"));
  before.columns.back().generated = true;
  TableShape now = table(2, "users", {column("id", "\"public\".\"users_id_seq\""), column("email"), column("shout")});
  const TableRecovery t = recovery(before, now, Presence::kRecreated, Damage::kDropped);
  CHECK(t.columns == std::vector<std::string>{"id", "email"});
  CHECK(t.lost_columns == std::vector<std::string>{"note"});
  CHECK(t.note.find("note") != std::string::npos);
}

TEST_CASE("recover: renumber needs one sequence-backed key column, and says so otherwise", "[recover]") {
  const TableShape with_seq = table(1, "users", {column("id", "\"public\".\"users_id_seq\""), column("email")});
  CHECK(recovery(with_seq, with_seq, Presence::kRecreated, Damage::kDropped, ConflictPolicy::kRenumber).renumber);
  // Mass deletes and updates have no reused keys to renumber: a present key there is a row changed since.
  CHECK_FALSE(recovery(with_seq, with_seq, Presence::kSame, Damage::kDeleted, ConflictPolicy::kRenumber).renumber);
  const TableShape no_seq = table(1, "users", {column("id"), column("email")});
  const TableRecovery t = recovery(no_seq, no_seq, Presence::kRecreated, Damage::kDropped, ConflictPolicy::kRenumber);
  CHECK_FALSE(t.renumber);
  CHECK(t.note.find("renumber needs a key of one column with a sequence") != std::string::npos);
  TableShape keyless = no_seq;
  keyless.key.clear();
  CHECK(recovery(keyless, keyless, Presence::kSame, Damage::kTruncated).note.find("no primary or unique key") !=
        std::string::npos);
}

TEST_CASE("recover: tables merge after the recovered tables they reference", "[recover]") {
  const auto parent = table(1, "boards", {column("id")});
  const auto child = table(2, "scores", {column("id"), column("board_id")}, {references("board_id", "boards")});
  const auto grandchild = table(3, "alpha_votes", {column("id"), column("score_id")}, {references("score_id", "scores")});
  std::vector<TableRecovery> tables;
  for (const auto& t : {grandchild, child, parent}) tables.push_back(recovery(t, t, Presence::kRecreated, Damage::kDropped));
  const auto ordered = merge_order(tables);
  REQUIRE(ordered.size() == 3);
  CHECK(ordered[0].before.name == "boards");
  CHECK(ordered[1].before.name == "scores");
  CHECK(ordered[2].before.name == "alpha_votes");
  // A cycle keeps every table, in name order.
  const auto a = table(4, "a", {column("id"), column("b_id")}, {references("b_id", "b")});
  const auto b = table(5, "b", {column("id"), column("a_id")}, {references("a_id", "a")});
  const auto cycle = merge_order({recovery(b, b, Presence::kSame, Damage::kTruncated),
                                  recovery(a, a, Presence::kSame, Damage::kTruncated)});
  REQUIRE(cycle.size() == 2);
  CHECK(cycle[0].before.name == "a");
}

TEST_CASE("recover: the merge moves sequences first, renumbers conflicts and remaps their references", "[recover]") {
  const auto boards = table(1, "boards", {column("id", "\"public\".\"boards_id_seq\""), column("name")});
  const auto scores = table(2, "scores", {column("id", "\"public\".\"scores_id_seq\""), column("board_id")},
                            {references("board_id", "boards")});
  const auto ordered = merge_order({recovery(scores, scores, Presence::kRecreated, Damage::kDropped, ConflictPolicy::kRenumber),
                                    recovery(boards, boards, Presence::kRecreated, Damage::kDropped, ConflictPolicy::kRenumber)});
  const Merge merge = merge_statements(ordered);
  const std::string sql = merge_script(merge);
  CHECK(sql.starts_with("BEGIN;\nSET LOCAL lock_timeout = '10s';\n"));
  CHECK(sql.ends_with("COMMIT;\n"));
  // The sequences move in a transaction of their own, committed before the merge begins.
  REQUIRE(merge.sequences.size() == 2);
  CHECK(merge.sequences[0].sql.starts_with("SELECT setval(pg_get_serial_sequence('\"public\".\"boards\"', 'id')"));
  const size_t setval = position(sql, "SELECT setval(pg_get_serial_sequence('\"public\".\"boards\"', 'id')");
  const size_t wait = position(sql, "COMMIT;\n-- then wait until every transaction open at that COMMIT has ended");
  const size_t begin = position(sql, "BEGIN ISOLATION LEVEL REPEATABLE READ;\nSET LOCAL lock_timeout = '10s';\n");
  CHECK(setval < wait);
  CHECK(wait < begin);
  CHECK(begin < position(sql, "CREATE TEMP TABLE"));
  const size_t map = position(sql, "CREATE TEMP TABLE \"walvault_map_1\" ON COMMIT DROP AS SELECT s.\"id\" AS old_key, "
                                   "nextval(pg_get_serial_sequence('\"public\".\"boards\"', 'id'))");
  const size_t insert_boards = position(sql, "INSERT INTO \"public\".\"boards\"");
  const size_t insert_scores = position(sql, "INSERT INTO \"public\".\"scores\"");
  CHECK(setval < map);
  CHECK(map < insert_boards);
  CHECK(insert_boards < insert_scores);
  // The score's board reference follows the board's new key.
  position(sql, "coalesce((SELECT m.new_key FROM \"walvault_map_1\" m WHERE m.old_key = s.\"board_id\"), s.\"board_id\")");
  // A restored score whose board exists nowhere is left out (it would fail the foreign key).
  position(sql, "NOT EXISTS (SELECT 1 FROM \"public\".\"boards\" r0 WHERE r0.\"id\" = coalesce(");
  // No row is skipped silently: a key the application wrote meanwhile fails the merge (it runs again).
  CHECK(sql.find("ON CONFLICT") == std::string::npos);
}

TEST_CASE("recover: a mass update is undone only where the row is still the event's version", "[recover]") {
  const auto accounts = table(7, "accounts", {column("id"), column("balance")});
  TableRecovery t = recovery(accounts, accounts, Presence::kSame, Damage::kUpdated);
  t.event_xid = 4242;
  const auto merge = merge_statements({t});
  CHECK(merge.sequences.empty());
  const auto& statements = merge.merge;
  REQUIRE(statements.size() == 1);
  CHECK(statements[0].kind == Statement::Kind::kUpdate);
  position(statements[0].sql, "UPDATE \"public\".\"accounts\" p SET (\"balance\") = ROW(s.\"balance\")");
  position(statements[0].sql, "p.xmin = '4242'::xid");
  const std::string counts = count_sql(t, {t});
  position(counts, "p.xmin <> '4242'::xid");  // changed since: left alone, counted
}

TEST_CASE("recover: an absent table is created first and gets its foreign keys last, and keyless tables use EXCEPT ALL",
          "[recover]") {
  auto users = table(3, "users", {column("id", "\"public\".\"users_id_seq\""), column("team_id")},
                     {references("team_id", "teams")});
  users.sequences.push_back({"\"public\".\"users_id_seq\"", 40, true, "AS integer INCREMENT 1"});
  users.constraints.push_back("CONSTRAINT users_pkey PRIMARY KEY (id)");
  users.indexes.push_back("CREATE INDEX users_team ON public.users USING btree (team_id)");
  auto log = table(4, "log", {column("line")});
  log.key.clear();
  const std::string sql = merge_script(merge_statements({recovery(users, std::nullopt, Presence::kAbsent, Damage::kDropped),
                                                         recovery(log, log, Presence::kSame, Damage::kTruncated)}));
  const size_t seq = position(sql, "CREATE SEQUENCE \"public\".\"users_id_seq\" AS integer INCREMENT 1");
  const size_t restart = position(sql, "SELECT setval('\"public\".\"users_id_seq\"', 40, true)");
  const size_t create = position(sql, "CREATE TABLE \"public\".\"users\" (");
  CHECK(seq < restart);
  const size_t insert = position(sql, "INSERT INTO \"public\".\"users\"");
  const size_t index = position(sql, "CREATE INDEX users_team");
  const size_t fk = position(sql, "ALTER TABLE \"public\".\"users\" ADD CONSTRAINT \"fk_team_id\" FOREIGN KEY");
  CHECK(seq < create);
  CHECK(create < insert);
  CHECK(insert < index);
  CHECK(index < fk);
  position(sql, "CONSTRAINT users_pkey PRIMARY KEY (id)");
  position(sql, "ALTER SEQUENCE \"public\".\"users_id_seq\" OWNED BY \"public\".\"users\".\"id\"");
  position(sql, "INSERT INTO \"public\".\"log\" (\"line\") SELECT \"line\" FROM \"walvault_recovered_1_x\".\"public.log\" "
                "EXCEPT ALL SELECT \"line\" FROM \"public\".\"log\"");
  // A keyless table restores the rows production lacks; after a mass update it restores none (no key to find the
  // row by), and counts them as changed, so the merge writes what the count says.
  const auto truncated = recovery(log, log, Presence::kSame, Damage::kTruncated);
  position(count_sql(truncated, {truncated}), "SELECT (SELECT count(*) FROM \"walvault_recovered_1_x\".\"public.log\"), r.n, ");
  const auto updated = recovery(log, log, Presence::kSame, Damage::kUpdated);
  position(count_sql(updated, {updated}), "SELECT (SELECT count(*) FROM \"walvault_recovered_1_x\".\"public.log\"), 0, ");
  position(count_sql(updated, {updated}), ", 0, r.n, 0, 0 FROM");
  CHECK(merge_statements({updated}).merge.empty());
}

TEST_CASE("recover: the count leaves out a row whose staged parent is itself left out, up the chain", "[recover]") {
  const auto users = table(1, "users", {column("id")});
  const auto boards = table(2, "boards", {column("id"), column("user_id")}, {references("user_id", "users")});
  const auto scores = table(3, "scores", {column("id"), column("board_id")}, {references("board_id", "boards")});
  std::vector<TableRecovery> tables;
  for (const auto& t : {users, boards, scores}) tables.push_back(recovery(t, t, Presence::kRecreated, Damage::kDropped));
  const auto ordered = merge_order(tables);
  const std::string counts = count_sql(ordered[2], ordered);  // scores
  // A score's staged board counts only if that board goes in and its own staged user goes in too.
  const size_t board = position(counts, "NOT EXISTS (SELECT 1 FROM \"walvault_recovered_1_x\".\"public.boards\" r0 "
                                        "WHERE r0.\"id\" = s.\"board_id\" AND NOT EXISTS (SELECT 1 FROM "
                                        "\"public\".\"boards\" p WHERE p.\"id\" = r0.\"id\") AND NOT ");
  CHECK(board < position(counts, "NOT EXISTS (SELECT 1 FROM \"walvault_recovered_1_x\".\"public.users\" r1 WHERE "
                                 "r1.\"id\" = r0.\"user_id\""));
  // The report names the foreign key too, and counts the rows per key in a column of its own after the seven.
  CHECK(missing_reference_keys(ordered[2]) ==
        std::vector<std::string>{"fk_board_id (board_id -> \"public\".\"boards\")"});
  CHECK(missing_reference_keys(ordered[0]).empty());  // users references nothing
  size_t filters = 0;
  for (size_t at = counts.find("count(*)"); at != std::string::npos; at = counts.find("count(*)", at + 1)) {
    filters += counts.compare(at, 17, "count(*) FILTER (") == 0 ? 1U : 0U;
  }
  CHECK(filters == 7);  // restore, present, conflicts, changed, deleted since, orphans, orphans by fk_board_id
  // What the merge writes follows from the counts: renumbered conflicts go in, rows with missing parents do not.
  CHECK(rows_to_write(ordered[2], 10, 3, 2) == 8);
  TableRecovery renumbered = recovery(scores, scores, Presence::kRecreated, Damage::kDropped, ConflictPolicy::kRenumber);
  renumbered.renumber = true;
  CHECK(rows_to_write(renumbered, 10, 3, 2) == 11);
}
