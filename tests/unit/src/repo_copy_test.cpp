#include <algorithm>
#include <catch2/catch.hpp>
#include <functional>
#include <string>
#include <vector>

#include "../../common/error_code.hpp"
#include "common/error.hpp"
#include "repo/copy.hpp"
#include "repo/repository.hpp"
#include "storage/memory_storage.hpp"

using namespace walvault;

namespace {

using walvault::test::code_of;

storage::Bytes bytes_of(const std::string& text) {
  storage::Bytes out(text.size());
  std::transform(text.begin(), text.end(), out.begin(), [](char c) { return static_cast<std::byte>(c); });
  return out;
}

// A small repository: objects of each kind, append files of each kind (one with unsynced bytes).
void fill_repository(storage::MemoryStorage& s) {
  s.write_atomic("walvault.json", bytes_of("{\"config\": 1}"));
  s.write_atomic("wal/000000010000000000000004.wvs", bytes_of(std::string(100, 'w')));
  s.write_atomic("backup/20261121T045959Z/base.wvt", bytes_of(std::string(50, 'b')));
  s.write_atomic("backup/20261121T045959Z/backup.json", bytes_of("{\"backup\": 1}"));
  s.write_atomic("names/0000000004000000.json", bytes_of("{}"));
  s.open_append("tip/000000010000000000000005.partial")->append(bytes_of(std::string(30, 'p')));
  auto tail = s.open_append("tip/000000010000000000000005.tail");
  tail->append(bytes_of("tail bytes"));
  tail->sync();
  auto index_tip = s.open_append("index/00000001/tip-000000010000000000000005.wvl");
  index_tip->append(bytes_of("index tip log"));
  index_tip->sync();
}

std::vector<std::string> names(const storage::Storage& s) {
  std::vector<std::string> out;
  for (const auto& o : s.list("")) {
    if (!o.name.starts_with("locks/")) out.push_back(o.name);
  }
  return out;
}

void require_same(const storage::Storage& a, const storage::Storage& b) {
  REQUIRE(names(a) == names(b));
  for (const auto& name : names(a)) CHECK(a.read(name) == b.read(name));
}

// copy_repository() and check_copy_destination() with the source's walvault.json.
repo::CopyStats copy_all(const storage::Storage& from, storage::Storage& to, const repo::CopyProgress& progress = {},
                         uint64_t chunk = repo::kCopyChunk) {
  return repo::copy_repository(from, to, from.read("walvault.json"), "dest", progress, chunk);
}
void check_destination(const storage::Storage& from, const storage::Storage& to) {
  repo::check_copy_destination(from, to, from.read("walvault.json"), "dest");
}

// The order in which copy_repository() worked on the objects.
std::vector<std::string> written_order(const storage::Storage& from, storage::Storage& to) {
  std::vector<std::string> order;
  copy_all(
      from, to,
      [&](uint64_t, uint64_t, std::string_view name) {
        if (order.empty() || order.back() != name) order.emplace_back(name);
      },
      7);
  return order;
}

}  // namespace

TEST_CASE("copy_kind: append files and catalogs by name", "[repo][copy]") {
  CHECK(repo::copy_kind("backup/20261121T045959Z/backup.json") == repo::CopyKind::kCatalog);
  CHECK(repo::copy_kind("backup/20261121T045959Z/base.wvt") == repo::CopyKind::kObject);
  CHECK(repo::copy_kind("tip/000000010000000000000005.partial") == repo::CopyKind::kAppend);
  CHECK(repo::copy_kind("tip/stream.state") == repo::CopyKind::kAppend);
  CHECK(repo::copy_kind("index/00000001/tip-000000010000000000000005.wvl") == repo::CopyKind::kAppend);
  CHECK(repo::copy_kind("index/00000001/run-0000000004000000-0000000005000000.wvi") == repo::CopyKind::kObject);
  CHECK(repo::copy_kind("wal/000000010000000000000004.wvs") == repo::CopyKind::kObject);
}

TEST_CASE("copy_repository copies every object, catalogs and walvault.json last, and a second copy skips all",
          "[repo][copy]") {
  storage::MemoryStorage from;
  fill_repository(from);
  storage::MemoryStorage to;
  check_destination(from, to);
  const auto order = written_order(from, to);
  require_same(from, to);
  REQUIRE(order.size() == 8);
  CHECK(order[6] == "backup/20261121T045959Z/backup.json");
  CHECK(order[7] == "walvault.json");

  // The append files are append files at the destination: they grow in place.
  auto tip = to.open_append("tip/000000010000000000000005.partial");
  CHECK(tip->size() == 30);

  storage::MemoryStorage again_from;
  fill_repository(again_from);
  storage::MemoryStorage again_to;
  const auto first = copy_all(again_from, again_to);
  CHECK(first.objects == 8);
  CHECK(first.copied_objects == 8);
  CHECK(first.skipped_objects == 0);
  check_destination(again_from, again_to);
  const auto second = copy_all(again_from, again_to);
  CHECK(second.copied_objects == 0);
  CHECK(second.copied_bytes == 0);
  CHECK(second.skipped_objects == 8);
  CHECK(second.skipped_bytes == first.copied_bytes);
}

