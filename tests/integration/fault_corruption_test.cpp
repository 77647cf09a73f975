// Fault: damage in the repository. A flipped byte in a segment: verify names it and wal-fetch refuses to hand
// the segment to PostgreSQL. A deleted segment: verify reports the gap and restore plans refuse targets past it.
#include <catch2/catch.hpp>

#include <csignal>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "archive_fixture.hpp"

using nlohmann::json;
using walvault::test::ArchivedCluster;
using walvault::test::files_under;

namespace {

std::vector<std::string> segment_names(const std::string& repo) {
  std::vector<std::string> out;
  for (const auto& f : files_under(repo, "wal/")) {
    if (f.ends_with(".wvs")) out.push_back(f.substr(4, 24));
  }
  return out;
}

}  // namespace

TEST_CASE("fault: a flipped byte in a segment is named by verify and refused by wal-fetch", "[integration][fault][once]") {
  ArchivedCluster a;
  a.start_streamer();
  a.pg().exec("CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 50000) g");
  a.backup();
  a.switch_and_archive();
  a.wait_durable();
  const auto segments = segment_names(a.repo());
  REQUIRE(segments.size() >= 2);
  const std::string victim = segments.back();
  const std::string out_dir = a.pg().work_dir() + "/fetched";
  std::filesystem::create_directories(out_dir);
  walvault::test::give_to_postgres(out_dir);

  const auto good = a.walvault({"wal-fetch", "--repo", a.repo(), victim, out_dir + "/good"});
  INFO(good.err);
  REQUIRE(good.exit_code == 0);
  CHECK(std::filesystem::file_size(out_dir + "/good") == 16U << 20);

  walvault::test::flip_byte(a.repo() + "/wal/" + victim + ".wvs", 3000);
  const auto verify = a.walvault({"verify", "--repo", a.repo(), "--full", "--json"});
  CHECK(verify.exit_code == 5);
  const json report = json::parse(verify.out);
  REQUIRE(report["problems"].size() == 1);
  CHECK(report["problems"][0]["object"] == "wal/" + victim + ".wvs");
  CHECK(report["problems"][0]["kind"] == "segment");

  const auto bad = a.walvault({"wal-fetch", "--repo", a.repo(), victim, out_dir + "/bad"});
  CHECK(bad.exit_code != 0);
  CHECK(bad.err.find(victim) != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(out_dir + "/bad"));
  CHECK(files_under(out_dir) == std::vector<std::string>{"good"});  // no partial or temporary file left
  a.stop_streamer(SIGTERM);
}

TEST_CASE("fault: a deleted segment is a reported gap and restore refuses targets past it", "[integration][fault][once]") {
  ArchivedCluster a;
  a.start_streamer();
  a.pg().exec("CREATE TABLE t (id int, v text)");
  a.backup();
  for (int i = 0; i < 3; ++i) {
    a.pg().exec("INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 5000) g");
    a.switch_and_archive();
  }
  const std::string past = a.pg().scalar("SELECT pg_current_wal_insert_lsn()");
  a.pg().exec("INSERT INTO t VALUES (0, 'after the gap')");
  a.switch_and_archive();
  a.wait_durable();
  const auto segments = segment_names(a.repo());
  REQUIRE(segments.size() >= 4);
  const std::string victim = segments[segments.size() - 3];
  std::filesystem::remove(a.repo() + "/wal/" + victim + ".wvs");

  const auto verify = a.walvault({"verify", "--repo", a.repo(), "--json"});
  INFO(verify.out);
  CHECK(verify.exit_code == 5);
  const json report = json::parse(verify.out);
  bool gap = false;
  for (const auto& p : report["problems"]) {
    if (p["kind"] != "wal_gap") continue;
    gap = true;
    const auto segno = walvault::wal::parse_segment_file_name(victim, 16U << 20)->segno;
    CHECK(p["from_lsn"] == walvault::wal::segment_start(segno, 16U << 20).to_string());
    CHECK(p["to_lsn"] == walvault::wal::segment_start(segno.next(), 16U << 20).to_string());
  }
  CHECK(gap);

  const std::string target = a.pg().work_dir() + "/restored";
  const auto restore =
      a.walvault({"restore", "--repo", a.repo(), "--target-dir", target, "--lsn", past, "--dry-run"});
  INFO(restore.out << restore.err);
  CHECK(restore.exit_code == 6);
  CHECK_FALSE(std::filesystem::exists(target));
  a.stop_streamer(SIGTERM);
}
