// `walvault recover` and `walvault preview` end to end, as in the incidents behind walvault (issue 22): a streamed
// cluster with a backup, a wipe while the application keeps writing, then recover's dry run and --apply against the
// live server, checked row by row (by the application's own values, not by ids, which recovery may renumber).
// Every recover and preview boots a side copy (~5-10 s), so the scenarios share them sparingly. Their scratch
// space is a TMPDIR of the test's own, checked empty after each run: a side copy never outlives its command.
#include <libpq-fe.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "archive_fixture.hpp"
#include "pg_cluster.hpp"
#include "process.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using walvault::test::ArchivedCluster;
using walvault::test::PgCluster;
using walvault::test::ProcessResult;

using Rows = std::vector<std::string>;

Rows sorted(Rows rows) {
  std::sort(rows.begin(), rows.end());
  return rows;
}

// A streamed cluster with a private scratch directory (TMPDIR) for the side copies.
struct Scene {
  ArchivedCluster ac;
  std::string scratch;

  Scene() : scratch(ac.pg().work_dir() + "/scratch") {
    fs::create_directories(scratch);
    walvault::test::give_to_postgres(scratch);
  }
  PgCluster& pg() { return ac.pg(); }

  void start() {
    ac.start_streamer();
    // The streamer's first relation-name snapshot, so events name their databases and tables.
    REQUIRE(walvault::test::wait_until(
        [&] { return fs::exists(ac.repo() + "/names") && !fs::is_empty(ac.repo() + "/names"); },
        std::chrono::seconds(30)));
  }

  ProcessResult walvault(std::vector<std::string> args) const {
    args.insert(args.begin() + 1, {"--repo", ac.repo()});
    return ac.walvault(args, {"TMPDIR=" + scratch});
  }

  [[nodiscard]] bool scratch_empty() const { return fs::is_empty(scratch); }

  // The ids of the events of `kind` in database db, oldest first.
  std::vector<std::string> events(const std::string& db, const std::string& kind) {
    const auto listed = ac.events_json();
    INFO(listed.err);
    REQUIRE(listed.exit_code == 0);
    std::vector<std::string> ids;
    for (const auto& e : json::parse(listed.out)) {
      if (e["database"] == db && e["kind"] == kind) ids.push_back(e["id"].get<std::string>());
    }
    return ids;
  }

  // `walvault recover --json`; the report, or a failed REQUIRE naming what recover printed.
  json recover(const std::string& event, const std::string& db, std::vector<std::string> extra) {
    std::vector<std::string> args = {"recover", "--before-event", event, "--into", pg().conninfo(db), "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    const auto r = walvault(args);
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(scratch_empty());
    return json::parse(r.out);
  }
};

// The report's entry of one table ("public.users").
const json& table_of(const json& report, const std::string& name) {
  for (const auto& t : report["tables"]) {
    if (t["table"] == name) return t;
  }
  FAIL("no table " << name << " in " << report.dump(2));
  throw std::logic_error("unreachable");
}

size_t position_of(const json& report, const std::string& name) {
  for (size_t i = 0; i < report["tables"].size(); ++i) {
    if (report["tables"][i]["table"] == name) return i;
  }
  return report["tables"].size();
}

// The walvault process a Background runs: runuser's child when the tests run as root.
pid_t program_pid(pid_t background) {
  if (!walvault::test::running_as_root()) return background;
  const std::string pid = std::to_string(background);
  const std::string children = walvault::test::read_text("/proc/" + pid + "/task/" + pid + "/children");
  return children.empty() ? -1 : static_cast<pid_t>(std::stol(children));
}

uint64_t count(const PgCluster& pg, const std::string& db, const std::string& from) {
  return std::stoull(pg.scalar("SELECT count(*) FROM " + from, db));
}

// An application with its own connection, committing one statement every ~20 ms until stopped and recording
// which ticks committed and every error it saw.
class App {
 public:
  App(const std::string& conninfo, std::function<std::string(int)> tick) : tick_(std::move(tick)) {
    conn_ = PQconnectdb(conninfo.c_str());
    REQUIRE(PQstatus(conn_) == CONNECTION_OK);
    thread_ = std::thread([this] { loop(); });
  }
  ~App() {
    stop();
    PQfinish(conn_);
  }
  App(const App&) = delete;
  App& operator=(const App&) = delete;

  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  [[nodiscard]] std::vector<int> committed() const {
    std::lock_guard lock(mutex_);
    return committed_;
  }
  [[nodiscard]] size_t committed_count() const { return committed().size(); }
  [[nodiscard]] std::vector<std::string> errors() const {
    std::lock_guard lock(mutex_);
    return errors_;
  }

