// S3Storage against a real S3 server: the throwaway Ceph radosgw that tests/s3/radosgw.sh starts once per ctest
// run (s3_server.hpp). Each test case writes into its own bucket. Debian's awscli (/usr/bin/aws) checks
// independently what walvault wrote and what the server keeps pending.
#include "storage/s3_storage.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <thread>

#include "../common/storage_contract.hpp"
#include "common/process.hpp"
#include "s3_server.hpp"
#include "storage/s3_signer.hpp"
#include "storage/s3_xml.hpp"

namespace {

using walvault::Error;
using walvault::ErrorCode;
using walvault::storage::Bytes;
using walvault::storage::LockWait;
using walvault::storage::ObjectInfo;
using walvault::storage::S3Client;
using walvault::storage::S3Config;
using walvault::storage::S3Request;
using walvault::storage::S3Storage;
using walvault::test::aws;
using walvault::test::bytes_of;
using walvault::test::code_of;
using walvault::test::new_bucket;
using walvault::test::pending_uploads;
using walvault::test::s3_config;

S3Config config_for(const std::string& bucket) {
  S3Config config = s3_config(bucket);
  config.prefix = "/repo/";    // surrounding slashes are ignored
  config.part_size = 5 << 20;  // S3's minimum, to keep multipart objects (and memstore's RAM) small
  return config;
}

struct S3Backend {
  std::string bucket = new_bucket();
  S3Storage storage{config_for(bucket)};

  // The keys under the repository prefix "repo/" + prefix, as awscli lists them, without "repo/".
  [[nodiscard]] std::vector<std::string> aws_keys(const std::string& prefix) const {
    const auto listed = aws({"list-objects-v2", "--bucket", bucket, "--prefix", "repo/" + prefix});
    std::vector<std::string> keys;
    if (listed.contains("Contents")) {
      for (const auto& entry : listed["Contents"]) keys.push_back(entry["Key"].get<std::string>().substr(5));
    }
    return keys;
  }
};

Bytes pattern(std::size_t size, unsigned seed) {
  Bytes out(size);
  std::minstd_rand random(seed);
  for (auto& b : out) b = static_cast<std::byte>(random());
  return out;
}

std::string message_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return std::string(e.what()) + "\nHINT: " + e.hint();
  }
  FAIL("expected a walvault::Error");
  return {};
}

// A TCP relay in front of the server that can drop every connection it accepts: what a server that is down or
// restarting looks like to a client, without stopping the radosgw that other tests share.
class FlakyRelay {
 public:
  explicit FlakyRelay(int target_port) : target_port_(target_port) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr = loopback(0);
    REQUIRE(::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(listener_, 16) == 0);
    socklen_t length = sizeof addr;
    REQUIRE(::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &length) == 0);
    port_ = ntohs(addr.sin_port);
    accepting_ = std::thread([this] { serve(); });
  }
  ~FlakyRelay() {
    stop_ = true;
    accepting_.join();
    for (auto& t : relays_) t.join();
    ::close(listener_);
  }
  FlakyRelay(const FlakyRelay&) = delete;
  FlakyRelay& operator=(const FlakyRelay&) = delete;

  [[nodiscard]] int port() const { return port_; }
  // While down, open connections are cut and every new one is reset at once.
  void set_down(bool down) { down_ = down; }
  [[nodiscard]] int dropped() const { return dropped_; }

 private:
  static sockaddr_in loopback(int port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return addr;
  }

  void serve() {
    while (!stop_) {
      pollfd ready{listener_, POLLIN, 0};
      if (::poll(&ready, 1, 50) != 1) continue;
      const int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) continue;
      if (down_) {
        reset(client);
        ++dropped_;
        continue;
      }
      relays_.emplace_back([this, client] { relay(client); });
    }
  }

  void relay(int client) {
    const int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const sockaddr_in addr = loopback(target_port_);
    if (::connect(server, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) {
      pollfd fds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
      char buffer[65536];
      bool open = true;
      while (open && !stop_ && !down_) {
        if (::poll(fds, 2, 50) <= 0) continue;
        for (int i = 0; i < 2 && open; ++i) {
          if (fds[i].revents == 0) continue;
          const ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
          open = n > 0 && ::write(fds[1 - i].fd, buffer, static_cast<std::size_t>(n)) == n;
        }
      }
    }
    ::close(server);
    reset(client);
  }

  static void reset(int fd) {
    const linger abort{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
    ::close(fd);
  }

  int target_port_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_ = false;
  std::atomic<bool> down_ = false;
  std::atomic<int> dropped_ = 0;
  std::thread accepting_;
  std::vector<std::thread> relays_;  // touched by the accepting thread only, joined after it
};

}  // namespace

