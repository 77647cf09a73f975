// `walvault drill` end to end: restore into a temporary directory, start PostgreSQL, run the checks, report, and
// leave nothing behind, whether the checks pass or fail.
#include <catch2/catch.hpp>

#include <csignal>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "archive_fixture.hpp"

using nlohmann::json;
using walvault::test::ArchivedCluster;
using walvault::test::files_under;

namespace {

const json* find_check(const json& report, const std::string& name) {
  for (const auto& c : report["checks"]) {
    if (c["name"] == name) return &c;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("drill: restores, checks, reports and cleans up", "[integration][drill]") {
  ArchivedCluster a;
  a.start_streamer();
  a.pg().exec("CREATE DATABASE shop");
  a.pg().exec("CREATE TABLE items (id int PRIMARY KEY, name text)", "shop");
  a.pg().exec("INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 300) g", "shop");
  a.pg().exec("CREATE TABLE t (id int)");
  a.pg().exec("INSERT INTO t SELECT generate_series(1, 1000)");
  const std::string id = a.backup();
  a.pg().exec("INSERT INTO t SELECT generate_series(1001, 1500)");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const std::string between = a.pg().scalar("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  a.pg().exec("INSERT INTO t SELECT generate_series(1501, 2000)");
  a.wait_durable();

  const std::string tmp = a.pg().work_dir() + "/drill-tmp";
  std::filesystem::create_directories(tmp);
  walvault::test::give_to_postgres(tmp);
  const std::vector<std::string> env = {"TMPDIR=" + tmp};

  const auto latest = a.walvault({"drill", "--repo", a.repo(), "--json", "--check", "SELECT count(*) = 2000 FROM t",
                                  "--check", "SELECT max(id) FROM t"},
                                 env);
  INFO(latest.out << latest.err);
  REQUIRE(latest.exit_code == 0);
  const json report = json::parse(latest.out);
  CHECK(report["ok"] == true);
  CHECK(report["backup"] == id);
  CHECK(report["rto_seconds"].get<double>() > 0);
  CHECK(report["wal_replayed_bytes"].get<uint64_t>() > 0);
  CHECK(report["rpo_seconds"].get<double>() == Approx(0.0));
  const json* shop = find_check(report, "rows in database shop");
  REQUIRE(shop != nullptr);
  CHECK((*shop)["tables"]["public.items"] == 300);
  const json* postgres = find_check(report, "rows in database postgres");
  REQUIRE(postgres != nullptr);
  CHECK((*postgres)["tables"]["public.t"] == 2000);
  const json* amcheck = find_check(report, "pg_amcheck");
  REQUIRE(amcheck != nullptr);
  CHECK((*amcheck)["ok"] == true);
  // Debian's packages ship pg_amcheck; the server-only packages of 16 to 18 do not, and the report says so.
  CHECK((*amcheck)["skipped"] == !std::filesystem::exists(walvault::test::pg_bindir() + "/pg_amcheck"));
  CHECK(files_under(tmp).empty());
  // The result is kept: status and the metrics report the last drill.
  const auto passed = a.walvault({"status", "--repo", a.repo(), "--prometheus"});
  CHECK(passed.out.find("\nwalvault_last_drill_ok 1\n") != std::string::npos);
  CHECK(passed.out.find("\nwalvault_last_drill_timestamp_seconds ") != std::string::npos);

  // To a time between the inserts, with a check that fails: exit 5, and still nothing left behind.
  const auto at_time = a.walvault({"drill", "--repo", a.repo(), "--time", between, "--check",
                                   "SELECT count(*) = 2000 FROM t"},
                                  env);
  INFO(at_time.out << at_time.err);
  CHECK(at_time.exit_code == 5);
  CHECK(at_time.out.find("drill FAILED") != std::string::npos);
  CHECK(at_time.out.find("FAIL check: SELECT count(*) = 2000 FROM t: returned f") != std::string::npos);
  CHECK(at_time.out.find("ok   rows in database postgres: 1 tables, 1500 rows") != std::string::npos);
  CHECK(at_time.out.find("RPO ") != std::string::npos);
  CHECK(at_time.err.find("drill: 1 check(s) failed") != std::string::npos);
  CHECK(std::filesystem::is_empty(tmp));
  // A failed drill makes status broken and says why, the day it fails.
  const auto failed = a.walvault({"status", "--repo", a.repo(), "--json"});
  INFO(failed.out);
  CHECK(failed.exit_code == 11);
  CHECK(json::parse(failed.out)["last_drill"]["ok"] == false);
  CHECK(json::parse(failed.out)["reasons"][0].get<std::string>().find("the last drill (") != std::string::npos);
  const auto failed_metrics = a.walvault({"status", "--repo", a.repo(), "--prometheus"});
  CHECK(failed_metrics.out.find("\nwalvault_last_drill_ok 0\n") != std::string::npos);

  // A --check that cannot run (an SQL error) is the query's fault, not the data's: exit 2, not 5.
  const auto bad_sql = a.walvault({"drill", "--repo", a.repo(), "--check", "SELECT count(*) FROM no_such_table"}, env);
  INFO(bad_sql.out << bad_sql.err);
  CHECK(bad_sql.exit_code == 2);
  CHECK(bad_sql.out.find("relation \"no_such_table\" does not exist") != std::string::npos);
  CHECK(bad_sql.err.find("drill: 1 --check query(ies) could not run") != std::string::npos);
  CHECK(std::filesystem::is_empty(tmp));

  // A target the repository cannot reach fails before anything is written.
  const auto too_early = a.walvault({"drill", "--repo", a.repo(), "--time", "2000-01-01T00:00:00Z"}, env);
  CHECK(too_early.exit_code == 6);
  CHECK(std::filesystem::is_empty(tmp));
  a.stop_streamer(SIGTERM);
}