TEST_CASE("a copy cut short never looks complete, and the next copy completes it", "[repo][copy]") {
  storage::MemoryStorage from;
  fill_repository(from);
  for (uint64_t fail_at = 1; fail_at < 200; ++fail_at) {
    INFO("operation " << fail_at << " fails");
    storage::MemoryStorage to;
    to.fail_operation(fail_at);
    bool failed = false;
    try {
      copy_all(from, to, {}, 7);
    } catch (const Error& e) {
      failed = true;
      CHECK(e.code() == ErrorCode::kIo);
    }
    if (!failed) break;  // past the last operation
    to.crash();          // and unsynced append bytes are gone too
    // Cut short: walvault.json only once every other object is there whole (the failure was its read-back), a
    // backup.json only once everything of the backups is.
    if (to.info("walvault.json")) require_same(from, to);
    if (to.info("backup/20261121T045959Z/backup.json")) {
      CHECK(to.info("backup/20261121T045959Z/base.wvt") == 50);
    }
    check_destination(from, to);
    copy_all(from, to, {}, 7);
    require_same(from, to);
  }
}

TEST_CASE("copy refuses a foreign destination and never replaces different bytes", "[repo][copy]") {
  storage::MemoryStorage from;
  fill_repository(from);

  storage::MemoryStorage other_repo;
  other_repo.write_atomic("walvault.json", bytes_of("{\"config\": 2}"));
  CHECK(code_of([&] { check_destination(from, other_repo); }) == ErrorCode::kRepository);

  storage::MemoryStorage foreign;
  foreign.write_atomic("photos/cat.jpg", bytes_of("meow"));
  CHECK(code_of([&] { check_destination(from, foreign); }) == ErrorCode::kRepository);

  // Same names and sizes, other bytes: passes the name check, and the copy stops on it before writing anything.
  storage::MemoryStorage damaged;
  damaged.write_atomic("wal/000000010000000000000004.wvs", bytes_of(std::string(99, 'w') + "X"));
  check_destination(from, damaged);
  CHECK(code_of([&] { copy_all(from, damaged); }) == ErrorCode::kCorrupt);
  CHECK(names(damaged) == std::vector<std::string>{"wal/000000010000000000000004.wvs"});

  storage::MemoryStorage other_tip;
  other_tip.open_append("tip/000000010000000000000005.tail")->append(bytes_of("tail XXXXX"));
  CHECK(code_of([&] { copy_all(from, other_tip); }) == ErrorCode::kCorrupt);
}

TEST_CASE("an append file the destination holds the beginning of gets the rest", "[repo][copy]") {
  storage::MemoryStorage from;
  fill_repository(from);
  storage::MemoryStorage to;
  auto tail = to.open_append("tip/000000010000000000000005.tail");
  tail->append(bytes_of("tail"));
  tail->sync();
  tail.reset();
  const auto stats = copy_all(from, to);
  require_same(from, to);
  CHECK(stats.skipped_bytes == 4);
  CHECK(stats.copied_objects == 8);
}

TEST_CASE("destination_config records the destination's S3 endpoint, and only that", "[repo][copy]") {
  repo::RepoConfig config;
  config.system_identifier = 7710473484541078289ULL;
  config.pg_version = 150018;
  config.segment_size = 16U << 20;
  config.timeline = wal::TimelineId(1);
  config.conninfo = "host=db";
  config.slot = "walvault_db";
  config.created = "2026-11-21T04:59:59.705207Z";
  const std::string local_text = repo::encode_config(config);
  const storage::Bytes local = bytes_of(local_text);
  const repo::S3Endpoint endpoint{.endpoint = "http://127.0.0.1:7480", .region = "us-east-1", .path_style = true};

  const storage::Bytes in_bucket = repo::destination_config(local, endpoint);
  auto expected = config;
  expected.s3 = endpoint;
  CHECK(repo::decode_config(std::string(reinterpret_cast<const char*>(in_bucket.data()), in_bucket.size())) ==
        expected);
  CHECK(repo::destination_config(in_bucket, endpoint) == in_bucket);  // unchanged: the same bytes
  CHECK(repo::destination_config(in_bucket, std::nullopt) == local);  // and back
  CHECK(repo::destination_config(local, std::nullopt) == local);
}