TEST_CASE("s3 storage: the storage contract on radosgw", "[s3]") {
  for (const auto& [name, check] : walvault::test::contract::kAll) {
    DYNAMIC_SECTION(name) {
      S3Backend backend;
      check(backend.storage);
    }
  }
}

TEST_CASE("s3 storage: append files on radosgw", "[s3]") {
  for (const auto& [name, check] : walvault::test::contract::kAppend) {
    DYNAMIC_SECTION(name) {
      S3Backend backend;
      check(backend.storage);
    }
  }
}

TEST_CASE("s3 storage: an append file is a log of write-once pieces, one PUT per sync, cleaned up as it goes", "[s3]") {
  S3Backend backend;
  CHECK_FALSE(backend.storage.capabilities().local_root.has_value());
  auto state = backend.storage.open_append("tip/stream.state");
  for (int i = 0; i < 100; ++i) {
    state->write_at(0, bytes_of("record " + std::to_string(100 + i)));
    state->sync();
    state->sync();  // nothing changed: no piece
  }
  // awscli sees pieces only: never more than one batch of replaced ones plus the live one.
  const auto keys = backend.aws_keys("tip/");
  CHECK(keys.size() <= 33);
  CHECK(keys.size() >= 1);
  for (const std::string& key : keys) CHECK(key.find("tip/stream.state/.piece-") != std::string::npos);
  CHECK(backend.storage.read("tip/stream.state") == bytes_of("record 199"));
  state.reset();
  backend.storage.publish_append("tip/stream.state", "wal/published");
  CHECK(backend.aws_keys("tip/").empty());
  CHECK(backend.storage.read("wal/published") == bytes_of("record 199"));
}

TEST_CASE("s3 storage: list pages through continuation tokens and keeps to its prefix", "[s3]") {
  const std::string bucket = new_bucket();
  S3Config config = config_for(bucket);
  config.list_page_size = 3;
  S3Storage s(config);
  std::vector<ObjectInfo> expected;
  for (int i = 10; i >= 0; --i) {  // written out of order
    const std::string name = "wal/" + std::to_string(100 + i);
    s.write_atomic(name, bytes_of(std::string(static_cast<std::size_t>(i), 'x')));
    expected.insert(expected.begin(), ObjectInfo{name, static_cast<uint64_t>(i)});
  }
  config.prefix = "repo-other";  // a neighbour whose keys share the text "repo"
  S3Storage other(config);
  other.write_atomic("wal/999", bytes_of("not ours"));
  CHECK(s.list("wal/") == expected);
  CHECK(s.list("") == expected);
  CHECK(s.list("wal/10").size() == 10);
  CHECK(other.list("") == std::vector<ObjectInfo>{{"wal/999", 8}});
}

TEST_CASE("s3 storage: ranged reads, also past the end", "[s3]") {
  S3Backend backend;
  S3Storage& s = backend.storage;
  const Bytes data = pattern(1000, 1);
  s.write_atomic("wal/x", data);
  s.write_atomic("wal/empty", {});
  const auto slice = [&](std::size_t from, std::size_t n) {
    return Bytes(data.begin() + static_cast<std::ptrdiff_t>(from),
                 data.begin() + static_cast<std::ptrdiff_t>(from + n));
  };
  CHECK(s.read_range("wal/x", 0, 10) == slice(0, 10));
  CHECK(s.read_range("wal/x", 990, 100) == slice(990, 10));
  CHECK(s.read_range("wal/x", 999, UINT64_MAX) == slice(999, 1));
  CHECK(s.read_range("wal/x", 1000, 1).empty());
  CHECK(s.read_range("wal/x", 5000, 1).empty());
  CHECK(s.read_range("wal/x", 10, 0).empty());
  CHECK(s.read_range("wal/empty", 0, 10).empty());
  CHECK(s.info("wal/empty") == std::optional<uint64_t>(0));
  CHECK(code_of([&] { (void)s.read_range("wal/missing", 10, 0); }) == ErrorCode::kNotFound);
  // version(): changes when the object is rewritten.
  const auto v1 = s.version("wal/x");
  REQUIRE(v1.has_value());
  CHECK(s.version("wal/x") == v1);
  s.remove("wal/x");
  s.write_atomic("wal/x", pattern(1000, 2));
  CHECK(s.version("wal/x") != v1);
  CHECK(code_of([&] { (void)s.version("wal/missing"); }) == ErrorCode::kNotFound);
}

