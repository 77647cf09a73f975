// `walvault verify` against a real repository: clean, incremental, and each kind of damage named.
#include <catch2/catch.hpp>

#include <csignal>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "archive_fixture.hpp"

using nlohmann::json;
using walvault::test::ArchivedCluster;
using walvault::test::files_under;
using walvault::test::flip_byte;

namespace {

json verify_json(ArchivedCluster& a, bool full, int expected_exit) {
  std::vector<std::string> args = {"verify", "--repo", a.repo(), "--json"};
  if (full) args.push_back("--full");
  const auto r = a.walvault(args);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == expected_exit);
  return json::parse(r.out);
}

bool names(const json& report, const std::string& kind, const std::string& object) {
  for (const auto& p : report["problems"]) {
    if (p["kind"] == kind && p["object"] == object) return true;
  }
  return false;
}

// A copy of a file's bytes, to put back after a damage test.
struct Saved {
  explicit Saved(std::string path) : path_(std::move(path)), copy_(path_ + ".saved") {
    std::filesystem::copy_file(path_, copy_);
  }
  // Copies the bytes back (the file keeps its owner, the postgres OS user) or recreates a deleted file.
  ~Saved() {
    std::filesystem::copy_file(copy_, path_, std::filesystem::copy_options::overwrite_existing);
    walvault::test::give_to_postgres(path_);
    std::filesystem::remove(copy_);
  }
  std::string path_;
  std::string copy_;
};

}  // namespace

TEST_CASE("verify: clean, incremental, then every kind of damage is named", "[integration][verify][once]") {
  ArchivedCluster a;
  a.start_streamer();
  a.pg().exec("CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 20000) g");
  const std::string id = a.backup();
  a.pg().exec("INSERT INTO t SELECT g, md5(g::text) FROM generate_series(20001, 40000) g");
  a.switch_and_archive();
  a.pg().exec("DELETE FROM t WHERE id % 3 = 0");
  a.switch_and_archive();
  a.wait_durable();

  const json first = verify_json(a, false, 0);
  CHECK(first["ok"] == true);
  CHECK(first["counts"]["backups_checked"] == 1);
  CHECK(first["counts"]["segments_checked"].get<int>() >= 3);
  const json second = verify_json(a, false, 0);
  CHECK(second["counts"]["segments_checked"] == 0);
  CHECK(second["counts"]["backups_checked"] == 0);
  CHECK(second["counts"]["index_runs_checked"] == 0);

  const auto human = a.walvault({"verify", "--repo", a.repo()});
  CHECK(human.exit_code == 0);
  CHECK(human.out.find("ok: no problems found") != std::string::npos);

  const auto segments = files_under(a.repo(), "wal/");
  std::vector<std::string> containers;
  for (const auto& s : segments) {
    if (s.ends_with(".wvs")) containers.push_back(s);
  }
  REQUIRE(containers.size() >= 3);

  {  // a flipped byte in a segment
    const std::string object = containers.back();
    const Saved saved(a.repo() + "/" + object);
    flip_byte(a.repo() + "/" + object, 2000);
    const json report = verify_json(a, true, 5);
    CHECK(names(report, "segment", object));
    CHECK(report["problems"].size() == 1);
    CHECK(report["problems"][0]["from_lsn"].is_string());
    const auto human_bad = a.walvault({"verify", "--repo", a.repo(), "--full"});
    CHECK(human_bad.exit_code == 5);
    CHECK(human_bad.out.find("PROBLEM segment: " + object) != std::string::npos);
    CHECK(human_bad.err.find("verify found 1 problem(s)") != std::string::npos);
  }
  {  // a flipped byte in a backup stream
    const std::string object = "backup/" + id + "/base.wvt";
    const Saved saved(a.repo() + "/" + object);
    flip_byte(a.repo() + "/" + object, 5000);
    const json report = verify_json(a, true, 5);
    CHECK(names(report, "backup", object));
  }
  {  // a flipped byte in the backup manifest
    const std::string object = "backup/" + id + "/backup_manifest";
    const Saved saved(a.repo() + "/" + object);
    flip_byte(a.repo() + "/" + object, 100);
    const json report = verify_json(a, false, 5);  // the catalog key covers the manifest: found incrementally
    CHECK(names(report, "backup", object));
  }
  {  // a flipped byte in the index
    const auto runs = files_under(a.repo(), "index/");
    std::string run;
    for (const auto& r : runs) {
      if (r.ends_with(".wvi")) run = r;
    }
    REQUIRE_FALSE(run.empty());
    const Saved saved(a.repo() + "/" + run);
    flip_byte(a.repo() + "/" + run, 80);
    const json report = verify_json(a, true, 5);
    CHECK(names(report, "index", run));
  }
  {  // a deleted segment is a gap with its LSN range
    const std::string object = containers.back();
    const Saved saved(a.repo() + "/" + object);
    std::filesystem::remove(a.repo() + "/" + object);
    const json report = verify_json(a, false, 5);
    bool found = false;
    for (const auto& p : report["problems"]) {
      if (p["kind"] != "wal_gap") continue;
      found = true;
      const std::string segment = object.substr(4, 24);
      CHECK(p["message"].get<std::string>().find("(segment " + segment + "), needed by backup " + id) !=
            std::string::npos);
      CHECK(p["timeline"] == 1);
      CHECK(p["from_lsn"].is_string());
      CHECK(p["to_lsn"].is_string());
    }
    CHECK(found);
  }
  // Everything put back: clean again.
  CHECK(verify_json(a, true, 0)["ok"] == true);
  a.stop_streamer(SIGTERM);
}
