// Destructive-event classification on real WAL of every supported PostgreSQL version (the [versions] tests run on
// 15 to 18): each destructive statement yields exactly one event of the right kind, with the xid that
// txid_current() reported in the same transaction and the commit time that track_commit_timestamp recorded; the
// same statements rolled back, table rewrites, REINDEX, sequence changes and tables created and dropped in one
// transaction yield none. Dropping and recreating a table in one transaction is a drop_table, refilled or not.
// DROP COLUMN is a drop_column naming the table's oid and the column's attnum (a column with a DEFAULT, and one right
// after a CHECKPOINT, whose pg_attribute row is then only in a full-page image, too); a rewriting ALTER COLUMN ...
// TYPE is an alter_type, while a type change that rewrites nothing (varchar widening) and other rewrites (VACUUM
// FULL, CLUSTER, SET UNLOGGED, ADD COLUMN with a volatile default) stay quiet. With wal_compression a drop whose row
// is only in a compressed image is reported on its commit (the streamer records it as an index problem).
#include <catch2/catch.hpp>
#include <map>
#include <set>
#include <string>

#include "pg_cluster.hpp"
#include "process.hpp"
#include "wal/lsn.hpp"
#include "wal_test_support.hpp"

using walvault::test::PgCluster;
using walvault::test::psql;

namespace {

// Runs statement in its own transaction and returns its xid.
std::string in_transaction(const PgCluster& cluster, const std::string& db, const std::string& statement,
                           const std::string& end = "COMMIT") {
  const auto out = psql(cluster, db, {"BEGIN", "SELECT txid_current()", statement, end});
  return out.substr(0, out.find('\n'));
}

std::string commit_time(const PgCluster& cluster, const std::string& xid) {
  return cluster.scalar("SELECT to_char(pg_xact_commit_timestamp('" + xid +
                        "'::xid) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')");
}

}  // namespace

