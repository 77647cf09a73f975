// walvault backup's refusals: each gives a clear error and leaves no catalog entry behind.
#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "backup_fixture.hpp"
#include "format/sealed_object.hpp"

using walvault::test::BackupRepo;
using walvault::test::PgCluster;

namespace {

// Catalog entries (backup.json) anywhere under the repository's backup/.
int catalog_entries(const std::string& repo) {
  int n = 0;
  if (!std::filesystem::exists(repo + "/backup")) return 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(repo + "/backup")) {
    if (e.path().filename() == "backup.json") ++n;
  }
  return n;
}

// Rewrites the connection string walvault.json holds (as if the address now served another cluster).
void set_conninfo(const std::string& repo, const std::string& conninfo) {
  const std::string path = repo + "/walvault.json";
  nlohmann::json config = nlohmann::json::parse(std::ifstream(path));
  config["conninfo"] = conninfo;
  std::ofstream(path, std::ios::trunc) << walvault::format::seal_json(nlohmann::ordered_json(config), 2);  // resealed
}

}  // namespace

TEST_CASE("backup refuses a missing streamer, a foreign cluster, user tablespaces and a server that is down",
          "[integration][backup]") {
  PgCluster cluster;
  const BackupRepo repo(cluster);

  const auto no_streamer = repo.walvault({"backup", "--repo", repo.path(), "--fast"});
  CHECK(no_streamer.exit_code == 6);
  CHECK(no_streamer.err.find("walvault: error: no streamer is capturing WAL into this repository, so this backup "
                             "could never be restored\nHINT: run 'walvault stream'") == 0);

  {
    PgCluster foreign;
    set_conninfo(repo.path(), foreign.conninfo());
    const auto result = repo.walvault({"backup", "--repo", repo.path(), "--fast"});
    CHECK(result.exit_code == 3);
    CHECK(result.err.find("walvault: error: repository belongs to database system ") == 0);
    CHECK(result.err.find("but the server is database system ") != std::string::npos);
    set_conninfo(repo.path(), cluster.conninfo());
  }

  {  // user tablespaces are refused, naming each (walvault restores into one data directory)
    const std::string location = cluster.work_dir() + "/ts1";
    std::filesystem::create_directory(location);
    walvault::test::give_to_postgres(location);
    cluster.exec("CREATE TABLESPACE ts1 LOCATION '" + location + "'");
    const std::string oid = cluster.scalar("SELECT oid FROM pg_tablespace WHERE spcname = 'ts1'");
    const auto result = repo.walvault({"backup", "--repo", repo.path(), "--fast"});
    CHECK(result.exit_code == 6);
    CHECK(result.err.find("walvault: error: the cluster has user tablespaces (" + oid + " at " + location +
                          "), which walvault backup does not support\nHINT: move their objects to pg_default") == 0);
    cluster.exec("DROP TABLESPACE ts1");
  }

  cluster.stop();
  const auto down = repo.walvault({"backup", "--repo", repo.path(), "--fast"});
  CHECK(down.exit_code == 4);
  CHECK(down.err.find("walvault: error: cannot connect to PostgreSQL: ") == 0);

  CHECK(catalog_entries(repo.path()) == 0);
  CHECK(repo.list()["backups"].empty());
}

TEST_CASE("a backup killed mid-transfer leaves no catalog entry, and the next backup removes its leftovers",
          "[integration][backup]") {
  PgCluster cluster;
  const BackupRepo repo(cluster);
  repo.pgbench_init(25);
  const auto streamer = repo.start_streamer();

  walvault::test::Background backup(
      walvault::test::as_postgres({WALVAULT_BINARY, "backup", "--repo", repo.path(), "--fast"}),
      cluster.work_dir() + "/backup.log");
  // The archive's temporary file appears once the server streams base.tar: kill the backup then.
  std::string leftover;
  REQUIRE(walvault::test::wait_until(
      [&] {
        // Files come and go while the backup runs: error codes, never an exception from a vanished entry.
        std::error_code ec;
        for (std::filesystem::recursive_directory_iterator it(repo.path() + "/backup", ec), end; !ec && it != end;
             it.increment(ec)) {
          std::error_code size_ec;
          if (it->is_regular_file(size_ec) && std::filesystem::file_size(it->path(), size_ec) > (16U << 20) &&
              !size_ec) {
            leftover = it->path().parent_path().string();
            return true;
          }
        }
        return false;
      },
      std::chrono::seconds(30)));
  CHECK(backup.stop(SIGKILL) == 128 + SIGKILL);

  CHECK(catalog_entries(repo.path()) == 0);
  CHECK(repo.list()["backups"].empty());
  CHECK(std::filesystem::exists(leftover));

  const auto entry = repo.backup();
  // Its objects and its temporary file are gone (an empty directory may stay: it is no object).
  CHECK((!std::filesystem::exists(leftover) || std::filesystem::is_empty(leftover)));
  const auto listed = repo.list()["backups"];
  REQUIRE(listed.size() == 1);
  CHECK(listed[0]["id"] == entry["id"]);
}
