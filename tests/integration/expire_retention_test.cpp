// `walvault expire` against a real repository: what it removes, what it never removes, locking, and the index
// compaction it runs afterwards (fewer runs, the same answers).
#include <catch2/catch.hpp>

#include <csignal>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "archive_fixture.hpp"
#include "storage/posix_storage.hpp"

using nlohmann::json;
using walvault::test::ArchivedCluster;
using walvault::test::Background;
using walvault::test::files_under;

namespace {

std::vector<std::string> index_runs(const std::string& repo) {
  std::vector<std::string> out;
  for (const auto& f : files_under(repo, "index/")) {
    if (f.ends_with(".wvi")) out.push_back(f);
  }
  return out;
}

std::vector<std::string> containers(const std::string& repo) {
  std::vector<std::string> out;
  for (const auto& f : files_under(repo, "wal/")) {
    if (f.ends_with(".wvs")) out.push_back(f);
  }
  return out;
}

// Three backups with WAL between them.
std::vector<std::string> three_backups(ArchivedCluster& a) {
  std::vector<std::string> ids;
  a.pg().exec("CREATE TABLE t (id int, v text)");
  for (int i = 0; i < 3; ++i) {
    a.pg().exec("INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 10000) g");
    a.switch_and_archive();
    ids.push_back(a.backup());
    a.switch_and_archive();
  }
  a.wait_durable();
  return ids;
}

}  // namespace

TEST_CASE("expire: keeps the newest backups and all the WAL they need", "[integration][expire][once]") {
  ArchivedCluster a;
  a.start_streamer();
  const auto ids = three_backups(a);
  // Objects, not lock files (a dry run takes the pin lock, which creates its file).
  const auto objects = [&] {
    auto all = files_under(a.repo());
    std::erase_if(all, [](const std::string& f) { return f.starts_with("locks/"); });
    return all;
  };
  const auto before = objects();

  const auto dry = a.walvault({"expire", "--repo", a.repo(), "--keep-backups", "2", "--dry-run", "--json"});
  INFO(dry.out << dry.err);
  REQUIRE(dry.exit_code == 0);
  const json plan = json::parse(dry.out);
  CHECK(plan["expired_backups"] == json::array({ids[0]}));
  CHECK(plan["kept_backups"] == json::array({ids[1], ids[2]}));
  CHECK_FALSE(plan["wal_objects"].empty());
  CHECK(objects() == before);

  const auto list_before = json::parse(a.walvault({"list", "--repo", a.repo(), "--json"}).out);
  const std::string kept_start = list_before["backups"][1]["start_lsn"];
  const auto segment_of_kept = a.pg().scalar("SELECT pg_walfile_name('" + kept_start + "'::pg_lsn + 1)");

  const auto run = a.walvault({"expire", "--repo", a.repo(), "--keep-backups", "2"});
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  CHECK(run.out.find("removed backup " + ids[0]) != std::string::npos);
  CHECK(files_under(a.repo() + "/backup/" + ids[0]).empty());
  for (const auto& c : containers(a.repo())) CHECK(c.substr(4, 24) >= segment_of_kept);
  CHECK(std::filesystem::exists(a.repo() + "/wal/" + segment_of_kept + ".wvs"));

  const auto list_after = json::parse(a.walvault({"list", "--repo", a.repo(), "--json"}).out);
  CHECK(list_after["backups"].size() == 2);
  CHECK(list_after["gaps"].empty());
  const auto verify = a.walvault({"verify", "--repo", a.repo(), "--full"});
  INFO(verify.out);
  CHECK(verify.exit_code == 0);

  // --keep-days with every backup younger than a day removes nothing; a second run is a no-op.
  const auto days = a.walvault({"expire", "--repo", a.repo(), "--keep-days", "1", "--json"});
  REQUIRE(days.exit_code == 0);
  CHECK(json::parse(days.out)["expired_backups"].empty());
  const auto usage = a.walvault({"expire", "--repo", a.repo()});
  CHECK(usage.exit_code == 2);
  CHECK(usage.err.find("exactly one of --keep-backups and --keep-days") != std::string::npos);
  a.stop_streamer(SIGTERM);
}