 private:
  void loop() {
    for (int k = 1; !stop_; ++k) {
      PGresult* res = PQexec(conn_, tick_(k).c_str());
      const bool ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;
      {
        std::lock_guard lock(mutex_);
        if (ok) {
          committed_.push_back(k);
        } else {
          errors_.push_back("tick " + std::to_string(k) + ": " + PQerrorMessage(conn_));
        }
      }
      PQclear(res);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  std::function<std::string(int)> tick_;
  PGconn* conn_ = nullptr;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::vector<int> committed_;
  std::vector<std::string> errors_;
};

// KeepTheScore's five related tables, created by the application (peewee's create_tables order).
const std::vector<std::string> kScoreTables = {"users", "boards", "entries", "scores", "votes"};
const char* const kScoreDdl[] = {
    "CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL UNIQUE)",
    "CREATE TABLE boards (id serial PRIMARY KEY, owner_id int NOT NULL REFERENCES users, title text NOT NULL UNIQUE)",
    "CREATE TABLE entries (id serial PRIMARY KEY, board_id int NOT NULL REFERENCES boards, label text NOT NULL "
    "UNIQUE)",
    "CREATE TABLE scores (id serial PRIMARY KEY, entry_id int NOT NULL REFERENCES entries, value text NOT NULL "
    "UNIQUE, points int NOT NULL)",
    "CREATE TABLE votes (id serial PRIMARY KEY, score_id int NOT NULL REFERENCES scores, user_id int NOT NULL "
    "REFERENCES users, tag text NOT NULL UNIQUE)"};

// Every row of the five tables as the application sees it: its own value and its parents' values, so a row
// restored under a new id, or pointing at the wrong parent, shows.
Rows score_rows(const PgCluster& pg) {
  Rows rows;
  const char* const queries[] = {
      "SELECT 'u ' || name FROM users",
      "SELECT 'b ' || b.title || '>' || u.name FROM boards b JOIN users u ON u.id = b.owner_id",
      "SELECT 'e ' || e.label || '>' || b.title FROM entries e JOIN boards b ON b.id = e.board_id",
      "SELECT 's ' || s.value || '>' || e.label || '|' || s.points FROM scores s JOIN entries e ON e.id = s.entry_id",
      "SELECT 'v ' || v.tag || '>' || s.value || '>' || u.name FROM votes v JOIN scores s ON s.id = v.score_id "
      "JOIN users u ON u.id = v.user_id"};
  for (const char* q : queries) {
    for (auto& r : pg.query(q, "kts")) rows.push_back(std::move(r));
  }
  return sorted(rows);
}

// The rows application tick k wrote, as score_rows() shows them.
Rows score_rows_of_tick(int k) {
  const std::string n = std::to_string(k);
  return {"u new-u-" + n, "b new-b-" + n + ">new-u-" + n, "e new-e-" + n + ">new-b-" + n,
          "s new-s-" + n + ">new-e-" + n + "|" + n, "v new-v-" + n + ">new-s-" + n + ">new-u-" + n};
}

// One tick of the application: a user, their board, an entry, a score and a vote, in one statement.
std::string score_tick_sql(int k) {
  std::string sql =
      "WITH u AS (INSERT INTO users (name) VALUES ('new-u-{k}') RETURNING id), "
      "b AS (INSERT INTO boards (owner_id, title) SELECT id, 'new-b-{k}' FROM u RETURNING id), "
      "e AS (INSERT INTO entries (board_id, label) SELECT id, 'new-e-{k}' FROM b RETURNING id), "
      "s AS (INSERT INTO scores (entry_id, value, points) SELECT id, 'new-s-{k}', {k} FROM e RETURNING id) "
      "INSERT INTO votes (score_id, user_id, tag) SELECT s.id, u.id, 'new-v-{k}' FROM s, u";
  for (auto at = sql.find("{k}"); at != std::string::npos; at = sql.find("{k}")) sql.replace(at, 3, std::to_string(k));
  return sql;
}

}  // namespace

TEST_CASE("recover: KeepTheScore tables dropped one by one and recreated come back next to the new rows",
          "[integration][recover][once]") {
  Scene scene;
  PgCluster& pg = scene.pg();
  pg.exec("CREATE DATABASE kts");
  for (const char* ddl : kScoreDdl) pg.exec(ddl, "kts");
  // References spread over the parents, so a row attached to the wrong parent shows in score_rows().
  pg.exec(
      "INSERT INTO users (name) SELECT 'old-u-' || g FROM generate_series(1, 3000) g;"
      "INSERT INTO boards (owner_id, title) SELECT 1 + (g * 7) % 3000, 'old-b-' || g FROM generate_series(1, 2000) g;"
      "INSERT INTO entries (board_id, label) SELECT 1 + (g * 11) % 2000, 'old-e-' || g FROM generate_series(1, 3000) g;"
      "INSERT INTO scores (entry_id, value, points) SELECT 1 + (g * 13) % 3000, 'old-s-' || g, g "
      "FROM generate_series(1, 3000) g;"
      "INSERT INTO votes (score_id, user_id, tag) SELECT 1 + (g * 17) % 3000, 1 + (g * 19) % 3000, 'old-v-' || g "
      "FROM generate_series(1, 3000) g",
      "kts");
  scene.start();
  scene.ac.backup();
  const Rows before = score_rows(pg);
  REQUIRE(before.size() == 14000);

  // peewee's drop_tables: one DROP TABLE per transaction, children first; then create_tables with the same DDL.
  for (auto t = kScoreTables.rbegin(); t != kScoreTables.rend(); ++t) pg.exec("DROP TABLE IF EXISTS " + *t, "kts");
  for (const char* ddl : kScoreDdl) pg.exec(ddl, "kts");
  // The application writes from the wipe on: ~300 ticks before recover starts, then through the dry run and the
  // merge, and after them, 30 s in all at least.
  const auto wiped = std::chrono::steady_clock::now();
  App app(pg.conninfo("kts"), score_tick_sql);
  REQUIRE(walvault::test::wait_until([&] { return app.committed_count() >= 300; }, std::chrono::seconds(60)));

  const auto drops = scene.events("kts", "drop_table");
  REQUIRE(drops.size() == 5);  // incidents are not grouped yet: the first drop is the one to recover before

  const std::map<std::string, uint64_t> staged = {{"public.users", 3000},
                                                  {"public.boards", 2000},
                                                  {"public.entries", 3000},
                                                  {"public.scores", 3000},
                                                  {"public.votes", 3000}};

  const std::vector<std::string> renumber = {
      "--tables", "public.users,public.boards,public.entries,public.scores,public.votes", "--on-conflict", "renumber"};
  {  // Dry run of the policy to apply: everything staged and reported, nothing outside the staging schema changed.
    const size_t ticks_before = app.committed_count();
    const json report = scene.recover(drops.front(), "kts", renumber);
    const size_t ticks_after = app.committed_count();
    INFO(report.dump(2));
    CHECK(report["applied"] == false);
    CHECK(report["on_conflict"] == "renumber");
    REQUIRE(report["tables"].size() == 5);
    // Parents before children.
    CHECK(position_of(report, "public.users") < position_of(report, "public.boards"));
    CHECK(position_of(report, "public.boards") < position_of(report, "public.entries"));
    CHECK(position_of(report, "public.entries") < position_of(report, "public.scores"));
    CHECK(position_of(report, "public.scores") < position_of(report, "public.votes"));
    for (const auto& [name, rows] : staged) {
      const json& t = table_of(report, name);
      CHECK(t["damage"] == "dropped");
      CHECK(t["production"] == "recreated since");
      CHECK(t["staged"] == rows);
      CHECK(t["present"] == 0);
      CHECK(t["renumbered"] == true);
      // Every application tick took the next id of every table: the ids it reused are the conflicts.
      CHECK(t["conflicts"].get<uint64_t>() >= ticks_before);
      CHECK(t["conflicts"].get<uint64_t>() <= ticks_after);
      CHECK(t["restore"].get<uint64_t>() + t["conflicts"].get<uint64_t>() == rows);
      CHECK(t["missing_references"] == 0);
      CHECK(t["written"].is_null());
      CHECK(count(pg, "kts", "\"" + report["staging_schema"].get<std::string>() + "\".\"" + name + "\"") == rows);
    }
    const std::string schema = report["staging_schema"];
    CHECK(schema.rfind("walvault_recovered_", 0) == 0);
    // Production holds only what the application wrote: no old row, no sequence moved.
    for (const auto& r : score_rows(pg)) CHECK(r.find("old-") == std::string::npos);
    for (const auto& t : kScoreTables) {
      const uint64_t last = std::stoull(pg.scalar("SELECT last_value FROM " + t + "_id_seq", "kts"));
      CHECK(last <= app.committed_count() + 1);  // + 1: a tick in flight
    }
    pg.exec("DROP SCHEMA \"" + schema + "\" CASCADE", "kts");  // reviewed: the operator drops it and applies
  }

  {  // --apply --on-conflict renumber while the application keeps writing.
    // A request of the application that took an old id from the users sequence before the merge moved it, and
    // writes its row only later: the merge must wait for it, then renumber the old row with that id (not skip it,
    // not take the id first and make the application's insert fail).
    PGconn* held = PQconnectdb(pg.conninfo("kts").c_str());
    REQUIRE(PQstatus(held) == CONNECTION_OK);
    PGresult* taken = PQexec(held, "BEGIN; SELECT nextval('users_id_seq')");
    REQUIRE(PQresultStatus(taken) == PGRES_TUPLES_OK);
    const std::string held_id = PQgetvalue(taken, 0, 0);
    const std::string held_pid = std::to_string(PQbackendPID(held));
    PQclear(taken);
    REQUIRE(std::stoull(held_id) < 3000);  // an id an old user had

    const size_t ticks_before = app.committed_count();
    std::vector<std::string> apply = {"recover", "--before-event", drops.front(), "--into", pg.conninfo("kts"), "--json",
                                      "--apply"};
    apply.insert(apply.end(), renumber.begin(), renumber.end());
    ProcessResult applied;
    std::thread recover([&] { applied = scene.walvault(apply); });
    // The sequences move first, in a transaction of their own; recover then polls pg_locks for the transactions
    // open at that commit, waiting for the held request.
    const bool waiting = walvault::test::wait_until(
        [&] {
          return pg.scalar("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT l.virtualxid%'", "kts") !=
                 "0";
        },
        std::chrono::seconds(120));
    if (waiting) std::this_thread::sleep_for(std::chrono::seconds(1));
    PGresult* wrote = PQexec(held, ("INSERT INTO users (id, name) VALUES (" + held_id + ", 'held-u'); COMMIT").c_str());
    const bool held_ok = PQresultStatus(wrote) == PGRES_COMMAND_OK;
    const std::string held_error = PQerrorMessage(held);
    PQclear(wrote);
    PQfinish(held);
    recover.join();
    CHECK(waiting);
    CHECK(std::stoull(pg.scalar("SELECT count(*) FROM users WHERE id > 3000 AND name LIKE 'new-u-%'", "kts")) > 0);
    INFO(held_error);
    CHECK(held_ok);
    INFO(applied.out << applied.err);
    REQUIRE(applied.exit_code == 0);
    // It named the held request among those it waited for (an application tick may have been open then too).
    const size_t wait_line = applied.err.find("recover: waiting for ");
    REQUIRE(wait_line != std::string::npos);
    const std::string waited = applied.err.substr(wait_line, applied.err.find('\n', wait_line) - wait_line);
    CHECK(waited.find("transactions open since before the sequences moved (pids ") != std::string::npos);
    CHECK((waited.find("pids " + held_pid + ",") != std::string::npos ||
           waited.find(", " + held_pid + ",") != std::string::npos ||
           waited.find(" " + held_pid + ")") != std::string::npos));
    CHECK(scene.scratch_empty());
    const json report = json::parse(applied.out);
    CHECK(report["applied"] == true);
    CHECK(report["on_conflict"] == "renumber");
    for (const auto& [name, rows] : staged) {
      const json& t = table_of(report, name);
      CHECK(t["renumbered"] == true);
      CHECK(t["conflicts"].get<uint64_t>() >= ticks_before + (name == "public.users" ? 1 : 0));
      CHECK(t["written"] == rows);  // every old row: restored under its id or renumbered
    }
    // The application's next rows, after the merge, take keys past every restored one.
    const size_t ticks_after = app.committed_count();
    REQUIRE(walvault::test::wait_until(
        [&] {
          return app.committed_count() >= ticks_after + 25 &&
                 std::chrono::steady_clock::now() - wiped >= std::chrono::seconds(30);
        },
        std::chrono::seconds(60)));
    app.stop();
  }
  const auto errors = app.errors();
  INFO((errors.empty() ? std::string() : errors.front()));
  CHECK(errors.empty());
  Rows expected = before;
  expected.push_back("u held-u");
  for (const int k : app.committed()) {
    for (auto& r : score_rows_of_tick(k)) expected.push_back(std::move(r));
  }
  const Rows now = score_rows(pg);
  CHECK(now.size() == expected.size());
  CHECK(now == sorted(expected));
  for (const auto& t : kScoreTables) {
    INFO(t);
    CHECK(pg.scalar("SELECT nextval('" + t + "_id_seq') > (SELECT max(id) FROM " + t + ")", "kts") == "t");
  }
}

TEST_CASE("recover: Dotabod accounts lost to DROP SCHEMA public CASCADE come back into the migrated tables",
          "[integration][recover][once]") {
  Scene scene;
  PgCluster& pg = scene.pg();
  const std::string migrations =
      "CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL UNIQUE);"
      "CREATE TABLE accounts (id serial PRIMARY KEY, user_id int NOT NULL REFERENCES users ON DELETE CASCADE, "
      "provider text NOT NULL, provider_account_id text NOT NULL UNIQUE)";
  pg.exec("CREATE DATABASE dotabod");
  pg.exec(migrations, "dotabod");
  // Account g belongs to user 501 - g: the accounts of the users whose ids are reused are not the reused ids.
  pg.exec(
      "INSERT INTO users (email) SELECT 'old-' || g || '@x' FROM generate_series(1, 500) g;"
      "INSERT INTO accounts (user_id, provider, provider_account_id) "
      "SELECT 501 - g, 'twitch', 'old-acc-' || g FROM generate_series(1, 500) g",
      "dotabod");
  scene.start();
  scene.ac.backup();
  const auto account_rows = [&] {
    return sorted(
        pg.query("SELECT a.provider_account_id || '>' || u.email FROM accounts a JOIN users u "
                 "ON u.id = a.user_id",
                 "dotabod"));
  };
  const Rows before = account_rows();
  REQUIRE(before.size() == 500);

  pg.exec("DROP SCHEMA public CASCADE; CREATE SCHEMA public;", "dotabod");
  pg.exec(migrations, "dotabod");
  Rows signups;
  const auto sign_up = [&](int n) {
    const std::string k = std::to_string(n);
    pg.exec("WITH u AS (INSERT INTO users (email) VALUES ('new-" + k +
                "@x') RETURNING id) "
                "INSERT INTO accounts (user_id, provider, provider_account_id) SELECT id, 'twitch', 'new-acc-" +
                k + "' FROM u",
            "dotabod");
    signups.push_back("new-acc-" + k + ">new-" + k + "@x");
  };
  for (int n = 1; n <= 20; ++n) sign_up(n);  // users 1-20 and accounts 1-20: ids the old rows had

  const auto drops = scene.events("dotabod", "drop_table");
  REQUIRE(drops.size() == 1);

  {  // --apply with the default policy, skip: the rows whose keys were reused stay staged, reported as conflicts.
    const json report = scene.recover(drops.front(), "dotabod", {"--apply"});  // the event's tables: no --tables
    INFO(report.dump(2));
    CHECK(report["on_conflict"] == "skip");
    REQUIRE(report["tables"].size() == 2);
    CHECK(position_of(report, "public.users") < position_of(report, "public.accounts"));
    const json& users = table_of(report, "public.users");
    CHECK(users["production"] == "recreated since");
    CHECK(users["staged"] == 500);
    CHECK(users["conflicts"] == 20);
    CHECK(users["restore"] == 480);
    CHECK(users["written"] == 480);
    const json& accounts = table_of(report, "public.accounts");
    CHECK(accounts["staged"] == 500);
    CHECK(accounts["conflicts"] == 20);
    // Old users 1-20 stayed staged: their accounts (old-acc-481..500) have no row to point at in production.
    CHECK(accounts["written"] == 460);
    CHECK(accounts["missing_references"] == 20);
    // Named by the foreign key they miss their parent by.
    CHECK(accounts["missing_references_by_foreign_key"] ==
          json{{"accounts_user_id_fkey (user_id -> \"public\".\"users\")", 20}});
    const std::string schema = report["staging_schema"];
    CHECK(count(pg, "dotabod", "\"" + schema + "\".\"public.users\" s WHERE s.id <= 20 AND s.email LIKE 'old-%'") ==
          20);
    CHECK(count(pg, "dotabod", "users WHERE email LIKE 'old-%'") == 480);
    // No restored account points at a new user that took its old user's id.
    const Rows now = account_rows();
    for (const auto& r : now) {
      INFO(r);
      CHECK((std::binary_search(before.begin(), before.end(), r) || r.rfind("new-", 0) == 0));
    }
  }
  for (int n = 21; n <= 25; ++n) sign_up(n);  // users keep signing up
  {  // Then renumber, into another staging schema: every account is back, next to every sign-up.
    const json report =
        scene.recover(drops.front(), "dotabod", {"--apply", "--on-conflict", "renumber", "--schema", "dotabod_second"});
    INFO(report.dump(2));
    const json& users = table_of(report, "public.users");
    CHECK(users["present"] == 480);
    CHECK(users["conflicts"] == 20);
    CHECK(users["written"] == 20);
    Rows expected = before;
    expected.insert(expected.end(), signups.begin(), signups.end());
    CHECK(account_rows() == sorted(expected));
    CHECK(count(pg, "dotabod", "users") == 525);
    sign_up(26);  // after the merge: keys past every restored one
    CHECK(count(pg, "dotabod", "accounts") == 526);
  }
}

TEST_CASE("recover: a mass DELETE, a mass UPDATE and a TRUNCATE CASCADE are undone and later changes left alone",
          "[integration][recover][once]") {
  Scene scene;
  PgCluster& pg = scene.pg();
  pg.exec("CREATE DATABASE ledger");
  pg.exec(
      "CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL);"
      "INSERT INTO users SELECT g, 'user-' || g FROM generate_series(1, 1200) g;"
      "CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL);"
      "INSERT INTO accounts SELECT g, g * 3 FROM generate_series(1, 1100) g;"
      "CREATE TABLE a (id serial PRIMARY KEY, name text NOT NULL);"
      "INSERT INTO a (name) SELECT 'a-' || g FROM generate_series(1, 50) g;"
      "CREATE TABLE b (id serial PRIMARY KEY, a_id int NOT NULL REFERENCES a, note text NOT NULL);"
      "INSERT INTO b (a_id, note) SELECT 1 + g % 50, 'b-' || g FROM generate_series(1, 80) g",
      "ledger");
  scene.start();
  scene.ac.backup();
  const auto rows = [&](const std::string& sql) { return pg.query(sql, "ledger"); };
  const std::string users_sql = "SELECT id || ' ' || name FROM users ORDER BY id";
  const std::string accounts_sql = "SELECT id || ' ' || balance FROM accounts ORDER BY id";
  const std::string b_sql =
      "SELECT b.id || ' ' || b.note || '>' || a.name FROM b JOIN a ON a.id = b.a_id ORDER BY b.id";
  const Rows users_before = rows(users_sql);
  const Rows accounts_before = rows(accounts_sql);
  const Rows a_before = rows("SELECT id || ' ' || name FROM a ORDER BY id");
  const Rows b_before = rows(b_sql);

  pg.exec("DELETE FROM users", "ledger");
  pg.exec("INSERT INTO users VALUES (5, 'new five')", "ledger");  // a key reused after the event
  pg.exec("UPDATE accounts SET balance = 0", "ledger");
  pg.exec("UPDATE accounts SET balance = 777 WHERE id = 7; DELETE FROM accounts WHERE id = 8", "ledger");
  pg.exec("TRUNCATE a, b CASCADE", "ledger");
  pg.exec(
      "INSERT INTO a (name) VALUES ('new a');"
      "INSERT INTO b (id, a_id, note) SELECT 2, id, 'new b two' FROM a WHERE name = 'new a'",
      "ledger");

  const auto deletes = scene.events("ledger", "mass_delete");
  const auto updates = scene.events("ledger", "mass_update");
  const auto truncates = scene.events("ledger", "truncate");
  REQUIRE(deletes.size() == 1);
  REQUIRE(updates.size() == 1);
  REQUIRE(truncates.size() == 1);

  {
    const json report = scene.recover(deletes.front(), "ledger", {"--apply"});
    INFO(report.dump(2));
    REQUIRE(report["tables"].size() == 1);
    const json& t = table_of(report, "public.users");
    CHECK(t["damage"] == "mass deleted");
    CHECK(t["staged"] == 1200);
    CHECK(t["restore"] == 1199);
    CHECK(t["changed_since"] == 1);
    CHECK(t["written"] == 1199);
    Rows expected = users_before;
    expected[4] = "5 new five";
    CHECK(rows(users_sql) == expected);
  }
  {
    const json report = scene.recover(updates.front(), "ledger", {"--apply"});
    INFO(report.dump(2));
    REQUIRE(report["tables"].size() == 1);
    const json& t = table_of(report, "public.accounts");
    CHECK(t["damage"] == "mass updated");
    CHECK(t["staged"] == 1100);
    CHECK(t["restore"] == 1098);
    CHECK(t["changed_since"] == 1);
    CHECK(t["deleted_since"] == 1);
    CHECK(t["written"] == 1098);
    Rows expected = accounts_before;
    expected[6] = "7 777";
    expected.erase(expected.begin() + 7);
    CHECK(rows(accounts_sql) == expected);
  }
  {
    const json report = scene.recover(truncates.front(), "ledger", {"--apply"});
    INFO(report.dump(2));
    REQUIRE(report["tables"].size() == 2);
    CHECK(position_of(report, "public.a") < position_of(report, "public.b"));
    const json& a = table_of(report, "public.a");
    CHECK(a["damage"] == "truncated");
    CHECK(a["restore"] == 50);
    CHECK(a["conflicts"] == 0);
    CHECK(a["written"] == 50);
    const json& b = table_of(report, "public.b");
    CHECK(b["staged"] == 80);
    CHECK(b["restore"] == 79);
    CHECK(b["conflicts"] == 1);
    CHECK(b["written"] == 79);
    Rows expected_a = a_before;
    expected_a.push_back("51 new a");
    CHECK(rows("SELECT id || ' ' || name FROM a ORDER BY id") == expected_a);
    Rows expected_b = b_before;
    expected_b[1] = "2 new b two>new a";
    CHECK(rows(b_sql) == expected_b);
  }
}

TEST_CASE(
    "preview shows the past, and recover refuses a side copy, an existing schema, an event before every "
    "backup and another database, and stops on SIGTERM, creating nothing",
    "[integration][recover][preview][once]") {
  Scene scene;
  PgCluster& pg = scene.pg();
  pg.exec("CREATE DATABASE shop");
  pg.exec("CREATE DATABASE other");
  pg.exec("CREATE TABLE early (id int PRIMARY KEY)", "shop");
  pg.exec(
      "CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL);"
      "INSERT INTO items (name) SELECT 'item ' || g FROM generate_series(1, 300) g;"
      "CREATE TABLE orders (id serial PRIMARY KEY, item_id int REFERENCES items, qty int NOT NULL);"
      "INSERT INTO orders (item_id, qty) SELECT 1 + g % 300, g FROM generate_series(1, 120) g",
      "shop");
  scene.start();
  pg.exec("DROP TABLE early", "shop");  // an event older than every backup
  scene.ac.backup();
  pg.exec("DROP TABLE orders, items", "shop");
  const auto drops = scene.events("shop", "drop_table");
  REQUIRE(drops.size() == 2);
  const std::string early = drops[0];
  const std::string event = drops[1];
  const auto schemas = [&](const std::string& db) {
    return std::stoull(pg.scalar("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'walvault%'", db));
  };

  {  // preview --no-wait: the tables as they were, with their row counts; the copy removed right after
    const auto r = scene.walvault({"preview", "--before-event", event, "--no-wait", "--json"});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    const json j = json::parse(r.out);
    CHECK(j["waiting"] == false);
    const json* shop = nullptr;
    for (const auto& db : j["databases"]) {
      if (db["name"] == "shop") shop = &db;
    }
    REQUIRE(shop != nullptr);
    CHECK((*shop)["tables"]["public.items"] == 300);
    CHECK((*shop)["tables"]["public.orders"] == 120);
    CHECK(scene.scratch_empty());
  }

  {  // preview, waiting: its copy is no production to recover into
    const std::string log = pg.work_dir() + "/preview.log";
    walvault::test::Background preview(
        walvault::test::as_postgres(
            {WALVAULT_BINARY, "preview", "--repo", scene.ac.repo(), "--before-event", event, "--json"}),
        log, {"TMPDIR=" + scene.scratch});
    json j;
    REQUIRE(walvault::test::wait_until(
        [&] {
          const std::string text = walvault::test::read_text(log);
          const auto open = text.find('{');
          if (open == std::string::npos) return false;
          j = json::parse(text.substr(open), nullptr, false);
          return !j.is_discarded();
        },
        std::chrono::seconds(120)));
    INFO(j.dump(2));
    CHECK(j["waiting"] == true);
    std::string conninfo;
    for (const auto& db : j["databases"]) {
      if (db["name"] == "shop") conninfo = db["conninfo"];
    }
    REQUIRE_FALSE(conninfo.empty());
    CHECK_FALSE(scene.scratch_empty());

    const auto r = scene.walvault({"recover", "--before-event", event, "--into", conninfo, "--json"});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 8);
    CHECK(r.err.find("side copy") != std::string::npos);
    // Nothing written into the copy either: no staging schema there.
    const auto psql = walvault::test::run(
        walvault::test::as_postgres({walvault::test::pg_program("psql"), "-X", "-A", "-t", "-d", conninfo, "-c",
                                     "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'walvault%'"}));
    INFO(psql.err);
    CHECK(psql.out == "0\n");

    // SIGTERM to preview itself (runuser would SIGKILL its child 2 s after forwarding a signal).
    const pid_t program = program_pid(preview.pid());
    REQUIRE(program > 0);
    REQUIRE(::kill(program, SIGTERM) == 0);
    REQUIRE(walvault::test::wait_until([&] { return !preview.running(); }, std::chrono::seconds(60)));
    CHECK(preview.stop(SIGTERM) == 0);  // its exit code, reaped
    CHECK(scene.scratch_empty());
  }

