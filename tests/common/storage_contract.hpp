// The behavioural contract of the Storage interface for stores without append files (storage.hpp), as functions
// over a fresh, empty store, so that every backend's test suite runs the same checks (Litestream style): the unit
// tests against MemoryStorage and PosixStorage (tests/unit/storage/storage_test.cpp), the S3 tests against a real
// radosgw (tests/s3/s3_storage_test.cpp). Catch2 assertions; call them inside a test case.
#pragma once

#include <catch2/catch.hpp>

#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "storage/storage.hpp"

namespace walvault::test {

inline storage::Bytes bytes_of(std::string_view text) {
  const auto bytes = std::as_bytes(std::span(text.data(), text.size()));
  return storage::Bytes(bytes.begin(), bytes.end());
}

// The code of the walvault::Error that fn throws (fails the test if it throws none).
inline ErrorCode code_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.code();
  }
  FAIL("expected a walvault::Error");
  return ErrorCode::kInternal;
}

namespace contract {

using storage::Bytes;
using storage::LockWait;
using storage::ObjectInfo;
using storage::Storage;

// write, read, info, list
inline void write_read_info_list(Storage& s) {
  CHECK(s.list("").empty());
  CHECK_FALSE(s.info("wal/a").has_value());
  CHECK(code_of([&] { (void)s.read("wal/a"); }) == ErrorCode::kNotFound);
  CHECK(code_of([&] { (void)s.read_range("wal/a", 0, 1); }) == ErrorCode::kNotFound);

  s.write_atomic("wal/a", bytes_of("hello"));
  s.write_atomic("wal/b", bytes_of(""));
  s.write_atomic("index/x/y", bytes_of("deep"));
  s.write_atomic("walvault.json", bytes_of("{}"));
  CHECK(s.read("wal/a") == bytes_of("hello"));
  CHECK(s.read("wal/b").empty());
  CHECK(s.info("wal/a") == std::optional<uint64_t>(5));
  CHECK(s.read_range("wal/a", 1, 3) == bytes_of("ell"));
  CHECK(s.read_range("wal/a", 3, 100) == bytes_of("lo"));
  CHECK(s.read_range("wal/a", 5, 1).empty());
  CHECK(s.read_range("wal/a", 99, 1).empty());

  CHECK(s.list("wal/") == std::vector<ObjectInfo>{{"wal/a", 5}, {"wal/b", 0}});
  CHECK(s.list("wal") == std::vector<ObjectInfo>{{"wal/a", 5}, {"wal/b", 0}, {"walvault.json", 2}});
  CHECK(s.list("index/") == std::vector<ObjectInfo>{{"index/x/y", 4}});
  CHECK(s.list("").size() == 4);
  CHECK(s.list("nothing/").empty());
}

// a view holds the whole object until it is destroyed
inline void view_holds_the_object(Storage& s) {
  s.write_atomic("wal/long", bytes_of("a longer object"));
  s.write_atomic("wal/empty", bytes_of(""));
  const auto bytes = [](std::span<const std::byte> span) { return Bytes(span.begin(), span.end()); };
  CHECK(code_of([&] { (void)s.view("wal/missing"); }) == ErrorCode::kNotFound);
  CHECK(s.view("wal/empty")->bytes().empty());
  const auto view = s.view("wal/long");
  CHECK(bytes(view->bytes()) == bytes_of("a longer object"));
  // expire may remove an object while verify holds it: the view keeps the bytes it had.
  s.remove("wal/long");
  CHECK_FALSE(s.info("wal/long").has_value());
  CHECK(bytes(view->bytes()) == bytes_of("a longer object"));
}

// objects are never overwritten with different content
inline void never_overwritten(Storage& s) {
  s.write_atomic("wal/a", bytes_of("one"));
  s.write_atomic("wal/a", bytes_of("one"));  // idempotent
  CHECK(code_of([&] { s.write_atomic("wal/a", bytes_of("two")); }) == ErrorCode::kCorrupt);
  CHECK(code_of([&] { s.write_atomic("wal/a", bytes_of("on")); }) == ErrorCode::kCorrupt);
  CHECK(s.read("wal/a") == bytes_of("one"));

  auto same = s.open_writer("wal/a");
  same->write(bytes_of("o"));
  same->write(bytes_of("ne"));
  same->commit();
  auto different = s.open_writer("wal/a");
  different->write(bytes_of("onf"));
  CHECK(code_of([&] { different->commit(); }) == ErrorCode::kCorrupt);
  CHECK(s.read("wal/a") == bytes_of("one"));
  CHECK(s.list("") == std::vector<ObjectInfo>{{"wal/a", 3}});  // no temporary files left behind
}

// streaming writers publish only on commit
inline void writers_publish_on_commit(Storage& s) {
  {
    auto w = s.open_writer("backup/1/base.wvt");
    w->write(bytes_of("abc"));
    CHECK(w->size() == 3);
    CHECK_FALSE(s.info("backup/1/base.wvt").has_value());
    CHECK(s.list("").empty());
  }  // destroyed without commit: aborted
  CHECK_FALSE(s.info("backup/1/base.wvt").has_value());

  auto w = s.open_writer("backup/1/base.wvt");
  w->write(bytes_of("abc"));
  w->abort();
  CHECK(code_of([&] { w->write(bytes_of("x")); }) == ErrorCode::kInternal);
  CHECK(s.list("").empty());

  auto w2 = s.open_writer("backup/1/base.wvt");
  std::string big(300000, 'x');
  w2->write(bytes_of(big));
  w2->write(bytes_of("end"));
  w2->commit();
  CHECK(s.read("backup/1/base.wvt") == bytes_of(big + "end"));
  CHECK(code_of([&] { w2->commit(); }) == ErrorCode::kInternal);
}

// remove
inline void remove(Storage& s) {
  s.write_atomic("index/run-1", bytes_of("x"));
  s.remove("index/run-1");
  s.remove("index/run-1");  // missing is fine
  s.remove("never/there");
  CHECK_FALSE(s.info("index/run-1").has_value());
  s.write_atomic("index/run-1", bytes_of("y"));  // a removed name can be written again with new content
  CHECK(s.read("index/run-1") == bytes_of("y"));
}

// invalid names are rejected
inline void invalid_names(Storage& s) {
  for (const char* name : {"", "/abs", "a//b", "a/../b", "..", ".hidden", "wal/.tmp", "a/", "a\\b"}) {
    INFO(name);
    CHECK(code_of([&] { s.write_atomic(name, bytes_of("x")); }) == ErrorCode::kInternal);
    CHECK(code_of([&] { (void)s.read(name); }) == ErrorCode::kInternal);
  }
}

// locks exclude each other until released
inline void locks_exclude(Storage& s) {
  auto held = s.lock("index", LockWait::kTry);
  REQUIRE(held != nullptr);
  CHECK(s.lock("index", LockWait::kTry) == nullptr);  // not reentrant: a second holder is refused
  CHECK(s.lock("other", LockWait::kTry) != nullptr);  // names are independent
  held.reset();
  CHECK(s.lock("index", LockWait::kTry) != nullptr);
  CHECK(s.lock("index", LockWait::kWait) != nullptr);  // free: waiting returns at once
  CHECK(code_of([&] { (void)s.lock("a/b", LockWait::kTry); }) == ErrorCode::kInternal);
}

// Every check above, by name, for a backend that runs each on its own fresh store.
inline const std::vector<std::pair<std::string_view, void (*)(Storage&)>> kAll = {
    {"write_read_info_list", write_read_info_list},
    {"view_holds_the_object", view_holds_the_object},
    {"never_overwritten", never_overwritten},
    {"writers_publish_on_commit", writers_publish_on_commit},
    {"remove", remove},
    {"invalid_names", invalid_names},
    {"locks_exclude", locks_exclude},
};

}  // namespace contract
}  // namespace walvault::test
