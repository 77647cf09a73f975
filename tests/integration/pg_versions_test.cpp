// The per-version tests ([versions]; CTest runs them against PostgreSQL 15, 16, 17 and 18, see tests/CMakeLists.txt):
//   - the decoder, record for record, against the server's own WAL reader (pg_walinspect, in every supported
//     version) on a mixed workload, commits that drop 0 to 6 statistics entries included (16-byte items on 18);
//   - the core loop a user runs: init, stream, backup, wipes that the restore tests do not cover (a prepared
//     transaction that drops tables, a mass UPDATE, drops of tables with 0 to 5 indexes), events with table names,
//     restore --before-event with exact data and the server programs of the backup's version (found in the
//     distribution's path on 15, named by WALVAULT_PG_BINDIR on 16-18, refused before writing when nowhere), verify
//     (the backup manifest: version 2 with the repository's system identifier from 17 on), drill, and a status
//     without index problems.
// restore_wipes_test (DROP TABLE, DROP SCHEMA ... CASCADE, TRUNCATE, DELETE, DROP DATABASE, --time) and
// wal_events_test are [versions] tests too.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "../common/walinspect_listing.hpp"
#include "archive_fixture.hpp"
#include "pg_cluster.hpp"
#include "process.hpp"
#include "wal_test_support.hpp"

namespace {

namespace fs = std::filesystem;
using walvault::test::ArchivedCluster;
using walvault::test::PgCluster;
using walvault::test::psql;

// Table name → "count|md5 of the ordered rows".
std::map<std::string, std::string> snapshot(const std::function<std::string(const std::string&)>& scalar,
                                            const std::vector<std::string>& tables) {
  std::map<std::string, std::string> out;
  for (const auto& t : tables) {
    out[t] = scalar("SELECT count(*) || '|' || md5(coalesce(string_agg(t::text, ',' ORDER BY id), '')) FROM " + t +
                    " t");
  }
  return out;
}

}  // namespace