  {  // SIGTERM while recover's side copy runs: it stops, the copy's server is stopped and its directory removed
    const std::string log = pg.work_dir() + "/recover.log";
    walvault::test::Background recover(
        walvault::test::as_postgres({WALVAULT_BINARY, "recover", "--repo", scene.ac.repo(), "--before-event", event,
                                     "--into", pg.conninfo("shop")}),
        log, {"TMPDIR=" + scene.scratch});
    const auto server_running = [&] {
      for (const auto& dir : fs::directory_iterator(scene.scratch)) {
        if (fs::exists(dir.path() / "data" / "postmaster.pid")) return true;
      }
      return false;
    };
    REQUIRE(walvault::test::wait_until(server_running, std::chrono::seconds(120)));
    const pid_t program = program_pid(recover.pid());
    REQUIRE(program > 0);
    REQUIRE(::kill(program, SIGTERM) == 0);
    REQUIRE(walvault::test::wait_until([&] { return !recover.running(); }, std::chrono::seconds(60)));
    INFO(walvault::test::read_text(log));
    CHECK(recover.stop(SIGTERM) == 13);  // interrupted, reaped
    CHECK(walvault::test::read_text(log).find("stopped by SIGINT or SIGTERM before it finished") !=
          std::string::npos);
    CHECK(scene.scratch_empty());
    CHECK(schemas("shop") == 0);
    // No server of the copy left running (its command line names the copy's directory).
    size_t left = 0;
    for (const auto& proc : fs::directory_iterator("/proc")) {
      const std::string cmdline = walvault::test::read_text((proc.path() / "cmdline").string());
      left += cmdline.find(scene.scratch) != std::string::npos ? 1U : 0U;
    }
    CHECK(left == 0);
  }

