// End to end: a streamed cluster with a backup, five kinds of wipe, and for each one `walvault events` finds it
// and `walvault restore --before-event ID --start` brings back exactly the data of a snapshot taken just before
// it (row counts and md5 of every table's ordered contents, rows committed right before the wipe included),
// with nothing written after the wipe. Then `restore --time T` lands on the state at T, and the refusals
// (outside the window, non-empty directory, unknown event, foreign repository) leave no files behind.
// One cluster and repository serve all of it; every restore gets its own directory and port.
#include <libpq-fe.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "archive_fixture.hpp"
#include "format/sealed_object.hpp"
#include "pg_cluster.hpp"
#include "process.hpp"

namespace {

namespace fs = std::filesystem;
using walvault::test::ArchivedCluster;
using walvault::test::as_postgres;
using walvault::test::PgCluster;
using walvault::test::pg_bindir;
using walvault::test::pg_program;

// Table name → "count|md5 of the ordered rows".
using Snapshot = std::map<std::string, std::string>;

std::string snapshot_sql(const std::string& table) {
  return "SELECT count(*) || '|' || md5(coalesce(string_agg(t::text, ',' ORDER BY id), '')) FROM " + table + " t";
}

Snapshot snapshot(const PgCluster& pg, const std::string& db, const std::vector<std::string>& tables) {
  Snapshot s;
  for (const auto& t : tables) s[t] = pg.scalar(snapshot_sql(t), db);
  return s;
}

// Runs statements in one session; returns the first column of the first row of each statement's result.
std::vector<std::string> session(const PgCluster& pg, const std::string& db, const std::vector<std::string>& sqls) {
  PGconn* conn = PQconnectdb(pg.conninfo(db).c_str());
  REQUIRE(PQstatus(conn) == CONNECTION_OK);
  std::vector<std::string> out;
  for (const auto& sql : sqls) {
    PGresult* res = PQexec(conn, sql.c_str());
    const auto st = PQresultStatus(res);
    INFO(sql << ": " << PQerrorMessage(conn));
    REQUIRE((st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK));
    out.push_back(st == PGRES_TUPLES_OK && PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "");
    PQclear(res);
  }
  PQfinish(conn);
  return out;
}

// A restored server: stopped (immediately) when the test ends, whatever happens.
struct Restored {
  std::string dir;
  int port = 0;
  ~Restored() {
    if (fs::exists(dir + "/postmaster.pid")) {
      walvault::test::run(as_postgres({pg_bindir() + "/pg_ctl", "stop", "-D", dir, "-m", "immediate", "-w"}));
    }
  }
  [[nodiscard]] std::string scalar(const std::string& db, const std::string& sql) const {
    const auto r = walvault::test::run(as_postgres({pg_program("psql"), "-X", "-A", "-t", "-h", dir, "-p",
                                                    std::to_string(port), "-d", db, "-c", sql}));
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    std::string v = r.out;
    while (!v.empty() && (v.back() == '\n' || v.back() == '\r')) v.pop_back();
    return v;
  }
  [[nodiscard]] Snapshot snapshot(const std::string& db, const std::vector<std::string>& tables) const {
    Snapshot s;
    for (const auto& t : tables) s[t] = scalar(db, snapshot_sql(t));
    return s;
  }
};

struct Wipe {
  std::string db;
  std::string kind;
  std::vector<std::string> tables;           // tables the snapshot covers
  std::vector<std::string> expected_tables;  // names `events` must list
  std::string xid;                           // the wipe's xid ("" when not known exactly)
  Snapshot before;
};

void create_tables(const PgCluster& pg, const std::string& db, const std::vector<std::string>& tables, int rows) {
  for (const auto& t : tables) {
    pg.exec("CREATE TABLE " + t + " (id serial PRIMARY KEY, note text NOT NULL)", db);
    pg.exec("INSERT INTO " + t + " (note) SELECT 'row ' || g FROM generate_series(1, " + std::to_string(rows) + ") g",
            db);
  }
}

}  // namespace