TEST_CASE("walvault dump reads this version's wal record for record as pg_walinspect does (dropped statistics included)",
          "[integration][versions][wal]") {
  PgCluster cluster({.wal_segment_size_mb = 1,
                     .settings = {"max_prepared_transactions = 5", "wal_keep_size = 1GB", "max_wal_size = 1GB",
                                  "checkpoint_timeout = 1h", "autovacuum = off"}});
  cluster.exec("CREATE EXTENSION pg_walinspect");
  const std::string first_segment = cluster.scalar("SELECT pg_walfile_name(pg_current_wal_insert_lsn())");
  const std::string start = cluster.scalar("SELECT pg_current_wal_insert_lsn()");

  const auto pgbench = [&](const std::vector<std::string>& args) {
    const auto r = cluster.run_pg_program("pgbench", args);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
  };
  pgbench({"-i", "-s", "1", "-q", "postgres"});
  cluster.exec("CHECKPOINT");  // full-page images from here on
  pgbench({"-c", "2", "-t", "150", "-n", "postgres"});
  psql(cluster, "postgres",
       {"CREATE TABLE docs (id serial PRIMARY KEY, body text, n int)",
        "INSERT INTO docs (body, n) SELECT md5(g::text), g FROM generate_series(1, 3000) g",
        "CREATE INDEX docs_body ON docs (body)", "DELETE FROM docs WHERE n % 3 = 0", "VACUUM docs",
        "UPDATE docs SET n = n + 1 WHERE n % 5 = 0", "BEGIN", "INSERT INTO docs (body, n) VALUES ('a', 1)",
        "SAVEPOINT s1", "INSERT INTO docs (body, n) VALUES ('b', 2)", "RELEASE s1", "COMMIT", "BEGIN",
        "INSERT INTO docs (body, n) VALUES ('prepared', 3)", "PREPARE TRANSACTION 'p1'", "COMMIT PREPARED 'p1'",
        "SELECT pg_logical_emit_message(false, 'big', repeat('m', 1500000)) IS NOT NULL", "TRUNCATE docs",
        "CREATE DATABASE gone",
        "DROP DATABASE gone"});
  // Tables st1..st6 with 0 to 5 indexes: dropping st<k> drops k statistics entries (the table and its indexes).
  for (int k = 1; k <= 6; ++k) {
    std::string columns = "a1 int";
    for (int c = 2; c <= 5; ++c) columns += ", a" + std::to_string(c) + " int";
    std::vector<std::string> ddl = {"CREATE TABLE st" + std::to_string(k) + " (" + columns + ")"};
    for (int i = 1; i < k; ++i) {
      ddl.push_back("CREATE INDEX ON st" + std::to_string(k) + " (a" + std::to_string(i) + ")");
    }
    psql(cluster, "postgres", ddl);
  }
  for (int k = 1; k <= 6; ++k) psql(cluster, "postgres", {"DROP TABLE st" + std::to_string(k)});
  psql(cluster, "postgres", {"BEGIN", "CREATE TABLE rolled (a int PRIMARY KEY)", "ROLLBACK"});
  const std::string end = cluster.scalar("SELECT pg_current_wal_flush_lsn()");
  const std::string last_segment = cluster.scalar("SELECT pg_walfile_name(pg_current_wal_flush_lsn())");

  std::vector<walvault::test::ListedRecord> expected;
  for (const auto& row : cluster.query("SELECT start_lsn, prev_lsn, resource_manager, record_type, record_length, "
                                       "xid, replace(description, '|', '/') FROM pg_get_wal_records_info('" +
                                       start + "', '" + end + "')")) {
    std::vector<std::string> f;
    std::stringstream in(row);
    for (std::string part; std::getline(in, part, '|');) f.push_back(part);
    REQUIRE(f.size() >= 6);
    expected.push_back(walvault::test::from_walinspect(f));
  }

  std::vector<std::string> argv = {WALVAULT_BINARY, "dump", "--json"};
  for (const auto& file : walvault::test::segment_files(cluster, first_segment, last_segment)) argv.push_back(file);
  const auto dumped = walvault::test::run(walvault::test::as_postgres(argv));
  INFO(dumped.err.substr(0, 2000));
  CHECK(dumped.exit_code == 0);
  CHECK(dumped.err.find("does not parse") == std::string::npos);
  // pg_walinspect lists the records that end by `end`: compare up to its last one.
  REQUIRE_FALSE(expected.empty());
  const auto start_lsn = *walvault::wal::Lsn::parse(start);
  const auto last_lsn = *walvault::wal::Lsn::parse(expected.back().lsn);
  std::vector<walvault::test::ListedRecord> got;
  std::istringstream lines(dumped.out);
  for (std::string line; std::getline(lines, line);) {
    const auto j = nlohmann::json::parse(line);
    const auto lsn = *walvault::wal::Lsn::parse(j["lsn"].get<std::string>());
    if (lsn < start_lsn || lsn > last_lsn) continue;
    got.push_back(walvault::test::from_walvault(j["lsn"], j["prev"], j["rmgr"], j["tot_len"], j["xid"], j["desc"]));
  }
  CHECK(expected.size() > 2000);
  CHECK(got.size() == expected.size());
  size_t mismatches = 0;
  for (size_t i = 0; i < std::min(got.size(), expected.size()) && mismatches < 10; ++i) {
    if (got[i] == expected[i]) continue;
    ++mismatches;
    INFO("record " << i << ": walvault " << got[i] << " | pg_walinspect " << expected[i]);
    CHECK(got[i] == expected[i]);
  }
  CHECK(mismatches == 0);
  // The workload really dropped 1 to 6 statistics entries in single commits, so the layout was exercised.
  std::set<int> counts;
  for (const auto& r : expected) counts.insert(r.dropped_stats);
  for (int k = 0; k <= 6; ++k) CHECK(counts.contains(k));

  // dump refuses WAL of a version it does not read, by name, and fails when it stops at damage before the end of
  // the files it was given (copies in a directory of their own).
  const auto files = walvault::test::segment_files(cluster, first_segment, last_segment);
  REQUIRE(files.size() >= 3);
  const std::string copies = cluster.work_dir() + "/copies";
  fs::create_directories(copies);
  std::vector<std::string> copied;
  for (size_t i = 0; i < 3; ++i) {
    copied.push_back(copies + "/" + fs::path(files[i]).filename().string());
    fs::copy_file(files[i], copied.back());
  }
  walvault::test::give_to_postgres(copies);
  const auto patch = [](const std::string& path, std::streamoff offset, const std::string& bytes) {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(offset);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  };
  const auto dump = [&](const std::vector<std::string>& paths) {
    std::vector<std::string> args = {WALVAULT_BINARY, "dump"};
    args.insert(args.end(), paths.begin(), paths.end());
    return walvault::test::run(walvault::test::as_postgres(args));
  };
  const auto whole = dump(copied);
  CHECK(whole.exit_code == 0);
  patch(copied[0], 8192 * 20, std::string(8192, '\0'));  // a zeroed page inside the first of three segments
  const auto damaged = dump(copied);
  INFO(damaged.err);
  CHECK(damaged.exit_code == 5);
  CHECK(damaged.err.find("the listing stops there") != std::string::npos);
  CHECK(damaged.err.find("HINT: the wal is damaged or missing a segment before the end of the files given") !=
        std::string::npos);
  patch(copied[0], 0, std::string("\x0D\xD1", 2));  // PostgreSQL 14's page magic
  const auto old_version = dump({copied[0]});
  INFO(old_version.err);
  CHECK(old_version.exit_code == 5);
  CHECK(old_version.err.find("wal of PostgreSQL 14 (page magic 0xD10D) is not supported: walvault reads "
                             "PostgreSQL 15 to 18") != std::string::npos);
}

