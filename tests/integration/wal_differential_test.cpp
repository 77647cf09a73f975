// Differential test: `walvault dump` against pg_waldump on WAL that a real PG15 cluster (1 MiB segments) wrote
// during a mixed workload: pgbench, DDL, indexes, VACUUM, prepared transactions, subtransactions, a 3 MB
// record that spans pages and segments, and full-page images after checkpoints.
#include <catch2/catch.hpp>
#include <map>
#include <regex>
#include <sstream>

#include "pg_cluster.hpp"
#include "process.hpp"
#include "wal/lsn.hpp"
#include "wal_test_support.hpp"

using walvault::test::PgCluster;

namespace {

struct Line {
  std::string rmgr;
  std::string tot_len;
  std::string xid;
  std::string lsn;
  std::string prev;
  bool operator==(const Line&) const = default;
};

std::vector<Line> parse_listing(const std::string& text) {
  static const std::regex line(R"(^rmgr: (\S+)\s+len \(rec/tot\):\s+\d+/\s*(\d+), tx:\s+(\d+), lsn: (\S+), prev (\S+),)");
  std::vector<Line> out;
  std::istringstream in(text);
  std::smatch m;
  for (std::string l; std::getline(in, l);) {
    if (std::regex_search(l, m, line)) out.push_back({m[1], m[2], m[3], m[4], m[5]});
  }
  return out;
}

}  // namespace

TEST_CASE("walvault dump lists the same records as pg_waldump, with the same commit times",
          "[integration][wal][differential][pg15-tools]") {
  PgCluster cluster({.wal_segment_size_mb = 1,
                     .settings = {"max_prepared_transactions = 5", "wal_keep_size = 1GB", "max_wal_size = 1GB",
                                  "checkpoint_timeout = 1h", "autovacuum = off"}});
  const auto pgbench = [&](const std::vector<std::string>& args) {
    const auto r = cluster.run_pg_program("pgbench", args);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
  };
  const std::string first = cluster.scalar("SELECT pg_walfile_name(pg_current_wal_insert_lsn())");
  pgbench({"-i", "-s", "1", "-q", "postgres"});
  cluster.exec("CHECKPOINT");
  pgbench({"-c", "2", "-t", "300", "-n", "postgres"});
  walvault::test::psql(cluster, "postgres",
                       {"CREATE TABLE docs (id serial primary key, body text, n int)",
                        "INSERT INTO docs (body, n) SELECT md5(g::text), g FROM generate_series(1, 5000) g",
                        "CREATE INDEX docs_body ON docs (body)", "ALTER TABLE docs ADD COLUMN extra int DEFAULT 7",
                        "DELETE FROM docs WHERE n % 3 = 0", "VACUUM docs", "CHECKPOINT",
                        "UPDATE docs SET n = n + 1 WHERE n % 5 = 0",
                        "BEGIN", "INSERT INTO docs (body, n) VALUES ('a', 1)", "SAVEPOINT s1",
                        "INSERT INTO docs (body, n) VALUES ('b', 2)", "ROLLBACK TO SAVEPOINT s1", "SAVEPOINT s2",
                        "UPDATE docs SET body = 'c' WHERE n = 1", "RELEASE s2", "COMMIT",
                        "BEGIN", "INSERT INTO docs (body, n) VALUES ('p', 9)", "PREPARE TRANSACTION 'p1'",
                        "COMMIT PREPARED 'p1'",
                        "BEGIN", "DELETE FROM docs WHERE n = 9", "PREPARE TRANSACTION 'p2'", "ROLLBACK PREPARED 'p2'",
                        "SELECT pg_logical_emit_message(true, 'big', repeat('x', 3000000))",
                        "DROP INDEX docs_body", "INSERT INTO docs (body, n) VALUES (repeat('y', 500000), 0)",
                        "VACUUM FULL docs"});
  const std::string last = cluster.scalar("SELECT pg_walfile_name(pg_switch_wal())");
  cluster.exec("SELECT 1");

  const auto files = walvault::test::segment_files(cluster, first, last);
  REQUIRE(files.size() >= 4);
  const auto pg = cluster.run_pg_program("pg_waldump", {"-p", cluster.data_dir() + "/pg_wal", first, last});
  INFO(pg.err);
  REQUIRE(pg.exit_code == 0);
  std::vector<std::string> argv = {WALVAULT_BINARY, "dump"};
  argv.insert(argv.end(), files.begin(), files.end());
  const auto ours = walvault::test::run(walvault::test::as_postgres(argv));
  INFO(ours.err);
  REQUIRE(ours.exit_code == 0);

  const auto expected = parse_listing(pg.out);
  const auto got = parse_listing(ours.out);
  REQUIRE(expected.size() > 5000);
  CHECK(got.size() == expected.size());
  size_t mismatches = 0;
  for (size_t i = 0; i < std::min(got.size(), expected.size()) && mismatches < 5; ++i) {
    if (got[i] == expected[i]) continue;
    ++mismatches;
    UNSCOPED_INFO("record " << i << ": ours " << got[i].lsn << " " << got[i].rmgr << " " << got[i].tot_len << " tx "
                            << got[i].xid << ", pg_waldump " << expected[i].lsn << " " << expected[i].rmgr << " "
                            << expected[i].tot_len << " tx " << expected[i].xid);
  }
  CHECK(mismatches == 0);
  // The 3 MB message spans pages and segments.
  CHECK(std::any_of(expected.begin(), expected.end(),
                    [](const Line& l) { return l.rmgr == "LogicalMessage" && std::stoul(l.tot_len) > 3000000; }));

  // Commit/abort times and xids, from pg_waldump's text and from `dump --events --json`.
  static const std::regex finish(
      R"(tx:\s+(\d+), lsn: (\S+), prev \S+, desc: (COMMIT|ABORT|COMMIT_PREPARED|ABORT_PREPARED) (?:(\d+): )?(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d\.\d{6}) UTC)");
  std::map<std::string, std::pair<uint64_t, std::string>> golden;  // padded lsn -> xid, iso time
  for (std::sregex_iterator m(pg.out.begin(), pg.out.end(), finish), end; m != end; ++m) {
    const auto xid = std::stoull((*m)[4].matched ? (*m)[4].str() : (*m)[1].str());
    golden[walvault::wal::Lsn::parse((*m)[2].str())->to_string()] = {xid, (*m)[5].str() + "T" + (*m)[6].str() + "Z"};
  }
  const auto events = walvault::test::dump_events(files);
  size_t commits = 0;
  bool prepared = false;
  for (const auto& j : events) {
    if (j["type"] != "commit" && j["type"] != "abort") continue;
    ++commits;
    const auto g = golden.find(j["lsn"].get<std::string>());
    REQUIRE(g != golden.end());
    CHECK(j["xid"].get<uint64_t>() == g->second.first);
    CHECK(j["time"].get<std::string>() == g->second.second);
    prepared = prepared || j["prepared"].get<bool>();
  }
  CHECK(commits == golden.size());
  CHECK(prepared);
}
