// `walvault copy` end to end, against radosgw and a real PostgreSQL (15: what is tested is repository logic): a local
// repository with streamed WAL, a backup and a wipe is copied to a bucket, where awscli finds every object with the
// local bytes (append files as their pieces; walvault.json recording the bucket's endpoint), no lock, no pending
// upload and no credential; `restore --before-event` from the bucket gives back the exact data; the bucket is copied
// back to a new directory that `walvault verify` passes. A second copy onto the complete bucket copies nothing, and
// one onto a copy cut short completes it. A streamer started on the bucket adopts the copied tip. Refused: a copy
// while the source's streamer runs, and destinations that hold another repository's objects (nothing is written to
// them).
#include <algorithm>
#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "../integration/archive_fixture.hpp"
#include "../integration/pg_cluster.hpp"
#include "../integration/process.hpp"
#include "common/process.hpp"
#include "repo/repository.hpp"
#include "s3_server.hpp"
#include "storage/s3_storage.hpp"

namespace {

namespace fs = std::filesystem;
using walvault::test::ArchivedCluster;
using walvault::test::aws;
using walvault::test::s3_server;

constexpr const char* kSnapshotSql =
    "SELECT count(*) || '|' || md5(coalesce(string_agg(t::text, ',' ORDER BY id), '')) FROM orders t";

// Every file under dir by its path relative to dir, with its bytes; locks/ left out.
std::map<std::string, std::string> files_of(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    const std::string name = fs::relative(entry.path(), dir).generic_string();
    if (!name.starts_with("locks/")) out[name] = walvault::test::read_text(entry.path().string());
  }
  return out;
}

bool append_file(const std::string& name) {
  return name.starts_with("tip/") || (name.starts_with("index/") && name.find("/tip-") != std::string::npos);
}

}  // namespace