TEST_CASE("every wipe is listed and restored to the instant before it", "[integration][restore][versions]") {
  ArchivedCluster ac;
  PgCluster& pg = ac.pg();
  const std::string work = pg.work_dir();

  std::vector<Wipe> wipes = {
      {"w_drop", "drop_table", {"public.orders", "public.keep"}, {"public.orders"}, "", {}},
      {"w_orm", "drop_table", {"public.users", "public.posts"}, {"public.users", "public.posts"}, "", {}},
      {"w_trunc", "truncate", {"public.events_log", "public.keep"}, {"public.events_log"}, "", {}},
      {"w_del", "mass_delete", {"public.items", "public.keep"}, {"public.items"}, "", {}},
      {"w_dropdb", "drop_database", {"public.accounts"}, {}, "", {}},
  };
  for (const auto& w : wipes) {
    pg.exec("CREATE DATABASE " + w.db);
    create_tables(pg, w.db, w.tables, w.kind == "mass_delete" ? 2000 : 200);
  }
  pg.exec("CREATE DATABASE w_time");
  pg.exec("CREATE TABLE ticks (id int PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())", "w_time");
  ac.start_streamer();
  // The streamer's first relation-name snapshot, so events can name the tables.
  REQUIRE(walvault::test::wait_until([&] { return fs::exists(ac.repo() + "/names") && !fs::is_empty(ac.repo() + "/names"); },
                                     std::chrono::seconds(30)));
  ac.backup();

  // Ticks with known commit times: T[k] is taken after tick k committed and before tick k+1.
  std::vector<std::string> tick_time;
  for (int k = 1; k <= 4; ++k) {
    pg.exec("INSERT INTO ticks (id) VALUES (" + std::to_string(k) + ")", "w_time");
    tick_time.push_back(pg.scalar("SELECT clock_timestamp()::text"));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }

  for (auto& w : wipes) {
    // Rows committed just before the wipe must come back too.
    for (const auto& t : w.tables) pg.exec("INSERT INTO " + t + " (note) VALUES ('just before the wipe')", w.db);
    w.before = snapshot(pg, w.db, w.tables);
    if (w.db == "w_drop") {
      w.xid = session(pg, w.db, {"BEGIN", "SELECT txid_current()", "DROP TABLE public.orders", "COMMIT"})[1];
    } else if (w.db == "w_orm") {
      w.xid = session(pg, w.db,
                      {"BEGIN", "SELECT txid_current()", "DROP SCHEMA public CASCADE", "CREATE SCHEMA public",
                       "COMMIT"})[1];
    } else if (w.db == "w_trunc") {
      w.xid = session(pg, w.db, {"BEGIN", "SELECT txid_current()", "TRUNCATE public.events_log", "COMMIT"})[1];
    } else if (w.db == "w_del") {
      w.xid = session(pg, w.db, {"BEGIN", "SELECT txid_current()", "DELETE FROM public.items", "COMMIT"})[1];
    } else {
      pg.exec("DROP DATABASE " + w.db);
    }
    // Written after the wipe: must not come back.
    if (w.db != "w_dropdb") {
      pg.exec("CREATE TABLE IF NOT EXISTS public.keep (id serial PRIMARY KEY, note text NOT NULL)", w.db);
      pg.exec("INSERT INTO public.keep (note) VALUES ('after the wipe')", w.db);
    }
  }
  const auto listed = ac.events_json();
  INFO(listed.err);
  REQUIRE(listed.exit_code == 0);
  const auto events = nlohmann::json::parse(listed.out);

  for (const auto& w : wipes) {
    {
      INFO("wipe in " << w.db);
      const nlohmann::json* found = nullptr;
      for (const auto& e : events) {
        const bool db_match = e["database"] == w.db;
        if (db_match && e["kind"] == w.kind && (w.xid.empty() || std::to_string(e["xid"].get<uint32_t>()) == w.xid)) {
          found = &e;
        }
      }
      INFO(listed.out);
      REQUIRE(found != nullptr);
      const auto& e = *found;
      for (const auto& t : w.expected_tables) {
        CHECK(std::find(e["tables"].begin(), e["tables"].end(), t) != e["tables"].end());
      }
      if (w.kind == "mass_delete") CHECK(e["rows"] == 2001);
      CHECK(e["restore_command"].get<std::string>().find("--before-event " + e["id"].get<std::string>()) !=
            std::string::npos);

      Restored r{work + "/restore-" + w.db, walvault::test::free_port()};
      const auto restored = ac.walvault({"restore", "--repo", ac.repo(), "--target-dir", r.dir, "--before-event",
                                         e["id"].get<std::string>(), "--start", "--port", std::to_string(r.port)});
      INFO(restored.out << restored.err);
      CHECK(restored.exit_code == 0);
      if (restored.exit_code != 0) continue;
      CHECK(restored.out.find("target reached: server promoted") != std::string::npos);
      CHECK(r.snapshot(w.db, w.tables) == w.before);
      if (r.scalar(w.db, "SELECT to_regclass('public.keep') IS NOT NULL") == "t") {
        CHECK(r.scalar(w.db, "SELECT count(*) FROM public.keep WHERE note = 'after the wipe'") == "0");
      }
      CHECK_FALSE(fs::exists(r.dir + "/" + std::string("pg_wal/walvault-spool")));
    }
  }

  {  // restore --time lands on the state at that time
    Restored r{work + "/restore-time", walvault::test::free_port()};
    const auto restored = ac.walvault({"restore", "--repo", ac.repo(), "--target-dir", r.dir, "--time",
                                       tick_time[1], "--start", "--port", std::to_string(r.port)});
    INFO(restored.out << restored.err);
    CHECK(restored.exit_code == 0);
    if (restored.exit_code == 0) CHECK(r.scalar("w_time", "SELECT string_agg(id::text, ',' ORDER BY id) FROM ticks") == "1,2");

    const auto located = ac.walvault({"locate", "--repo", ac.repo(), "--time", tick_time[1], "--json"});
    REQUIRE(located.exit_code == 0);
    const auto j = nlohmann::json::parse(located.out);
    CHECK(j["last_at_or_before"].is_object());
    CHECK(j["first_after"].is_object());
  }

  {  // refusals name the problem and leave no files
    const std::string dir = work + "/refused";
    const auto early = ac.walvault({"restore", "--repo", ac.repo(), "--target-dir", dir, "--time", "2001-01-01T00:00:00Z"});
    const auto late = ac.walvault({"restore", "--repo", ac.repo(), "--target-dir", dir, "--time", "2999-01-01 00:00Z"});
    INFO(late.err << early.err);
    CHECK(late.exit_code == 6);
    CHECK(late.err.find("is after the last archived commit") != std::string::npos);
    CHECK(late.err.find("restorable window is") != std::string::npos);
    CHECK(early.exit_code == 6);
    CHECK(early.err.find("is before the restorable window") != std::string::npos);
    const auto unknown =
        ac.walvault({"restore", "--repo", ac.repo(), "--target-dir", dir, "--before-event", "1-00000000DEADBEEF-drop_table"});
    CHECK(unknown.exit_code == 9);
    CHECK(unknown.err.find("no event \"1-00000000DEADBEEF-drop_table\"") != std::string::npos);
    CHECK_FALSE(fs::exists(dir));

    fs::create_directories(dir);
    std::ofstream(dir + "/precious.txt") << "mine";
    walvault::test::give_to_postgres(dir);
    const auto busy = ac.walvault({"restore", "--repo", ac.repo(), "--target-dir", dir, "--latest"});
    CHECK(busy.exit_code == 8);
    CHECK(busy.err.find("is not empty") != std::string::npos);
    CHECK(fs::directory_iterator(dir) != fs::directory_iterator());
    CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator()) == 1);

    // A repository bound to another cluster that holds this cluster's backups.
    const std::string foreign = work + "/foreign-repo";
    fs::copy(ac.repo(), foreign, fs::copy_options::recursive);
    const std::string config_path = foreign + "/walvault.json";
    std::ifstream in(config_path);
    auto config = nlohmann::json::parse(in);
    in.close();
    config["system_identifier"] = "1234567890123456789";
    std::ofstream(config_path) << walvault::format::seal_json(nlohmann::ordered_json(config));  // resealed
    walvault::test::give_to_postgres(foreign);
    const std::string dir2 = work + "/refused2";
    const auto alien = ac.walvault({"restore", "--repo", foreign, "--target-dir", dir2, "--latest"});
    CHECK(alien.exit_code == 3);
    CHECK(alien.err.find("belongs to another cluster") != std::string::npos);
    CHECK_FALSE(fs::exists(dir2));
  }

  {  // wal-fetch: missing is a quiet 1, damage is a loud 200 (> 125: PostgreSQL stops), never a partial file
    const std::string dest = work + "/fetched";
    const auto missing = ac.walvault({"wal-fetch", "--repo", ac.repo(), "0000000100000000000000FF", dest});
    CHECK(missing.exit_code == 1);
    CHECK(std::count(missing.err.begin(), missing.err.end(), '\n') == 1);
    const auto history = ac.walvault({"wal-fetch", "--repo", ac.repo(), "00000002.history", dest});
    CHECK(history.exit_code == 1);

    const std::string damaged = work + "/damaged-repo";
    fs::copy(ac.repo(), damaged, fs::copy_options::recursive);
    std::string name;
    for (const auto& f : walvault::test::files_under(damaged + "/wal", "0")) {
      if (name.empty() && f.ends_with(".wvs")) name = f;
    }
    REQUIRE_FALSE(name.empty());
    walvault::test::flip_byte(damaged + "/wal/" + name, 200);
    walvault::test::give_to_postgres(damaged);
    const auto bad = ac.walvault({"wal-fetch", "--repo", damaged, name.substr(0, 24), dest});
    INFO(bad.err);
    CHECK(bad.exit_code == 200);
    CHECK(bad.err.find("cannot be served") != std::string::npos);
    CHECK_FALSE(fs::exists(dest));
    const auto good = ac.walvault({"wal-fetch", "--repo", ac.repo(), name.substr(0, 24), dest});
    CHECK(good.exit_code == 0);
    CHECK(fs::file_size(dest) == 16U << 20);
  }
}
