// `walvault init`: records the cluster and creates the slot, is idempotent, and refuses a foreign cluster, a
// password in the connection string and a directory that is not a repository. `walvault stream` refuses a
// server whose system identifier is not the repository's.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "format/sealed_object.hpp"
#include "stream_support.hpp"

using namespace walvault::test;

TEST_CASE("init binds a repository to one cluster and refuses others", "[integration][init]") {
  PgCluster a;
  PgCluster b;
  const std::string repo = a.work_dir() + "/repo";
  const std::string id_a = a.scalar("SELECT system_identifier FROM pg_control_system()");
  const std::string id_b = b.scalar("SELECT system_identifier FROM pg_control_system()");

  // --repo from WALVAULT_REPO, default slot name.
  const auto first = walvault_cli({"init", "-d", a.conninfo(), "--json"}, {"WALVAULT_REPO=" + repo});
  INFO(first.err);
  REQUIRE(first.exit_code == 0);
  const auto j = nlohmann::json::parse(first.out);
  CHECK(j["created"] == true);
  CHECK(j["system_identifier"] == id_a);
  CHECK(j["slot"] == "walvault_repo");  // named after the repository's directory
  CHECK(j["slot_created"] == true);
  CHECK(a.scalar("SELECT slot_type || ' ' || (restart_lsn IS NOT NULL) FROM pg_replication_slots "
                 "WHERE slot_name = 'walvault_repo'") == "physical true");

  std::ifstream in(repo + "/walvault.json");
  const auto config = nlohmann::json::parse(in);
  CHECK(config["system_identifier"] == id_a);
  CHECK(config["pg_version"].get<int>() / 10000 == walvault::test::pg_major());
  CHECK(config["segment_size"] == 16 * 1024 * 1024);
  CHECK(config["timeline"] == 1);
  CHECK(config["conninfo"] == a.conninfo());

  // Idempotent on the same cluster; another slot or connection string is refused, not ignored.
  const auto again = walvault_cli({"init", "--repo", repo, "-d", a.conninfo()});
  CHECK(again.exit_code == 0);
  CHECK(again.out.find("already initialised") != std::string::npos);
  const auto other_slot = walvault_cli({"init", "--repo", repo, "-d", a.conninfo(), "--slot", "elsewhere"});
  CHECK(other_slot.exit_code == 3);
  CHECK(other_slot.err.find("this repository owns the replication slot \"walvault_repo\", not \"elsewhere\"") !=
        std::string::npos);
  const auto other_conninfo = walvault_cli({"init", "--repo", repo, "-d", a.conninfo() + " connect_timeout=9"});
  CHECK(other_conninfo.exit_code == 3);
  CHECK(other_conninfo.err.find("not the connection string given") != std::string::npos);
  CHECK(other_conninfo.err.find("walvault set-connection") != std::string::npos);

  // Changing it is an explicit command, checked against the cluster: then init accepts the new one.
  const std::string moved = a.conninfo() + " connect_timeout=9";
  const auto foreign_move = walvault_cli({"set-connection", "--repo", repo, "-d", b.conninfo()});
  CHECK(foreign_move.exit_code == 3);
  CHECK(foreign_move.err.find("repository belongs to database system " + id_a) != std::string::npos);
  CHECK(walvault_cli({"set-connection", "--repo", repo, "-d", moved + " password=x"}).exit_code == 2);
  const auto move = walvault_cli({"set-connection", "--repo", repo, "-d", moved});
  INFO(move.err);
  CHECK(move.exit_code == 0);
  CHECK(walvault_cli({"init", "--repo", repo, "-d", moved}).exit_code == 0);
  CHECK(walvault_cli({"init", "--repo", repo, "-d", a.conninfo()}).exit_code == 3);

  // A second repository on the cluster may not share the first one's slot: its acknowledgements would release
  // WAL the first still needs. Nothing is written.
  const auto shared = walvault_cli({"init", "--repo", a.work_dir() + "/second", "-d", a.conninfo(), "--slot",
                                    "walvault_repo"});
  CHECK(shared.exit_code == 3);
  CHECK(shared.err.find("replication slot \"walvault_repo\" already exists") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(a.work_dir() + "/second/walvault.json"));
  const auto own = walvault_cli({"init", "--repo", a.work_dir() + "/second", "-d", a.conninfo(), "--json"});
  REQUIRE(own.exit_code == 0);
  CHECK(nlohmann::json::parse(own.out)["slot"] == "walvault_second");

  // A lost slot is not recreated behind the repository's back: that would hide the WAL it missed.
  a.exec("SELECT pg_drop_replication_slot('walvault_repo')");
  const auto lost = walvault_cli({"init", "--repo", repo, "-d", moved});
  CHECK(lost.exit_code == 3);
  CHECK(lost.err.find("the repository's replication slot \"walvault_repo\" no longer exists") != std::string::npos);
  CHECK(lost.err.find("walvault new-chain") != std::string::npos);
  CHECK(a.scalar("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'walvault_repo'") == "0");

  // Another cluster: refused, naming both identifiers.
  const auto foreign = walvault_cli({"init", "--repo", repo, "-d", b.conninfo()});
  CHECK(foreign.exit_code == 3);
  CHECK(foreign.err.find("walvault: error: repository belongs to database system " + id_a +
                         ", but the server is database system " + id_b) == 0);
  CHECK(foreign.err.find("HINT: ") != std::string::npos);

  // A password in the connection string: refused before connecting, nothing written.
  const auto password = walvault_cli({"init", "--repo", a.work_dir() + "/repo2", "-d", a.conninfo() + " password=x"});
  CHECK(password.exit_code == 2);
  CHECK(password.err.find("walvault: error: the connection string contains a password\nHINT: ") == 0);
  CHECK_FALSE(std::filesystem::exists(a.work_dir() + "/repo2"));

  // A non-empty directory that is not a repository.
  const std::string other = a.work_dir() + "/other";
  std::filesystem::create_directories(other);
  std::ofstream(other + "/file") << "x";
  give_to_postgres(other);
  const auto taken = walvault_cli({"init", "--repo", other, "-d", a.conninfo()});
  CHECK(taken.exit_code == 3);
  CHECK(taken.err.find("is not empty and is not a walvault repository") != std::string::npos);
}

TEST_CASE("stream refuses a server of another cluster", "[integration][init][stream]") {
  PgCluster a;
  PgCluster b;
  const std::string repo = a.work_dir() + "/repo";
  REQUIRE(walvault_cli({"init", "--repo", repo, "-d", a.conninfo()}).exit_code == 0);
  // Point the repository at cluster b, as a misconfigured host would.
  std::ifstream in(repo + "/walvault.json");
  auto config = nlohmann::json::parse(in);
  config["conninfo"] = b.conninfo();
  std::ofstream(repo + "/walvault.json", std::ios::trunc)
      << walvault::format::seal_json(nlohmann::ordered_json(config), 2);  // resealed
  const auto r = walvault_cli({"stream", "--repo", repo});
  CHECK(r.exit_code == 3);
  CHECK(r.err.find("repository belongs to database system") != std::string::npos);
}