TEST_CASE("s3 storage: a writer streams a large object as a multipart upload, visible only at commit", "[s3]") {
  S3Backend backend;
  S3Storage& s = backend.storage;
  const Bytes data = pattern((20 << 20) + 123, 3);  // four full 5 MiB parts and a short one
  auto w = s.open_writer("backup/1/base.wvt");
  for (std::size_t at = 0; at < data.size(); at += 1 << 20) {
    w->write(std::span(data).subspan(at, std::min<std::size_t>(1 << 20, data.size() - at)));
  }
  CHECK(w->size() == data.size());
  CHECK_FALSE(s.info("backup/1/base.wvt").has_value());
  CHECK(s.list("").empty());
  CHECK(pending_uploads(backend.bucket) == 1);
  w->commit();
  CHECK(s.info("backup/1/base.wvt") == std::optional<uint64_t>(data.size()));
  CHECK(walvault::storage::sha256_hex(s.read("backup/1/base.wvt")) == walvault::storage::sha256_hex(data));
  const auto head = aws({"head-object", "--bucket", backend.bucket, "--key", "repo/backup/1/base.wvt"});
  CHECK(head["ContentLength"] == data.size());
  CHECK(head["ETag"].get<std::string>().ends_with("-5\""));  // five parts

  // Writing the same bytes again succeeds; different bytes of the same size are refused (the digest decides).
  auto same = s.open_writer("backup/1/base.wvt");
  same->write(data);
  same->commit();
  const Bytes small = pattern((5 << 20) + 10, 4);
  auto first = s.open_writer("backup/1/small.wvt");
  first->write(small);
  first->commit();
  Bytes changed = small;
  changed[(5 << 20) + 7] ^= std::byte{1};
  auto different = s.open_writer("backup/1/small.wvt");
  different->write(changed);
  CHECK(code_of([&] { different->commit(); }) == ErrorCode::kCorrupt);
  CHECK(s.read("backup/1/small.wvt") == small);
  CHECK(pending_uploads(backend.bucket) == 0);
}

TEST_CASE("s3 storage: an aborted writer leaves no object and no pending upload", "[s3]") {
  S3Backend backend;
  S3Storage& s = backend.storage;
  {
    auto w = s.open_writer("backup/2/base.wvt");
    w->write(pattern(11 << 20, 4));  // two parts uploaded, one buffered
  }                                  // destroyed without commit
  auto w = s.open_writer("backup/2/base.wvt");
  w->write(pattern(6 << 20, 5));
  w->abort();
  CHECK(pending_uploads(backend.bucket) == 0);
  CHECK(code_of([&] { w->write(bytes_of("x")); }) == ErrorCode::kInternal);
  CHECK_FALSE(s.info("backup/2/base.wvt").has_value());
  CHECK(aws({"list-objects-v2", "--bucket", backend.bucket}).value("KeyCount", 0) == 0);
}

