// Test support for the backup and list tests: a repository bound to a PgCluster, a streamer, pgbench, and the
// walvault binary run as a user would. Everything lives in the cluster's work dir and goes with it.
#pragma once

#include <catch2/catch.hpp>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "pg_cluster.hpp"
#include "process.hpp"

namespace walvault::test {

class BackupRepo {
 public:
  explicit BackupRepo(PgCluster& cluster) : cluster_(cluster), path_(cluster.work_dir() + "/repo") {
    const auto init = walvault({"init", "--repo", path_, "-d", cluster.conninfo()});
    INFO(init.err);
    REQUIRE(init.exit_code == 0);
  }

  [[nodiscard]] const std::string& path() const { return path_; }

  // Runs `walvault <args>` as the server's OS user.
  ProcessResult walvault(std::vector<std::string> args) const {
    args.insert(args.begin(), WALVAULT_BINARY);
    return run(as_postgres(args));
  }

  // Starts `walvault stream` and waits until it has made WAL durable.
  std::unique_ptr<Background> start_streamer() const {
    auto streamer = std::make_unique<Background>(as_postgres({WALVAULT_BINARY, "stream", "--repo", path_}),
                                                 cluster_.work_dir() + "/stream.log");
    REQUIRE(wait_until([&] { return std::filesystem::exists(path_ + "/tip/stream.state"); }, std::chrono::seconds(20)));
    return streamer;
  }

  // `walvault backup --fast --json`; returns the catalog entry it printed.
  nlohmann::json backup() const {
    const auto result = walvault({"backup", "--repo", path_, "--fast", "--json"});
    INFO(result.err);
    REQUIRE(result.exit_code == 0);
    return nlohmann::json::parse(result.out);
  }

  nlohmann::json list() const {
    const auto result = walvault({"list", "--repo", path_, "--json"});
    INFO(result.err);
    REQUIRE(result.exit_code == 0);
    return nlohmann::json::parse(result.out);
  }

  void pgbench_init(int scale) const {
    const auto out =
        cluster_.run_pg_program("pgbench", {"-i", "-q", "-s", std::to_string(scale), "-h", "127.0.0.1", "-p",
                                            std::to_string(cluster_.port()), "-U", "postgres", "postgres"});
    INFO(out.err);
    REQUIRE(out.exit_code == 0);
  }

  // pgbench for `seconds` in the background.
  std::unique_ptr<Background> pgbench_load(int seconds) const {
    return std::make_unique<Background>(
        as_postgres({pg_program("pgbench"), "-n", "-c", "2", "-T", std::to_string(seconds), "-h", "127.0.0.1", "-p",
                     std::to_string(cluster_.port()), "-U", "postgres", "postgres"}),
        cluster_.work_dir() + "/pgbench.log");
  }

 private:
  PgCluster& cluster_;
  std::string path_;
};

}  // namespace walvault::test
