// Damage made after a verify passed is found by the next default verify, and what it found is kept: `list` marks
// the backup, `status` reports it, and restore planning passes it over for the previous good backup (or refuses it
// by --backup), against a real PostgreSQL. Verify's progress shows on a terminal and stays out of --json.
#include <catch2/catch.hpp>
#include <csignal>
#include <nlohmann/json.hpp>

#include "archive_fixture.hpp"

using nlohmann::json;
using walvault::test::ArchivedCluster;
using walvault::test::RestoredServer;

TEST_CASE("a byte flipped after a passing verify is found by the next one, and restore uses the previous backup",
          "[integration][verify][restore][once]") {
  ArchivedCluster ac;
  ac.pg().exec("CREATE TABLE t (id int)");
  ac.start_streamer();
  const std::string first = ac.backup();
  ac.pg().exec("INSERT INTO t SELECT generate_series(1, 1000)");
  ac.switch_and_archive();
  const std::string second = ac.backup();
  ac.pg().exec("INSERT INTO t SELECT generate_series(1001, 2000)");
  ac.switch_and_archive();
  ac.wait_durable();

  const auto clean = ac.walvault({"verify", "--repo", ac.repo()});
  INFO(clean.out << clean.err);
  REQUIRE(clean.exit_code == 0);

  // On a terminal (a pseudo-terminal from script(1)) verify shows its progress; with --json it does not.
  const auto on_tty = [&](const std::string& args) {
    return walvault::test::run(walvault::test::as_postgres(
        {"script", "-qec", std::string(WALVAULT_BINARY) + " " + args + " --repo " + ac.repo(), "/dev/null"}));
  };
  const auto shown = on_tty("verify --full");
  INFO(shown.out);
  CHECK(shown.exit_code == 0);
  CHECK(shown.out.find("\r\033[Kverify: ") != std::string::npos);
  CHECK(shown.out.find(" MiB of ") != std::string::npos);
  const auto quiet = on_tty("verify --full --json");
  CHECK(quiet.exit_code == 0);
  CHECK(quiet.out.find("verify: ") == std::string::npos);
  CHECK(quiet.out.find("\"ok\": true") != std::string::npos);

  // The same size, the same last bytes: only the object's inode times changed.
  const std::string stream = "backup/" + second + "/base.wvt";
  walvault::test::flip_byte(ac.repo() + "/" + stream, 4096);
  const auto found = ac.walvault({"verify", "--repo", ac.repo(), "--json"});
  INFO(found.out << found.err);
  CHECK(found.exit_code == 5);
  CHECK(found.out.find("\"object\": \"" + stream + "\"") != std::string::npos);

  const json listed = json::parse(ac.walvault({"list", "--repo", ac.repo(), "--json"}).out);
  REQUIRE(listed["backups"].size() == 2);
  CHECK(listed["backups"][0]["damaged"] == false);
  CHECK(listed["backups"][1]["damaged"] == true);
  CHECK(ac.walvault({"list", "--repo", ac.repo()}).out.find("DAMAGED: the last 'walvault verify'") !=
        std::string::npos);

  const auto status = ac.walvault({"status", "--repo", ac.repo(), "--json"});
  CHECK(status.exit_code == 11);
  const json st = json::parse(status.out);
  CHECK(st["last_verify"]["damaged"] == json::array({stream}));

  const auto planned = ac.walvault({"restore", "--repo", ac.repo(), "--target-dir", ac.pg().work_dir() + "/plan",
                                    "--latest", "--dry-run", "--json"});
  INFO(planned.out << planned.err);
  REQUIRE(planned.exit_code == 0);
  const json plan = json::parse(planned.out);
  CHECK(plan["backup"]["id"] == first);
  CHECK(plan["skipped_damaged_backups"] == json::array({second}));

  const auto chosen = ac.walvault({"restore", "--repo", ac.repo(), "--target-dir", ac.pg().work_dir() + "/chosen",
                                   "--latest", "--backup", second});
  CHECK(chosen.exit_code == 6);
  CHECK(chosen.err.find("backup " + second + " was found damaged by the last 'walvault verify'") != std::string::npos);

  // From the first backup and all the WAL after it: every row.
  const RestoredServer restored(ac.pg().work_dir() + "/restored", walvault::test::free_port());
  const auto r = ac.walvault({"restore", "--repo", ac.repo(), "--target-dir", restored.dir(), "--latest", "--start",
                              "--port", std::to_string(restored.port())});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("skipped   backup " + second) != std::string::npos);
  CHECK(restored.scalar("SELECT count(*) FROM t") == "2000");
  ac.stop_streamer(SIGTERM);

  // A damaged catalog entry: named by list, status and check, passed over by restore with a warning, and expire,
  // which would otherwise remove WAL that backup needs, refuses.
  const std::string catalog = "backup/" + second + "/backup.json";
  walvault::test::flip_byte(ac.repo() + "/" + catalog, 40);
  const auto damaged_list = ac.walvault({"list", "--repo", ac.repo(), "--json"});
  INFO(damaged_list.out << damaged_list.err);
  REQUIRE(damaged_list.exit_code == 0);
  const json entries = json::parse(damaged_list.out);
  CHECK(entries["backups"].size() == 1);
  REQUIRE(entries["damaged_catalog_entries"].size() == 1);
  CHECK(entries["damaged_catalog_entries"][0].get<std::string>().find(catalog) != std::string::npos);
  const auto damaged_status = ac.walvault({"status", "--repo", ac.repo(), "--json"});
  CHECK(damaged_status.exit_code == 11);
  CHECK(damaged_status.out.find(catalog) != std::string::npos);
  const auto replanned = ac.walvault({"restore", "--repo", ac.repo(), "--target-dir", ac.pg().work_dir() + "/plan2",
                                      "--latest", "--dry-run", "--json"});
  INFO(replanned.out << replanned.err);
  REQUIRE(replanned.exit_code == 0);
  CHECK(json::parse(replanned.out)["backup"]["id"] == first);
  CHECK(replanned.err.find(catalog) != std::string::npos);
  CHECK(replanned.err.find("that backup cannot be used") != std::string::npos);
  const auto expire = ac.walvault({"expire", "--repo", ac.repo(), "--keep-backups", "1", "--dry-run"});
  CHECK(expire.exit_code == 5);
  CHECK(expire.err.find(catalog) != std::string::npos);
}