TEST_CASE("expire: concurrent expires and an expire during a backup remove nothing needed",
          "[integration][expire][fault][once]") {
  ArchivedCluster a;
  a.start_streamer();
  const auto ids = three_backups(a);

  // Two at once: the lock lets one run; the other fails at once and removes nothing.
  Background first(walvault::test::as_postgres({WALVAULT_BINARY, "expire", "--repo", a.repo(), "--keep-backups", "1"}),
                   a.pg().work_dir() + "/expire1.log");
  const auto second = a.walvault({"expire", "--repo", a.repo(), "--keep-backups", "1"});
  const int first_exit = first.stop(0, std::chrono::seconds(60));
  INFO(second.err);
  CHECK((first_exit == 0 || second.exit_code == 0));  // whichever took the lock did the work
  for (const int code : {first_exit, second.exit_code}) CHECK((code == 0 || code == 3));  // 3: locked, nothing done
  if (second.exit_code != 0) {
    CHECK(second.err.find("repository is locked by another backup or expire") != std::string::npos);
  }
  auto list = json::parse(a.walvault({"list", "--repo", a.repo(), "--json"}).out);
  REQUIRE(list["backups"].size() == 1);
  CHECK(list["backups"][0]["id"] == ids[2]);
  CHECK(a.walvault({"verify", "--repo", a.repo(), "--full"}).exit_code == 0);

  // During a backup: expire waits for nobody; it refuses while the backup holds the lock.
  a.pg().run_pg_program("pgbench", {"-i", "-s", "20", "-q", "postgres"});
  Background backup(walvault::test::as_postgres({WALVAULT_BINARY, "backup", "--repo", a.repo(), "--fast"}),
                    a.pg().work_dir() + "/backup.log");
  const walvault::storage::PosixStorage storage(a.repo());
  REQUIRE(walvault::test::wait_until([&] { return storage.lock_holder("backup").has_value(); },
                                     std::chrono::seconds(30)));
  const auto during = a.walvault({"expire", "--repo", a.repo(), "--keep-backups", "1"});
  const int backup_exit = backup.stop(0, std::chrono::seconds(120));
  CHECK(backup_exit == 0);
  if (during.exit_code != 0) {  // the backup may have finished first on a fast machine
    CHECK(during.exit_code == 3);
    CHECK(during.err.find("locked") != std::string::npos);
  }
  a.switch_and_archive();
  a.wait_durable();
  list = json::parse(a.walvault({"list", "--repo", a.repo(), "--json"}).out);
  CHECK(list["backups"].size() == (during.exit_code == 0 ? 1U : 2U));
  const auto verify = a.walvault({"verify", "--repo", a.repo(), "--full"});
  INFO(verify.out);
  CHECK(verify.exit_code == 0);
  a.stop_streamer(SIGTERM);
}

TEST_CASE("expire: compacts the index fully, and locate and events answer the same", "[integration][expire][once]") {
  ArchivedCluster a;
  a.start_streamer();
  a.pg().exec("CREATE TABLE t (id int, v text)");
  a.pg().exec("CREATE TABLE scratch (id int)");
  a.switch_and_archive();
  a.backup();  // first: retention then removes (almost) nothing, and the compaction has runs to merge

  // A dozen segments, one index run each (fewer than the 16 the streamer merges), with events and known times.
  std::vector<std::string> times;
  for (int i = 0; i < 12; ++i) {
    a.pg().exec("INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 2000) g");
    times.push_back(a.pg().scalar("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', "
                                  "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"));
    if (i == 4) a.pg().exec("TRUNCATE scratch");
    if (i == 8) a.pg().exec("DROP TABLE scratch");
    a.switch_and_archive();
  }
  a.wait_durable();
  const auto answers = [&] {
    std::string out = a.walvault({"events", "--repo", a.repo(), "--json"}).out;
    for (const auto& t : times) out += a.walvault({"locate", "--repo", a.repo(), "--time", t, "--json"}).out;
    return out;
  };
  const std::string before = answers();
  REQUIRE(before.find("truncate") != std::string::npos);
  REQUIRE(before.find("drop_table") != std::string::npos);
  const auto runs_before = index_runs(a.repo());
  REQUIRE(runs_before.size() >= 10);  // the last segments' runs may still wait for the WAL after them

  const auto dry = a.walvault({"expire", "--repo", a.repo(), "--keep-backups", "1", "--dry-run", "--json"});
  INFO(dry.out << dry.err);
  REQUIRE(dry.exit_code == 0);
  const json planned = json::parse(dry.out)["index_compaction"];
  REQUIRE(planned.size() == 1);
  CHECK(planned[0]["timeline"] == 1);
  CHECK(planned[0]["runs_before"].get<std::size_t>() >= 10);
  CHECK(planned[0]["runs_after"] == 1);
  CHECK(planned[0]["merged"].size() == 1);
  for (const auto& r : runs_before) CHECK(std::filesystem::exists(a.repo() + "/" + r));  // a dry run removes nothing

  const auto run = a.walvault({"expire", "--repo", a.repo(), "--keep-backups", "1", "--json"});
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  const json done = json::parse(run.out)["index_compaction"];
  REQUIRE(done.size() == 1);
  CHECK(done[0]["runs_after"] == 1);
  // The streamer may have sealed a run meanwhile (its segment is above everything compacted).
  CHECK(index_runs(a.repo()).size() <= 2);
  CHECK(answers() == before);
  const auto verify = a.walvault({"verify", "--repo", a.repo(), "--full"});
  INFO(verify.out);
  CHECK(verify.exit_code == 0);

  // The human form says what it did; a second expire has nothing left to merge.
  const auto again = a.walvault({"expire", "--repo", a.repo(), "--keep-backups", "1"});
  INFO(again.out);
  CHECK(again.exit_code == 0);
  CHECK(again.out.find("compacted the index of timeline 1: ") != std::string::npos);
  CHECK(again.out.find(" -> 1 (") != std::string::npos);
  a.stop_streamer(SIGTERM);
}
