// Proves the harness: a real PostgreSQL of the version under test answers IDENTIFY_SYSTEM in replication mode, and
// its system identifier is the one the server reports from its control file.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "pg/connection.hpp"
#include "pg_cluster.hpp"
#include "process.hpp"

using walvault::test::PgCluster;

TEST_CASE("IDENTIFY_SYSTEM over a replication connection matches the control file", "[integration][harness]") {
  PgCluster cluster;
  const walvault::pg::Connection conn(cluster.conninfo(), walvault::pg::Mode::kPhysicalReplication);
  const auto id = conn.identify_system();

  CHECK(std::to_string(id.system_identifier) == cluster.scalar("SELECT system_identifier FROM pg_control_system()"));
  CHECK(id.timeline.value() == 1);
  CHECK(id.flush_lsn.valid());
  CHECK(conn.wal_segment_size() == 16U << 20);
  CHECK(conn.server_version() / 10000 == walvault::test::pg_major());
}

TEST_CASE("the walvault binary answers --version and --help", "[integration][cli]") {
  const auto version = walvault::test::run({WALVAULT_BINARY, "--version"});
  CHECK(version.exit_code == 0);
  CHECK(version.out.rfind("walvault ", 0) == 0);
  const auto help = walvault::test::run({WALVAULT_BINARY, "--help"});
  CHECK(help.exit_code == 0);
  CHECK(help.out.find("point-in-time recovery") != std::string::npos);
  const auto bad = walvault::test::run({WALVAULT_BINARY, "--no-such-flag"});
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("walvault: error:") == 0);
  CHECK(bad.err.find("HINT:") != std::string::npos);

  // A mistyped command is named, with the nearest one.
  const auto typo = walvault::test::run({WALVAULT_BINARY, "-v", "stauts", "--repo", "/nonexistent"});
  CHECK(typo.exit_code == 2);
  CHECK(typo.err == "walvault: error: unknown command \"stauts\"\nHINT: did you mean 'status'? run 'walvault --help' "
                    "for the commands\n");
  // A bound is stated in words, not as CLI11's range (whose upper end is a 300-digit number).
  const auto zero = walvault::test::run({WALVAULT_BINARY, "expire", "--repo", "/nonexistent", "--keep-backups", "0"});
  CHECK(zero.exit_code == 2);
  CHECK(zero.err.find("expire must keep at least one backup") != std::string::npos);
  CHECK(zero.err.size() < 200);
  // With --json, the error on stderr is JSON too.
  const auto missing = walvault::test::run({WALVAULT_BINARY, "list", "--repo", "/nonexistent/repo", "--json"});
  CHECK(missing.exit_code == 3);
  CHECK(missing.out.empty());
  const auto j = nlohmann::json::parse(missing.err);
  CHECK(j["error"]["code"] == "repository");
  CHECK(j["error"]["exit_code"] == 3);
  CHECK(j["error"]["message"].get<std::string>().find("/nonexistent/repo") != std::string::npos);
}
