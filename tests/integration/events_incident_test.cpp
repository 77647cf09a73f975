// End to end, as a Django user meets it: `manage.py migrate scores zero` over two migrations runs 0002's
// `ALTER TABLE scores_score DROP COLUMN note CASCADE` in one transaction, Django's own `DELETE FROM
// django_migrations` (not destructive) in the next, then 0001's two DROP TABLEs in a third (the SQL of Django 3.2's
// sqlmigrate --backwards, run here through libpq). `walvault events` lists a drop_column and a drop_table and groups
// them as one incident; `restore --before-incident` (given the drop_table's id, any event of the incident will do)
// and `restore --before-event <drop_column>` bring scores_score back with its note column and values, while
// `restore --before-event <drop_table>` brings it back without the column, as it was between the two migrations,
// and warns that the event's incident began earlier.
#include <libpq-fe.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "archive_fixture.hpp"
#include "pg_cluster.hpp"
#include "process.hpp"

namespace {

using walvault::test::ArchivedCluster;
using walvault::test::RestoredServer;

void session(const walvault::test::PgCluster& pg, const std::string& db, const std::vector<std::string>& sqls) {
  PGconn* conn = PQconnectdb(pg.conninfo(db).c_str());
  REQUIRE(PQstatus(conn) == CONNECTION_OK);
  for (const auto& sql : sqls) {
    PGresult* res = PQexec(conn, sql.c_str());
    const auto st = PQresultStatus(res);
    INFO(sql << ": " << PQerrorMessage(conn));
    CHECK((st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK));
    PQclear(res);
  }
  PQfinish(conn);
}

const nlohmann::json& only(const nlohmann::json& events, const std::string& kind) {
  const nlohmann::json* found = nullptr;
  for (const auto& e : events) {
    if (e["database"] == "dj" && e["kind"] == kind) {
      REQUIRE(found == nullptr);
      found = &e;
    }
  }
  REQUIRE(found != nullptr);
  return *found;
}

}  // namespace