TEST_CASE("s3 storage: the sweep aborts the uploads of killed writers and leaves live ones", "[s3]") {
  using std::chrono::system_clock;
  S3Backend backend;
  S3Storage& s = backend.storage;
  // Uploads as a killed writer leaves them: started, parts sent, never completed nor aborted.
  const auto start_upload = [&](const std::string& name) {
    const auto created = s.client().send(S3Request{
        .operation = "CreateMultipartUpload", .method = "POST", .key = s.key(name), .query = {{"uploads", ""}}});
    REQUIRE(created.status == 200);
    return walvault::storage::xml_text(created.text(), "UploadId").value();
  };
  const Bytes part = pattern(1000, 8);
  const auto upload_part = [&](const std::string& name, const std::string& id) {
    REQUIRE(s.client()
                .send(S3Request{.operation = "UploadPart",
                                .method = "PUT",
                                .key = s.key(name),
                                .query = {{"partNumber", "1"}, {"uploadId", id}},
                                .body = part})
                .status == 200);
  };
  const std::string dead = start_upload("backup/3/base.wvt");
  upload_part("backup/3/base.wvt", dead);
  const std::string live = start_upload("backup/4/base.wvt");
  // The cutoff falls between the live upload's start and its latest part (S3 times count whole seconds here).
  const auto cutoff = std::chrono::ceil<std::chrono::seconds>(system_clock::now()) + std::chrono::seconds(1);
  while (system_clock::now() < cutoff + std::chrono::milliseconds(50)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  upload_part("backup/4/base.wvt", live);

  const std::vector<ObjectInfo> stale{{"backup/3/base.wvt?uploadId=" + dead, 1000}};
  CHECK(s.sweep_temporaries("", cutoff, /*dry_run=*/true) == stale);
  CHECK(pending_uploads(backend.bucket) == 2);
  CHECK(s.sweep_temporaries("", cutoff, /*dry_run=*/false) == stale);
  CHECK(s.sweep_temporaries("", cutoff, false).empty());
  CHECK(pending_uploads(backend.bucket) == 1);  // the live writer's
  CHECK(s.sweep_temporaries("", system_clock::now() + std::chrono::hours(1), false) ==
        std::vector<ObjectInfo>{{"backup/4/base.wvt?uploadId=" + live, 1000}});
  CHECK(pending_uploads(backend.bucket) == 0);
}

TEST_CASE("s3 storage: what walvault wrote, as awscli sees it, holds no credential", "[s3]") {
  S3Backend backend;
  S3Storage& s = backend.storage;
  s.write_atomic("walvault.json", bytes_of("{\"format\":3}"));
  s.write_atomic("wal/000000010000000000000001.wvs", pattern(70000, 6));
  auto w = s.open_writer("backup/20260101T000000Z/base.wvt");
  w->write(pattern((5 << 20) + 1, 7));
  w->commit();
  {
    const auto held = s.lock("index", LockWait::kTry);
    REQUIRE(held);
    CHECK(s.info("locks/index").has_value());  // the lease is an object under the prefix
  }
  CHECK_FALSE(s.info("locks/index").has_value());  // released

  const auto listed = aws({"list-objects-v2", "--bucket", backend.bucket});
  std::vector<ObjectInfo> seen;
  for (const auto& entry : listed["Contents"]) {
    seen.push_back({entry["Key"].get<std::string>(), entry["Size"].get<uint64_t>()});
  }
  CHECK(seen == std::vector<ObjectInfo>{{"repo/backup/20260101T000000Z/base.wvt", (5 << 20) + 1},
                                        {"repo/wal/000000010000000000000001.wvs", 70000},
                                        {"repo/walvault.json", 12}});
  CHECK(pending_uploads(backend.bucket) == 0);
  for (const auto& info : s.list("")) {
    const Bytes bytes = s.read(info.name);
    const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    INFO(info.name);
    CHECK(text.find(walvault::test::s3_server().access_key) == std::string_view::npos);
    CHECK(text.find(walvault::test::s3_server().secret_key) == std::string_view::npos);
  }
}

TEST_CASE("s3 storage: lock leases are renewed while held and taken over once expired", "[s3]") {
  const std::string bucket = new_bucket();
  S3Config config = config_for(bucket);
  config.lease_duration = std::chrono::seconds(3);  // renewed every second
  S3Storage s(config);
  S3Storage other(config);  // another process, as far as the bucket can tell
  const auto expiry = [&](const std::string& name) {
    const Bytes bytes = s.read("locks/" + name);
    return nlohmann::json::parse(std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()))
        .at("expires_unix_ms")
        .get<int64_t>();
  };
  {
    const auto held = s.lock("stream", LockWait::kTry);
    REQUIRE(held);
    const int64_t first = expiry("stream");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (expiry("stream") == first && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    CHECK(expiry("stream") > first);  // the heartbeat renewed it
    CHECK(other.lock("stream", LockWait::kTry) == nullptr);
  }
  CHECK(other.lock("stream", LockWait::kTry) != nullptr);  // released on destruction

  // A holder that died: its lease expired a minute ago.
  const std::string stale = nlohmann::json{{"owner", "dead"}, {"expires_unix_ms", 1'000}}.dump();
  s.write_atomic("locks/index", bytes_of(stale));
  const auto taken = other.lock("index", LockWait::kTry);
  REQUIRE(taken);
  CHECK(s.lock("index", LockWait::kTry) == nullptr);
  // A lease that is not a lease (garbage) names no live holder either.
  s.write_atomic("locks/garbage", bytes_of("not json"));
  CHECK(s.lock("garbage", LockWait::kTry) != nullptr);
}

TEST_CASE("s3 storage: wrong credentials are a one-line error naming the bucket and the operation", "[s3]") {
  S3Backend backend;
  S3Config config = config_for(backend.bucket);
  config.credentials.secret_access_key = "wrong-secret-for-the-test";
  S3Storage bad_secret(config);
  const std::string secret = message_of([&] { bad_secret.write_atomic("wal/a", bytes_of("x")); });
  CHECK_THAT(secret, Catch::StartsWith("s3 PutObject of s3://" + backend.bucket +
                                       "/repo/wal/a failed: HTTP 403 SignatureDoesNotMatch\nHINT: "));
  CHECK_THAT(secret, Catch::Contains("InvalidAccessKeyId/SignatureDoesNotMatch"));
  CHECK_THAT(secret, !Catch::Contains("wrong-secret"));
  config.credentials.access_key_id = "NOSUCHKEY";
  S3Storage bad_key(config);
  CHECK_THAT(message_of([&] { (void)bad_key.list("wal/"); }),
             Catch::StartsWith("s3 ListObjectsV2 of s3://" + backend.bucket +
                               "/repo/wal/ failed: HTTP 403 InvalidAccessKeyId"));
  CHECK(code_of([&] { (void)bad_key.info("wal/a"); }) == ErrorCode::kIo);  // not "absent"
}

TEST_CASE("s3 storage: a missing bucket is NoSuchBucket, never an empty repository", "[s3]") {
  S3Storage s(config_for("walvault-no-such-bucket"));
  CHECK_THAT(message_of([&] { (void)s.list(""); }),
             Catch::Contains("ListObjectsV2 of s3://walvault-no-such-bucket/repo/ failed: HTTP 404 NoSuchBucket"));
  CHECK_THAT(message_of([&] { (void)s.info("walvault.json"); }), Catch::Contains("NoSuchBucket"));
  CHECK_THAT(message_of([&] { s.remove("wal/a"); }), Catch::Contains("bucket walvault-no-such-bucket does not exist"));
}

TEST_CASE("s3 storage: requests are retried while the server is away and succeed once it is back", "[s3]") {
  const std::string bucket = new_bucket();
  FlakyRelay relay(
      std::stoi(walvault::test::s3_server().endpoint.substr(walvault::test::s3_server().endpoint.rfind(':') + 1)));
  S3Config config = config_for(bucket);
  config.endpoint = "http://127.0.0.1:" + std::to_string(relay.port());
  config.retry.total = std::chrono::seconds(60);
  S3Storage s(config);
  s.write_atomic("wal/before", bytes_of("up"));  // a pooled connection now exists, and is dropped below
  relay.set_down(true);
  auto write = std::async(std::launch::async, [&] { s.write_atomic("wal/during", bytes_of("survives")); });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (relay.dropped() < 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  REQUIRE(relay.dropped() >= 3);  // the client came back, again and again
  relay.set_down(false);
  write.get();  // and succeeded once the server was back
  CHECK(S3Storage(config_for(bucket)).read("wal/during") == bytes_of("survives"));
}

TEST_CASE("s3 storage: an unreachable endpoint is retried with backoff, then a retryable error", "[s3]") {
  S3Config config = config_for("walvault-unreachable");
  config.endpoint = "http://127.0.0.1:" + std::to_string(walvault::free_loopback_port());
  config.retry.total = std::chrono::milliseconds(1500);
  S3Storage s(config);
  const auto start = std::chrono::steady_clock::now();
  try {
    (void)s.list("");
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::kIo);
    CHECK(e.retryable());
    CHECK_THAT(e.what(), Catch::StartsWith("s3 ListObjectsV2 of s3://walvault-unreachable/repo/ failed: "));
    CHECK_THAT(e.what(), Catch::Matches(".*\\(([2-9]|[1-9][0-9]) attempts\\)"));
  }
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));  // the total time is bounded
}