TEST_CASE("destructive statements yield exactly their events, and rollbacks and rewrites none",
          "[integration][wal][events][versions]") {
  PgCluster cluster({.wal_segment_size_mb = 1,
                     .settings = {"max_prepared_transactions = 5", "wal_keep_size = 1GB", "max_wal_size = 1GB",
                                  "track_commit_timestamp = on", "autovacuum = off"}});
  cluster.exec("CREATE DATABASE app");
  cluster.exec("CREATE DATABASE doomed");
  const std::string doomed_oid = cluster.scalar("SELECT oid FROM pg_database WHERE datname = 'doomed'");
  psql(cluster, "app",
       {"CREATE TABLE big (id int primary key, v text)",
        "INSERT INTO big SELECT g, md5(g::text) FROM generate_series(1, 2000) g",
        "CREATE INDEX big_v ON big (v)",
        "CREATE TABLE victim (id int primary key, v text)",
        "INSERT INTO victim SELECT g, 'v' FROM generate_series(1, 50) g",
        "CREATE TABLE tr (id int primary key)",
        "INSERT INTO tr SELECT generate_series(1, 50)",
        "CREATE SCHEMA s",
        "CREATE TABLE s.a (x int primary key)",
        "CREATE TABLE s.b (y text)",
        "CREATE SEQUENCE s.seq",
        "INSERT INTO s.a VALUES (1)",
        "CREATE TABLE small (id int)",
        "INSERT INTO small SELECT generate_series(1, 10)",
        "CREATE TABLE refill (id int primary key, v text)",
        "INSERT INTO refill SELECT g, 'old' FROM generate_series(1, 50) g",
        "CREATE MATERIALIZED VIEW mv AS SELECT id FROM refill",
        "CREATE SEQUENCE sq",
        "CREATE TABLE reseed (id int primary key, v text)",
        "INSERT INTO reseed SELECT g, 'old' FROM generate_series(1, 50) g",
        "CREATE TABLE recreate (id int)",
        "INSERT INTO recreate SELECT generate_series(1, 50)",
        "CREATE TABLE dc (id int primary key, a int, b text DEFAULT 'x', c int, d int)",
        "INSERT INTO dc SELECT g, g, 'b', g, g FROM generate_series(1, 50) g",
        "CREATE TABLE dropped_too (id int primary key, a int)",
        "CREATE TABLE vc (id int primary key, v varchar(10), n numeric(10,2))",
        "INSERT INTO vc SELECT g, 'v', g FROM generate_series(1, 50) g"});
  const std::string dc_oid = cluster.scalar("SELECT 'dc'::regclass::oid", "app");
  const std::string first = cluster.scalar("SELECT pg_walfile_name(pg_current_wal_insert_lsn())");

  // Rolled back: nothing.
  for (const char* stmt :
       {"DROP TABLE victim", "DROP SCHEMA s CASCADE", "TRUNCATE tr", "DELETE FROM big", "UPDATE big SET v = 'x'",
        "ALTER TABLE dc DROP COLUMN d", "ALTER TABLE vc ALTER COLUMN n TYPE int"}) {
    (void)in_transaction(cluster, "app", stmt, "ROLLBACK");
  }
  // Rewrites and small changes: nothing.
  const std::set<std::string> quiet = {
      // A type change that rewrites nothing keeps every stored byte.
      in_transaction(cluster, "app", "ALTER TABLE vc ALTER COLUMN v TYPE varchar(20)"),
      in_transaction(cluster, "app", "ALTER TABLE vc ADD COLUMN r float8 DEFAULT random()"),
      in_transaction(cluster, "app", "ALTER TABLE vc SET UNLOGGED"),
      in_transaction(cluster, "app", "ALTER TABLE vc SET LOGGED"),
      // A column added and dropped in one transaction held nothing that existed before it.
      in_transaction(cluster, "app", "ALTER TABLE vc ADD COLUMN tmp int; ALTER TABLE vc DROP COLUMN tmp"),
      in_transaction(cluster, "app", "CLUSTER big USING big_pkey"),
      in_transaction(cluster, "app", "DELETE FROM small"),
      in_transaction(cluster, "app", "DROP INDEX big_v"),
      in_transaction(cluster, "app", "REINDEX TABLE big"),
      in_transaction(cluster, "app", "REFRESH MATERIALIZED VIEW mv"),
      in_transaction(cluster, "app", "ALTER SEQUENCE sq AS smallint"),
      // Work tables created and dropped in one transaction held nothing that existed before it.
      in_transaction(cluster, "app", "CREATE TABLE staging (id int); DROP TABLE staging"),
      in_transaction(cluster, "app",
                     "CREATE TABLE staging2 AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 100) g; "
                     "DROP TABLE staging2"),
  };
  psql(cluster, "app", {"VACUUM FULL big", "VACUUM FULL tr"});

  std::map<std::string, std::string> expected;  // xid -> kind
  std::map<std::string, int> dropped_attnum;    // drop_column xid -> attnum
  const std::string alter_xid = in_transaction(cluster, "app", "ALTER TABLE big ALTER COLUMN id TYPE bigint");
  expected[alter_xid] = "alter_type";
  expected[in_transaction(cluster, "app", "ALTER TABLE vc ALTER COLUMN n TYPE numeric(6,1)")] = "alter_type";
  std::string drop = in_transaction(cluster, "app", "ALTER TABLE dc DROP COLUMN a");
  expected[drop] = "drop_column";
  dropped_attnum[drop] = 2;
  drop = in_transaction(cluster, "app", "ALTER TABLE dc DROP COLUMN b");  // with a DEFAULT: the row updated twice
  expected[drop] = "drop_column";
  dropped_attnum[drop] = 3;
  // A migration that removes a field and then its model in one transaction: the table's drop covers the column.
  expected[in_transaction(cluster, "app", "ALTER TABLE dropped_too DROP COLUMN a; DROP TABLE dropped_too")] =
      "drop_table";
  cluster.exec("CHECKPOINT");  // the next change of pg_attribute's page carries a full-page image
  drop = in_transaction(cluster, "app", "ALTER TABLE dc DROP COLUMN c");
  expected[drop] = "drop_column";
  dropped_attnum[drop] = 4;
  expected[in_transaction(cluster, "app", "UPDATE big SET v = 'u'")] = "mass_update";
  expected[in_transaction(cluster, "app", "DELETE FROM big")] = "mass_delete";
  expected[in_transaction(cluster, "app", "TRUNCATE tr")] = "truncate";
  // A reset that reseeds the table in the same transaction is still a truncate.
  expected[in_transaction(cluster, "app",
                          "TRUNCATE refill; INSERT INTO refill SELECT g, 'seed' FROM generate_series(1, 20) g")] =
      "truncate";
  expected[in_transaction(cluster, "app", "DROP TABLE victim")] = "drop_table";
  // A reset helper that drops, recreates and reseeds a table in one transaction (the incidents' pattern), and one
  // that recreates it empty: both dropped the old table.
  expected[in_transaction(cluster, "app",
                          "DROP TABLE reseed; CREATE TABLE reseed (id int primary key, v text); "
                          "INSERT INTO reseed SELECT g, 'seed' FROM generate_series(1, 20) g")] = "drop_table";
  expected[in_transaction(cluster, "app", "DROP TABLE recreate; CREATE TABLE recreate (id int)")] = "drop_table";
  const std::string schema_xid = in_transaction(cluster, "app", "DROP SCHEMA s CASCADE");
  expected[schema_xid] = "drop_table";
  cluster.exec("DROP DATABASE doomed");
  const std::string last = cluster.scalar("SELECT pg_walfile_name(pg_switch_wal())");
  cluster.exec("SELECT 1");

  const auto lines = walvault::test::dump_events(walvault::test::segment_files(cluster, first, last));
  std::map<std::string, std::string> got;
  std::string drop_db_xid;
  for (const auto& j : lines) {
    if (j["type"] != "event") continue;
    const std::string xid = std::to_string(j["xid"].get<uint64_t>());
    const std::string kind = j["kind"];
    INFO(j.dump());
    CHECK(got.count(xid) == 0);
    CHECK(quiet.count(xid) == 0);
    got[xid] = kind;
    CHECK(j["commit_time"].get<std::string>() == commit_time(cluster, xid));
    CHECK(*walvault::wal::Lsn::parse(j["first_lsn"].get<std::string>()) <=
          *walvault::wal::Lsn::parse(j["commit_lsn"].get<std::string>()));
    if (kind == "drop_database") {
      drop_db_xid = xid;
      CHECK(std::to_string(j["db"].get<uint64_t>()) == doomed_oid);
      CHECK(*walvault::wal::Lsn::parse(j["first_lsn"].get<std::string>()) <
            *walvault::wal::Lsn::parse(j["commit_lsn"].get<std::string>()));
    }
    if (kind == "drop_table" && xid == schema_xid) {
      CHECK(j["relfilenodes"].size() >= 3);  // s.a, its index, s.b (+ toast), s.seq
    }
    if (kind == "drop_column") {
      REQUIRE(j["columns"].size() == 1);
      CHECK(std::to_string(j["columns"][0]["rel"].get<uint64_t>()) == dc_oid);
      CHECK(j["columns"][0]["attnum"] == dropped_attnum[xid]);
      CHECK(j["relfilenodes"].empty());
    }
    if (kind == "alter_type") {
      CHECK_FALSE(j["relfilenodes"].empty());  // the files the rewrite replaced
      REQUIRE_FALSE(j["columns"].empty());
      if (xid == alter_xid && j["columns"][0].contains("type_oid")) CHECK(j["columns"][0]["type_oid"] == 20);  // int8
    }
  }
  REQUIRE_FALSE(drop_db_xid.empty());
  expected[drop_db_xid] = "drop_database";
  CHECK(got == expected);
}