  {  // a staging schema that exists (the default name: walvault_recovered_<timeline>_<commit LSN>)
    const std::string lsn = event.substr(event.find('-') + 1, 16);
    std::string schema = "walvault_recovered_" + event.substr(0, event.find('-')) + "_" + lsn;
    std::transform(schema.begin(), schema.end(), schema.begin(), [](unsigned char c) { return std::tolower(c); });
    pg.exec("CREATE SCHEMA " + schema, "shop");
    const auto r = scene.walvault({"recover", "--before-event", event, "--into", pg.conninfo("shop")});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 8);
    CHECK(r.err.find("schema " + schema + " already exists") != std::string::npos);
    CHECK(count(pg, "shop", "pg_class WHERE relnamespace = '" + schema + "'::regnamespace") == 0);
    CHECK(scene.scratch_empty());
    pg.exec("DROP SCHEMA " + schema, "shop");
  }

  {  // an event before the oldest backup: nothing to restore it from
    const auto r = scene.walvault({"recover", "--before-event", early, "--into", pg.conninfo("shop")});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 6);
    CHECK(schemas("shop") == 0);
    CHECK(scene.scratch_empty());
  }

  {  // --into another database than the event's
    const auto r = scene.walvault({"recover", "--before-event", event, "--into", pg.conninfo("other")});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("but the event hit database shop") != std::string::npos);
    CHECK(schemas("other") == 0);
    CHECK(schemas("shop") == 0);
    CHECK(scene.scratch_empty());
  }
}