TEST_CASE("a Django migrate-to-zero is one incident, and restoring before it brings the dropped column back",
          "[integration][events][incident][once]") {
  ArchivedCluster ac;
  auto& pg = ac.pg();
  pg.exec("CREATE DATABASE dj");
  // Migrations 0001 (two tables with a foreign key) and 0002 (AddField Score.note), applied.
  session(pg, "dj",
          {"CREATE TABLE django_migrations (id bigserial PRIMARY KEY, app varchar(255) NOT NULL, "
           "name varchar(255) NOT NULL, applied timestamptz NOT NULL)",
           "CREATE TABLE scores_board (id bigserial PRIMARY KEY, name varchar(100) NOT NULL)",
           "CREATE TABLE scores_score (id bigserial PRIMARY KEY, points integer NOT NULL, board_id bigint NOT NULL "
           "REFERENCES scores_board (id) DEFERRABLE INITIALLY DEFERRED)",
           "INSERT INTO django_migrations (app, name, applied) VALUES ('scores', '0001_initial', now())", "BEGIN",
           "ALTER TABLE scores_score ADD COLUMN note varchar(200) DEFAULT '' NOT NULL",
           "ALTER TABLE scores_score ALTER COLUMN note DROP DEFAULT", "COMMIT",
           "INSERT INTO django_migrations (app, name, applied) VALUES ('scores', '0002_score_note', now())",
           "INSERT INTO scores_board (name) SELECT 'board ' || g FROM generate_series(1, 3) g",
           "INSERT INTO scores_score (points, board_id, note) SELECT g, 1 + g % 3, 'note ' || g "
           "FROM generate_series(1, 20) g"});
  const std::string notes = "SELECT string_agg(id || ':' || note, ',' ORDER BY id) FROM scores_score";
  const std::string expected_notes = pg.scalar(notes, "dj");
  REQUIRE(expected_notes.find("20:note 20") != std::string::npos);
  ac.start_streamer();
  REQUIRE(walvault::test::wait_until(
      [&] { return std::filesystem::exists(ac.repo() + "/names") && !std::filesystem::is_empty(ac.repo() + "/names"); },
      std::chrono::seconds(30)));
  ac.backup();

  // migrate scores zero: 0002 backwards, its bookkeeping, 0001 backwards, its bookkeeping.
  session(pg, "dj",
          {"BEGIN", "ALTER TABLE scores_score DROP COLUMN note CASCADE", "COMMIT",
           "DELETE FROM django_migrations WHERE app = 'scores' AND name = '0002_score_note'", "BEGIN",
           "DROP TABLE scores_score CASCADE", "DROP TABLE scores_board CASCADE", "COMMIT",
           "DELETE FROM django_migrations WHERE app = 'scores' AND name = '0001_initial'"});

  const auto listed = ac.events_json();
  INFO(listed.err);
  REQUIRE(listed.exit_code == 0);
  const auto events = nlohmann::json::parse(listed.out);
  INFO(listed.out);
  const auto& column = only(events, "drop_column");
  const auto& table = only(events, "drop_table");
  CHECK(column["tables"] == nlohmann::json::array({"public.scores_score"}));
  REQUIRE(column["columns"].size() == 1);
  CHECK(column["columns"][0]["attnum"] == 4);  // id, points, board_id, note
  CHECK(column["columns"][0]["table"] == "public.scores_score");
  CHECK(column["incident"] == column["id"]);  // the incident is named by its earliest event
  CHECK(table["incident"] == column["id"]);
  const std::string column_id = column["id"];
  const std::string table_id = table["id"];

  const auto text = ac.walvault({"events", "--repo", ac.repo()});
  CHECK(text.out.find("incident " + column_id + ": 2 events of database dj") != std::string::npos);
  CHECK(text.out.find("--before-incident " + column_id) != std::string::npos);
  // With a gap shorter than the milliseconds between the migrations, each event is an incident of its own.
  const auto apart =
      nlohmann::json::parse(ac.walvault({"events", "--repo", ac.repo(), "--json", "--incident-gap", "0"}).out);
  for (const auto& e : apart) CHECK(e["incident"] == e["id"]);

  std::string said;  // the last restore's messages
  const auto restore = [&](const std::vector<std::string>& target, const std::string& name) {
    auto server = std::make_unique<RestoredServer>(pg.work_dir() + "/restore-" + name, walvault::test::free_port());
    std::vector<std::string> args = {"restore",     "--repo",  ac.repo(), "--target-dir",
                                     server->dir(), "--start", "--port",  std::to_string(server->port())};
    args.insert(args.end(), target.begin(), target.end());
    const auto r = ac.walvault(args);
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    said = r.out + r.err;
    return server;
  };
  {
    const auto r = restore({"--before-incident", table_id}, "incident");
    CHECK(r->scalar(notes, "dj") == expected_notes);
  }
  {
    const auto r = restore({"--before-event", column_id}, "column");
    CHECK(r->scalar(notes, "dj") == expected_notes);
  }
  {
    // Just before the DROP TABLEs the column was already gone: that event alone does not bring it back.
    const auto r = restore({"--before-event", table_id}, "table");
    CHECK(said.find("belongs to incident " + column_id + " of 2 events") != std::string::npos);
    CHECK(r->scalar("SELECT count(*) FROM scores_score", "dj") == "20");
    CHECK(r->scalar("SELECT count(*) FROM pg_attribute WHERE attrelid = 'scores_score'::regclass AND attname = 'note'",
                    "dj") == "0");
  }
  {
    // recover --before-incident puts both tables back into the live database, which no longer has them: created
    // again as they were before the incident (with the note column and the foreign key), rows and all.
    const auto r = ac.walvault({"recover", "--repo", ac.repo(), "--before-incident", table_id, "--into",
                                pg.conninfo("dj"), "--apply", "--json"});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    const auto report = nlohmann::json::parse(r.out);
    REQUIRE(report["tables"].size() == 2);
    CHECK(report["tables"][0]["table"] == "public.scores_board");  // the parent first
    for (const auto& t : report["tables"]) {
      CHECK(t["damage"] == "dropped");
      CHECK(t["production"] == "absent");
      CHECK(t["written"] == t["staged"]);
    }
    CHECK(pg.scalar(notes, "dj") == expected_notes);
    CHECK(pg.scalar("SELECT count(*) FROM pg_constraint WHERE conrelid = 'scores_score'::regclass AND contype = 'f'",
                    "dj") == "1");
    CHECK(pg.scalar("SELECT nextval(pg_get_serial_sequence('scores_score', 'id')) > max(id) FROM scores_score", "dj") ==
          "t");
  }
}
