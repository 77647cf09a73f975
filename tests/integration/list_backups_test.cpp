// walvault list: two backups with load between them, the WAL they rest on, and the window they open.
#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "backup_fixture.hpp"

using walvault::test::BackupRepo;
using walvault::test::PgCluster;

TEST_CASE("list shows two backups, the WAL range without gaps, and the restorable window", "[integration][list]") {
  PgCluster cluster;
  const BackupRepo repo(cluster);
  repo.pgbench_init(2);
  const auto streamer = repo.start_streamer();

  const auto first = repo.backup();
  const auto load = repo.pgbench_load(4);
  REQUIRE(walvault::test::wait_until([&] { return !load->running(); }, std::chrono::seconds(30)));
  const auto second = repo.backup();
  // A last commit after the second backup, made durable.
  cluster.exec("CREATE TABLE after_backups(i int); INSERT INTO after_backups VALUES (1)");
  std::this_thread::sleep_for(std::chrono::seconds(2));

  const auto listed = repo.list();
  INFO(listed.dump(2));
  REQUIRE(listed["backups"].size() == 2);
  CHECK(listed["backups"][0]["id"] == first["id"]);
  CHECK(listed["backups"][1]["id"] == second["id"]);
  CHECK(listed["backups"][0]["start_lsn"] == first["start_lsn"]);
  CHECK(listed["backups"][1]["stop_lsn"] == second["stop_lsn"]);
  CHECK(listed["backups"][1]["raw_size"].get<uint64_t>() > 0);

  REQUIRE(listed["wal"].size() == 1);
  CHECK(listed["wal"][0]["timeline"] == 1);
  CHECK(listed["wal"][0]["in_progress"] == true);
  CHECK(listed["gaps"].empty());

  REQUIRE(listed["windows"].size() == 1);
  const auto& window = listed["windows"][0];
  CHECK(window["backups"] == nlohmann::json::array({first["id"], second["id"]}));
  CHECK(window["earliest"] == first["stop_time"]);
  REQUIRE(window["latest"].is_string());
  CHECK(window["latest"].get<std::string>() > second["stop_time"].get<std::string>());

  const auto human = repo.walvault({"list", "--repo", repo.path()});
  CHECK(human.exit_code == 0);
  CHECK(human.out.find("Backups (2):\n  " + first["id"].get<std::string>()) == 0);
  CHECK(human.out.find("Gaps:\n  none\n") != std::string::npos);
  CHECK(human.out.find("Restorable window:\n  " + first["stop_time"].get<std::string>() + " .. ") != std::string::npos);
}
