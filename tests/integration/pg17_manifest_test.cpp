// A PostgreSQL 17 cluster (server programs in /opt/walvault-pg/17/bin) end to end: its base backup carries
// backup_manifest version 2 with the cluster's System-Identifier; walvault stores it as sent, `verify --full` finds
// it clean, and `restore --start --pg-bindir` brings it up with 17's programs. Without a 17 bin directory to
// find, restore --start is refused before anything is written. The client programs (psql) stay PostgreSQL 15's.
#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "archive_fixture.hpp"

namespace {

namespace fs = std::filesystem;
using walvault::test::ArchivedCluster;
using walvault::test::RestoredServer;

constexpr const char* kPg17 = "/opt/walvault-pg/17/bin";

}  // namespace

TEST_CASE("PostgreSQL 17: backup_manifest version 2 is stored, verifies clean, and restores with 17's programs",
          "[integration][backup][pg17]") {
  INFO("PostgreSQL 17 server programs are expected in " << kPg17);
  REQUIRE(fs::exists(std::string(kPg17) + "/postgres"));
  walvault::test::ClusterOptions options;
  options.bindir = kPg17;
  ArchivedCluster a(options);
  REQUIRE(a.pg().scalar("SELECT current_setting('server_version_num')::int / 10000") == "17");
  a.start_streamer();
  a.pg().exec("CREATE TABLE t (id int)");
  a.pg().exec("INSERT INTO t SELECT generate_series(1, 300)");
  const std::string id = a.backup();
  a.wait_durable();

  const std::string sysid = a.pg().scalar("SELECT system_identifier FROM pg_control_system()");
  std::ifstream in(a.repo() + "/backup/" + id + "/backup_manifest");
  REQUIRE(in);
  const auto manifest = nlohmann::json::parse(in);
  CHECK(manifest["PostgreSQL-Backup-Manifest-Version"] == 2);
  CHECK(std::to_string(manifest["System-Identifier"].get<uint64_t>()) == sysid);

  const auto verified = a.walvault({"verify", "--repo", a.repo(), "--full", "--json"});
  INFO(verified.out << verified.err);
  CHECK(verified.exit_code == 0);

  const std::string work = a.pg().work_dir();
  if (!fs::exists("/usr/lib/postgresql/17/bin/postgres") && !fs::exists("/usr/pgsql-17/bin/postgres")) {
    // Nowhere to find 17's programs on their own (pg_config is 15's): refused while planning.
    const std::string target = work + "/unfound";
    const auto r = a.walvault({"restore", "--repo", a.repo(), "--target-dir", target, "--latest", "--start"});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("walvault: error: no PostgreSQL 17 server programs (pg_ctl and postgres) found") == 0);
    CHECK(r.err.find("HINT: install postgresql-17 (Debian/Ubuntu: apt-get install postgresql-17; RHEL: "
                     "postgresql17-server) or pass --pg-bindir DIR") != std::string::npos);
    CHECK_FALSE(fs::exists(target));
  }

  RestoredServer server(work + "/restored", walvault::test::free_port());
  const auto restored = a.walvault({"restore", "--repo", a.repo(), "--target-dir", server.dir(), "--latest",
                                    "--start", "--port", std::to_string(server.port()), "--pg-bindir", kPg17});
  INFO(restored.out << restored.err);
  REQUIRE(restored.exit_code == 0);
  CHECK(restored.out.find("(PostgreSQL 17.") != std::string::npos);
  CHECK(restored.out.find("target reached: server promoted") != std::string::npos);
  CHECK(server.scalar("SELECT count(*) FROM t") == "300");
  CHECK(server.scalar("SELECT current_setting('server_version_num')::int / 10000") == "17");
  a.stop_streamer(SIGTERM);
}