TEST_CASE("a column drop only in a compressed page image is reported, never missed silently",
          "[integration][wal][events][once]") {
  PgCluster cluster(
      {.wal_segment_size_mb = 1, .settings = {"wal_compression = pglz", "wal_keep_size = 1GB", "autovacuum = off"}});
  psql(cluster, "postgres", {"CREATE TABLE t (id int primary key, gone int)", "INSERT INTO t VALUES (1, 1)"});
  const std::string first = cluster.scalar("SELECT pg_walfile_name(pg_current_wal_insert_lsn())");
  cluster.exec("CHECKPOINT");  // the drop's pg_attribute row is then only in a (compressed) full-page image
  const std::string xid = in_transaction(cluster, "postgres", "ALTER TABLE t DROP COLUMN gone");
  const std::string last = cluster.scalar("SELECT pg_walfile_name(pg_switch_wal())");
  cluster.exec("SELECT 1");

  bool reported = false;
  for (const auto& j : walvault::test::dump_events(walvault::test::segment_files(cluster, first, last))) {
    if (std::to_string(j["xid"].get<uint64_t>()) != xid) continue;
    INFO(j.dump());
    if (j["type"] == "event") CHECK(j["kind"] == "drop_column");  // if the row was readable after all
    if (j["type"] == "commit") reported = !j["undecodable_catalog_change"].is_null();
  }
  CHECK(reported);
}
