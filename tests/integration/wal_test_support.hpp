// Test support for the WAL integration tests: psql sessions, the segment files of a cluster, and
// `walvault dump` output parsed into records, commits and events.
#pragma once

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "pg_cluster.hpp"
#include "process.hpp"

namespace walvault::test {

// Runs each command in one psql session (so BEGIN ... COMMIT spans them); returns the unaligned output.
inline std::string psql(const PgCluster& cluster, const std::string& db, const std::vector<std::string>& commands) {
  std::vector<std::string> args = {"-X", "-At", "-q", "-v", "ON_ERROR_STOP=1", "-d", db};
  for (const auto& c : commands) {
    args.push_back("-c");
    args.push_back(c);
  }
  const auto out = cluster.run_pg_program("psql", args);
  INFO(out.err);
  REQUIRE(out.exit_code == 0);
  return out.out;
}

// Segment files in pg_wal named from `first` to `last` inclusive, in order.
inline std::vector<std::string> segment_files(const PgCluster& cluster, const std::string& first,
                                              const std::string& last) {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(cluster.data_dir() + "/pg_wal")) {
    const auto name = e.path().filename().string();
    if (name.size() == 24 && name >= first && name <= last) files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// `walvault dump --events --json FILE...`: one JSON object per line.
inline std::vector<nlohmann::json> dump_events(const std::vector<std::string>& files) {
  std::vector<std::string> argv = {WALVAULT_BINARY, "dump", "--events", "--json"};
  argv.insert(argv.end(), files.begin(), files.end());
  const auto r = run(as_postgres(argv));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  std::vector<nlohmann::json> out;
  size_t pos = 0;
  while (pos < r.out.size()) {
    const size_t nl = r.out.find('\n', pos);
    const std::string line = r.out.substr(pos, nl - pos);
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
  return out;
}

}  // namespace walvault::test