TEST_CASE("s3 copy: a local repository to a bucket and back, restorable and verified", "[s3][copy]") {
  const std::string bucket = walvault::test::new_bucket();
  const std::string url = "s3://" + bucket + "/repo";
  const std::vector<std::string> s3 = {"--s3-endpoint", s3_server().endpoint};
  const auto with_s3 = [&](std::vector<std::string> args) {
    args.insert(args.end(), s3.begin(), s3.end());
    return args;
  };

  ArchivedCluster ac;
  auto& pg = ac.pg();
  const std::string work = pg.work_dir();
  pg.exec("CREATE TABLE orders (id serial PRIMARY KEY, note text NOT NULL)");
  pg.exec("INSERT INTO orders (note) SELECT 'row ' || g FROM generate_series(1, 500) g");
  ac.start_streamer();
  ac.backup();
  pg.exec("INSERT INTO orders (note) VALUES ('just before the wipe')");
  const std::string before = pg.scalar(kSnapshotSql);
  pg.exec("DROP TABLE orders");
  pg.exec("CREATE TABLE after_wipe (id int)");
  const auto listed = ac.events_json();
  REQUIRE(listed.exit_code == 0);
  std::string event;
  for (const auto& e : nlohmann::json::parse(listed.out)) {
    if (e["kind"] == "drop_table") event = e["id"].get<std::string>();
  }
  REQUIRE_FALSE(event.empty());

  {  // the source's streamer runs: refused, nothing written
    const auto refused = ac.walvault(with_s3({"copy", "--repo", ac.repo(), "--to", url}));
    INFO(refused.err);
    CHECK(refused.exit_code == 3);
    CHECK(refused.err.find("'copy' needs the streamer stopped") != std::string::npos);
    CHECK_FALSE(aws({"list-objects-v2", "--bucket", bucket}).contains("Contents"));
  }
  ac.stop_streamer(SIGTERM);
  const auto source = files_of(ac.repo());
  REQUIRE(source.contains("walvault.json"));
  REQUIRE(std::any_of(source.begin(), source.end(), [](const auto& f) { return append_file(f.first); }));

  const auto copied = ac.walvault(with_s3({"copy", "--repo", ac.repo(), "--to", url, "--json"}));
  INFO(copied.err);
  REQUIRE(copied.exit_code == 0);
  const auto stats = nlohmann::json::parse(copied.out);
  CHECK(stats["objects"] == source.size());
  CHECK(stats["copied_objects"] == source.size());
  CHECK(stats["skipped_objects"] == 0);

  {  // what awscli sees in the bucket: the local bytes, no lock, nothing half written, no credential
    const std::string download = work + "/download";
    const auto got = walvault::run_program({"/usr/bin/aws", "--endpoint-url", s3_server().endpoint, "s3", "cp",
                                            "--recursive", "--quiet", "s3://" + bucket + "/", download});
    INFO(got.output);
    REQUIRE(got.exit_code == 0);
    const auto in_bucket = files_of(download);
    std::set<std::string> append_files;
    for (const auto& [key, bytes] : in_bucket) {
      INFO(key);
      REQUIRE(key.starts_with("repo/"));
      const std::string name = key.substr(5);
      CHECK_FALSE(name.starts_with("locks/"));
      CHECK(bytes.find(s3_server().access_key) == std::string::npos);
      CHECK(bytes.find(s3_server().secret_key) == std::string::npos);
      const auto piece = name.find("/.piece-");
      if (piece != std::string::npos) {
        append_files.insert(name.substr(0, piece));
        continue;
      }
      REQUIRE(source.contains(name));
      if (name == "walvault.json") {  // the source's, with the bucket's endpoint recorded as init does
        auto config = walvault::repo::decode_config(bytes);
        REQUIRE(config.s3);
        CHECK(config.s3->endpoint == s3_server().endpoint);
        CHECK(config.s3->path_style);
        config.s3.reset();
        CHECK(config == walvault::repo::decode_config(source.at(name)));
        continue;
      }
      CHECK(bytes == source.at(name));
    }
    std::set<std::string> source_append_files;
    for (const auto& [name, bytes] : source) {
      if (append_file(name)) source_append_files.insert(name);
    }
    CHECK(append_files == source_append_files);
    CHECK(walvault::test::pending_uploads(bucket) == 0);
  }

  {  // a second copy onto the complete bucket copies nothing
    const auto again = ac.walvault(with_s3({"copy", "--repo", ac.repo(), "--to", url, "--json"}));
    INFO(again.err);
    REQUIRE(again.exit_code == 0);
    const auto j = nlohmann::json::parse(again.out);
    CHECK(j["copied_objects"] == 0);
    CHECK(j["copied_bytes"] == 0);
    CHECK(j["skipped_objects"] == source.size());
    CHECK(j["skipped_bytes"] == stats["copied_bytes"]);
  }

  {  // a copy cut short (here: the last objects it writes, and a segment, never written) is completed
    std::string segment;
    std::string catalog;
    for (const auto& [name, bytes] : source) {
      if (segment.empty() && name.starts_with("wal/") && name.ends_with(".wvs")) segment = name;
      if (name.starts_with("backup/") && name.ends_with("/backup.json")) catalog = name;
    }
    REQUIRE_FALSE(segment.empty());
    REQUIRE_FALSE(catalog.empty());
    for (const auto& name : {std::string("walvault.json"), catalog, segment}) {
      aws({"delete-object", "--bucket", bucket, "--key", "repo/" + name});
    }
    const auto resumed = ac.walvault(with_s3({"copy", "--repo", ac.repo(), "--to", url, "--json"}));
    INFO(resumed.err);
    REQUIRE(resumed.exit_code == 0);
    const auto j = nlohmann::json::parse(resumed.out);
    CHECK(j["copied_objects"] == 3);
    CHECK(j["skipped_objects"] == source.size() - 3);
    CHECK(j["copied_bytes"].get<uint64_t>() + j["skipped_bytes"].get<uint64_t>() == stats["copied_bytes"]);
  }

  {  // restore from the bucket, to the instant before the wipe
    const std::string dir = work + "/restore-s3";
    const int port = walvault::test::free_port();
    const auto restored = ac.walvault(with_s3({"restore", "--repo", url, "--target-dir", dir, "--before-event", event,
                                               "--start", "--port", std::to_string(port)}));
    INFO(restored.out << restored.err);
    REQUIRE(restored.exit_code == 0);
    walvault::test::RestoredServer server(dir, port);
    CHECK(server.scalar(kSnapshotSql) == before);
    CHECK(server.scalar("SELECT to_regclass('after_wipe') IS NULL") == "t");
  }

  {  // and back to a new directory, which verify passes
    const std::string back = work + "/back";
    const auto copied_back = ac.walvault(with_s3({"copy", "--repo", url, "--to", back}));
    INFO(copied_back.err);
    REQUIRE(copied_back.exit_code == 0);
    CHECK(copied_back.out.find("checksums match") != std::string::npos);
    const auto returned = files_of(back);
    for (const auto& [name, bytes] : source) {
      INFO(name);
      REQUIRE(returned.contains(name));
      CHECK(returned.at(name) == bytes);
    }
    const auto verified = ac.walvault({"verify", "--repo", back, "--full"});
    INFO(verified.out << verified.err);
    CHECK(verified.exit_code == 0);
  }

  {  // a streamer started on the bucket carries on from the copied tip: it completes the segment that was in
     // progress, and verify finds no gap
    std::string tip_segment;
    for (const auto& [name, bytes] : source) {
      if (name.starts_with("tip/") && name.ends_with(".partial")) tip_segment = name.substr(4, 24);
    }
    REQUIRE_FALSE(tip_segment.empty());
    const std::string log = work + "/stream-s3.log";
    walvault::test::Background streamer(
        walvault::test::as_postgres({WALVAULT_BINARY, "stream", "--repo", url, "--s3-endpoint", s3_server().endpoint}),
        log);
    pg.exec("INSERT INTO after_wipe VALUES (1)");
    (void)pg.scalar("SELECT pg_switch_wal()");
    auto config = walvault::test::s3_config(bucket);
    config.prefix = "repo";
    const walvault::storage::S3Storage in_bucket(config);
    const bool completed = walvault::test::wait_until(
        [&] { return in_bucket.info("wal/" + tip_segment + ".wvs").has_value(); }, std::chrono::seconds(60));
    INFO(walvault::test::read_text(log));
    CHECK(completed);
    CHECK(streamer.stop(SIGTERM) != -1);  // runuser reports the signal: 143
    // No WAL gap, every container sound, and the index agrees with the WAL (the restarted streamer indexed the
    // copied segment's events once).
    const auto verified = ac.walvault(with_s3({"verify", "--repo", url, "--full", "--json"}));
    INFO(verified.out << verified.err);
    CHECK(verified.exit_code == 0);
    const auto report = nlohmann::json::parse(verified.out);
    CHECK(report["problems"].empty());
    CHECK(report["counts"]["segments_checked"].get<int>() >= 3);
  }

  {  // destinations that hold another repository's objects are refused, and left as they were
    const std::string other = "s3://" + bucket + "/other";
    const std::string photo = work + "/photo.jpg";
    std::ofstream(photo) << "not a repository";
    aws({"put-object", "--bucket", bucket, "--key", "other/photo.jpg", "--body", photo});
    const auto foreign = ac.walvault(with_s3({"copy", "--repo", ac.repo(), "--to", other}));
    INFO(foreign.err);
    CHECK(foreign.exit_code == 3);
    CHECK(foreign.err.find("holds objects that are not this repository's (photo.jpg") != std::string::npos);
    CHECK(aws({"list-objects-v2", "--bucket", bucket, "--prefix", "other/"})["Contents"].size() == 1);

    const std::string another = work + "/another";
    fs::create_directories(another);
    std::string config = source.at("walvault.json");
    config[config.find("\"slot\"") + 9] = 'X';  // the slot's name: another repository
    std::ofstream(another + "/walvault.json") << config;
    walvault::test::give_to_postgres(another);
    const auto different = ac.walvault({"copy", "--repo", ac.repo(), "--to", another});
    INFO(different.err);
    CHECK(different.exit_code == 3);
    CHECK(different.err.find("holds another walvault repository") != std::string::npos);
    CHECK(files_of(another).size() == 1);

    const auto inside = ac.walvault({"copy", "--repo", ac.repo(), "--to", ac.repo() + "/copy"});
    CHECK(inside.exit_code == 2);
    CHECK(inside.err.find("overlap") != std::string::npos);
    CHECK_FALSE(fs::exists(ac.repo() + "/copy"));
  }
}