TEST_CASE("the core loop on this version: stream and back up then wipe then find and restore exactly then verify and drill",
          "[integration][versions][restore]") {
  ArchivedCluster ac({.settings = {"max_prepared_transactions = 5"}});
  PgCluster& pg = ac.pg();
  const std::string work = pg.work_dir();
  pg.exec("CREATE DATABASE app");
  psql(pg, "app",
       {"CREATE TABLE accounts (id serial PRIMARY KEY, owner text NOT NULL, balance int NOT NULL)",
        "INSERT INTO accounts (owner, balance) SELECT 'user ' || g, g FROM generate_series(1, 1500) g",
        "CREATE TABLE boards (id serial PRIMARY KEY, name text NOT NULL)",
        "CREATE TABLE scores (id serial PRIMARY KEY, board int NOT NULL REFERENCES boards, points int NOT NULL)",
        "INSERT INTO boards (name) SELECT 'board ' || g FROM generate_series(1, 50) g",
        "INSERT INTO scores (board, points) SELECT 1 + g % 50, g FROM generate_series(1, 3000) g"});
  // st<k> has k - 1 indexes: dropping it drops k statistics entries.
  for (int k = 1; k <= 6; ++k) {
    std::vector<std::string> ddl = {"CREATE TABLE st" + std::to_string(k) + " (id int, a2 int, a3 int, a4 int, a5 int)"};
    for (int i = 1; i < k; ++i) {
      ddl.push_back("CREATE INDEX ON st" + std::to_string(k) + " (" + (i == 1 ? "id" : "a" + std::to_string(i)) + ")");
    }
    ddl.push_back("INSERT INTO st" + std::to_string(k) + " SELECT g, g, g, g, g FROM generate_series(1, 10) g");
    psql(pg, "app", ddl);
  }
  ac.start_streamer();
  REQUIRE(walvault::test::wait_until([&] { return fs::exists(ac.repo() + "/names") && !fs::is_empty(ac.repo() + "/names"); },
                                     std::chrono::seconds(30)));
  const std::string backup_id = ac.backup();

  const auto app = [&](const std::string& sql) { return pg.scalar(sql, "app"); };
  const std::vector<std::string> board_tables = {"public.boards", "public.scores"};
  // 1. A prepared transaction drops the scoreboard tables (an ORM reset run through two-phase commit).
  pg.exec("INSERT INTO scores (board, points) VALUES (7, 99999)", "app");  // committed just before the wipe
  const auto before_reset = snapshot(app, board_tables);
  const std::string reset_xid = psql(pg, "app",
                                     {"BEGIN", "SELECT txid_current()", "DROP TABLE scores, boards",
                                      "PREPARE TRANSACTION 'reset'"});
  psql(pg, "app", {"COMMIT PREPARED 'reset'"});
  pg.exec("CREATE TABLE boards (id serial PRIMARY KEY, name text NOT NULL)", "app");
  pg.exec("INSERT INTO boards (name) VALUES ('after the wipe')", "app");
  // 2. A mass UPDATE without WHERE.
  const auto before_update = snapshot(app, {"public.accounts"});
  const std::string update_xid =
      psql(pg, "app", {"BEGIN", "SELECT txid_current()", "UPDATE accounts SET balance = 0", "COMMIT"});
  // 3. Drops of tables with 0 to 5 indexes.
  std::vector<std::string> drop_xids;
  for (int k = 1; k <= 6; ++k) {
    drop_xids.push_back(psql(pg, "app", {"BEGIN", "SELECT txid_current()", "DROP TABLE st" + std::to_string(k), "COMMIT"}));
  }
  const auto listed = ac.events_json();
  INFO(listed.err);
  REQUIRE(listed.exit_code == 0);
  const auto events = nlohmann::json::parse(listed.out);
  INFO(listed.out);
  const auto find = [&](const std::string& kind, const std::string& xid) -> const nlohmann::json* {
    const std::string trimmed = xid.substr(0, xid.find('\n'));
    for (const auto& e : events) {
      if (e["kind"] == kind && std::to_string(e["xid"].get<uint32_t>()) == trimmed) return &e;
    }
    return nullptr;
  };
  const auto* reset = find("drop_table", reset_xid);
  REQUIRE(reset != nullptr);
  for (const auto& t : board_tables) {
    CHECK(std::find((*reset)["tables"].begin(), (*reset)["tables"].end(), t) != (*reset)["tables"].end());
  }
  const auto* update = find("mass_update", update_xid);
  REQUIRE(update != nullptr);
  CHECK((*update)["rows"] == 1500);
  CHECK((*update)["tables"] == nlohmann::json::array({"public.accounts"}));
  for (int k = 1; k <= 6; ++k) {
    INFO("st" << k);
    const auto* drop = find("drop_table", drop_xids[static_cast<size_t>(k - 1)]);
    REQUIRE(drop != nullptr);
    CHECK((*drop)["tables"] == nlohmann::json::array({"public.st" + std::to_string(k)}));
  }

  const auto restore_before = [&](const nlohmann::json& event, const std::string& name) {
    auto server = std::make_unique<walvault::test::RestoredServer>(work + "/" + name, walvault::test::free_port());
    const auto restored =
        ac.walvault({"restore", "--repo", ac.repo(), "--target-dir", server->dir(), "--before-event",
                     event["id"].get<std::string>(), "--start", "--port", std::to_string(server->port())});
    INFO(restored.out << restored.err);
    REQUIRE(restored.exit_code == 0);
    CHECK(restored.out.find("target reached: server promoted") != std::string::npos);
    return server;
  };
  const std::string major = std::to_string(walvault::test::pg_major());
  if (!fs::exists("/usr/lib/postgresql/" + major + "/bin/postgres") && !fs::exists("/usr/pgsql-" + major + "/bin")) {
    // This version's programs are only where WALVAULT_PG_BINDIR says (pg_config is 15's): without it, restore
    // --start is refused while planning, before anything is written.
    const std::string target = work + "/unfound";
    const auto r = ac.walvault({"restore", "--repo", ac.repo(), "--target-dir", target, "--before-event",
                                (*reset)["id"].get<std::string>(), "--start"},
                               {"WALVAULT_PG_BINDIR="});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("walvault: error: no PostgreSQL " + major + " server programs (pg_ctl and postgres) found") == 0);
    CHECK(r.err.find("HINT: install postgresql-" + major) != std::string::npos);
    CHECK_FALSE(fs::exists(target));
  }
  {
    const auto restored = restore_before(*reset, "before-reset");
    CHECK(snapshot([&](const std::string& sql) { return restored->scalar(sql, "app"); }, board_tables) == before_reset);
  }
  {
    const auto restored = restore_before(*update, "before-update");
    CHECK(snapshot([&](const std::string& sql) { return restored->scalar(sql, "app"); }, {"public.accounts"}) ==
          before_update);
    CHECK(restored->scalar("SELECT count(*) FROM boards WHERE name = 'after the wipe'", "app") == "1");
    // Data checksums (on by default from 18) survive backup and restore.
    CHECK(restored->scalar("SHOW data_checksums") == pg.scalar("SHOW data_checksums"));
    if (walvault::test::pg_major() >= 18) CHECK(restored->scalar("SHOW data_checksums") == "on");
  }

  // The manifest PostgreSQL sent, as stored: version 2 with the repository's system identifier from 17 on.
  {
    std::ifstream in(ac.repo() + "/backup/" + backup_id + "/backup_manifest");
    const auto manifest = nlohmann::json::parse(in);
    const auto version = manifest["PostgreSQL-Backup-Manifest-Version"].get<int>();
    CHECK(version == (walvault::test::pg_major() >= 17 ? 2 : 1));
    if (version == 2) {
      CHECK(std::to_string(manifest["System-Identifier"].get<uint64_t>()) ==
            pg.scalar("SELECT system_identifier FROM pg_control_system()"));
    }
  }
  const auto verified = ac.walvault({"verify", "--repo", ac.repo(), "--full"});
  INFO(verified.out << verified.err);
  CHECK(verified.exit_code == 0);

  const auto status = ac.walvault({"status", "--repo", ac.repo(), "--json"});
  REQUIRE(status.exit_code == 0);
  CHECK(nlohmann::json::parse(status.out)["index_problems"].empty());
  CHECK(nlohmann::json::parse(status.out)["warnings"].empty());
  if (walvault::test::pg_major() >= 18) {
    // PostgreSQL 18 can invalidate an idle slot, walvault's while its streamer is down: status says so.
    pg.exec("ALTER SYSTEM SET idle_replication_slot_timeout = '90min'");
    pg.exec("SELECT pg_reload_conf()");
    REQUIRE(walvault::test::wait_until([&] { return pg.scalar("SHOW idle_replication_slot_timeout") == "90min"; },
                                       std::chrono::seconds(10)));
    const auto warned = ac.walvault({"status", "--repo", ac.repo(), "--json"});
    INFO(warned.out << warned.err);
    REQUIRE(warned.exit_code == 0);
    const auto j = nlohmann::json::parse(warned.out);
    REQUIRE(j["warnings"].size() == 1);
    CHECK(j["warnings"][0].get<std::string>().find("idle_replication_slot_timeout") != std::string::npos);
    const auto human = ac.walvault({"status", "--repo", ac.repo()});
    CHECK(human.out.find("warning:         ") != std::string::npos);
  }

  const std::string tmp = work + "/drill-tmp";
  fs::create_directories(tmp);
  walvault::test::give_to_postgres(tmp);
  const auto drill = ac.walvault(
      {"drill", "--repo", ac.repo(), "--json", "--check", "SELECT count(*) = 1 FROM pg_database WHERE datname = 'app'"},
      {"TMPDIR=" + tmp});
  INFO(drill.out << drill.err);
  REQUIRE(drill.exit_code == 0);
  const auto report = nlohmann::json::parse(drill.out);
  CHECK(report["ok"] == true);
  bool app_rows_checked = false;
  for (const auto& check : report["checks"]) {
    if (check["name"] == "rows in database app") app_rows_checked = check["ok"] == true;
  }
  CHECK(app_rows_checked);
}
