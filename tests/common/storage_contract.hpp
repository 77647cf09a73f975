// The behavioural contract of the Storage interface (storage.hpp), kAll for every store and kAppend for stores with
// append files, as functions over a fresh, empty store, so that every backend's test suite runs the same checks
// (Litestream style): the unit
// tests against MemoryStorage and PosixStorage (tests/unit/storage/storage_test.cpp), the S3 tests against a real
// radosgw (tests/s3/s3_storage_test.cpp). Catch2 assertions; call them inside a test case.
#pragma once

#include <catch2/catch.hpp>

#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "error_code.hpp"
#include "common/error.hpp"
#include "storage/storage.hpp"

namespace walvault::test {

inline storage::Bytes bytes_of(std::string_view text) {
  const auto bytes = std::as_bytes(std::span(text.data(), text.size()));
  return storage::Bytes(bytes.begin(), bytes.end());
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

// a replacing writer (WriteMode::kReplace) replaces an object, and creates a missing one
inline void writers_replace(Storage& s) {
  s.write_atomic("wal/a", bytes_of("one"));
  auto w = s.open_writer("wal/a", storage::WriteMode::kReplace);
  w->write(bytes_of("three"));
  CHECK(s.read("wal/a") == bytes_of("one"));  // the old object until commit
  w->commit();
  CHECK(s.read("wal/a") == bytes_of("three"));
  CHECK(s.read_range("wal/a", 1, 3) == bytes_of("hre"));
  auto fresh = s.open_writer("wal/b", storage::WriteMode::kReplace);
  fresh->write(bytes_of("new"));
  fresh->commit();
  CHECK(s.list("") == std::vector<ObjectInfo>{{"wal/a", 5}, {"wal/b", 3}});
}

// Every check above, by name, for a backend that runs each on its own fresh store.
inline const std::vector<std::pair<std::string_view, void (*)(Storage&)>> kAll = {
    {"writers_replace", writers_replace},
    {"write_read_info_list", write_read_info_list},
    {"view_holds_the_object", view_holds_the_object},
    {"never_overwritten", never_overwritten},
    {"writers_publish_on_commit", writers_publish_on_commit},
    {"remove", remove},
    {"invalid_names", invalid_names},
    {"locks_exclude", locks_exclude},
};


// --- append files (stores with capabilities().append)

inline constexpr std::string_view kFrom = "tip/000000010000000000000003.partial";
inline constexpr std::string_view kTo = "wal/000000010000000000000003.wvs";

inline void make_append(Storage& s, std::string_view name, std::string_view content) {
  auto f = s.open_append(name);
  f->append(bytes_of(content));
  f->sync();
}

// append files grow, are rewritten and cut in place, and reopen with their synced content
inline void append_files(Storage& s) {
  REQUIRE(s.capabilities().append);
  {
    auto f = s.open_append("tip/000000010000000000000001.partial");
    CHECK(f->size() == 0);
    CHECK(s.info("tip/000000010000000000000001.partial") == std::optional<uint64_t>(0));
    f->append(bytes_of("hello "));
    f->append(bytes_of("world"));
    f->write_at(0, bytes_of("J"));
    f->sync();
    CHECK(f->size() == 11);
    CHECK(code_of([&] { f->write_at(12, bytes_of("x")); }) == ErrorCode::kInternal);
    f->truncate(5);
    f->sync();
  }
  auto again = s.open_append("tip/000000010000000000000001.partial");
  CHECK(again->size() == 5);
  CHECK(s.read("tip/000000010000000000000001.partial") == bytes_of("Jello"));
}

// publish_append moves the append file into place
inline void publish_append_moves_into_place(Storage& s) {
  make_append(s, kFrom, "segment container bytes");
  s.publish_append(kFrom, kTo);  // wal/ does not exist yet
  CHECK(s.read(kTo) == bytes_of("segment container bytes"));
  CHECK_FALSE(s.info(kFrom).has_value());
  CHECK(s.list("") == std::vector<ObjectInfo>{{std::string(kTo), 23}});  // nothing else left behind

  // The result is an ordinary immutable object.
  s.write_atomic(kTo, bytes_of("segment container bytes"));
  CHECK(code_of([&] { s.write_atomic(kTo, bytes_of("other")); }) == ErrorCode::kCorrupt);
  // The append name is free again.
  make_append(s, kFrom, "next");
  CHECK(s.read(kFrom) == bytes_of("next"));
}

// publish_append of an empty append file
inline void publish_append_empty(Storage& s) {
  make_append(s, kFrom, "");
  s.publish_append(kFrom, kTo);
  CHECK(s.info(kTo) == std::optional<uint64_t>(0));
  CHECK_FALSE(s.info(kFrom).has_value());
}

// publish_append onto the same content succeeds and removes the append file
inline void publish_append_same_content(Storage& s) {
  s.write_atomic(kTo, bytes_of("same bytes"));
  make_append(s, kFrom, "same bytes");
  s.publish_append(kFrom, kTo);
  CHECK(s.read(kTo) == bytes_of("same bytes"));
  CHECK_FALSE(s.info(kFrom).has_value());
  CHECK(s.list("") == std::vector<ObjectInfo>{{std::string(kTo), 10}});
}

// publish_append onto different content is kCorrupt and keeps both
inline void publish_append_different_content(Storage& s) {
  s.write_atomic(kTo, bytes_of("archived bytes"));
  for (const std::string_view content : {"different bytes", "archived byte", "archived bytesX", ""}) {
    INFO("append file holds '" << content << "'");
    s.remove(kFrom);
    make_append(s, kFrom, content);
    CHECK(code_of([&] { s.publish_append(kFrom, kTo); }) == ErrorCode::kCorrupt);
    CHECK(s.read(kTo) == bytes_of("archived bytes"));
    CHECK(s.read(kFrom) == bytes_of(content));
    // The append file is still usable.
    auto f = s.open_append(kFrom);
    CHECK(f->size() == content.size());
  }
  CHECK(s.list("wal/") == std::vector<ObjectInfo>{{std::string(kTo), 14}});
}

// publish_append of a missing append file is kNotFound
inline void publish_append_missing(Storage& s) {
  CHECK(code_of([&] { s.publish_append(kFrom, kTo); }) == ErrorCode::kNotFound);
  CHECK_FALSE(s.info(kTo).has_value());
  // Also when the target exists: nothing to publish is not success.
  s.write_atomic(kTo, bytes_of("x"));
  CHECK(code_of([&] { s.publish_append(kFrom, kTo); }) == ErrorCode::kNotFound);
  CHECK(s.read(kTo) == bytes_of("x"));
}

// publish_append rejects invalid names
inline void publish_append_invalid_names(Storage& s) {
  make_append(s, kFrom, "x");
  for (const char* name : {"", "/abs", "a/../b", "wal/.tmp", "a/"}) {
    INFO(name);
    CHECK(code_of([&] { s.publish_append(name, kTo); }) == ErrorCode::kInternal);
    CHECK(code_of([&] { s.publish_append(kFrom, name); }) == ErrorCode::kInternal);
  }
  CHECK(s.read(kFrom) == bytes_of("x"));
}

// many small syncs (the streamer's pattern: a fixed-size record rewritten, a log appended to and cut) read back
// exactly, also after reopening, and list with their size
inline void append_many_syncs(Storage& s) {
  auto state = s.open_append("tip/stream.state");
  auto log = s.open_append("tip/000000010000000000000001.tail");
  std::string expected_log;
  for (int i = 0; i < 150; ++i) {
    const std::string record = "state " + std::to_string(1000 + i);
    state->write_at(0, bytes_of(record));
    state->sync();
    const std::string entry = "entry " + std::to_string(i) + ";";
    log->append(bytes_of(entry));
    expected_log += entry;
    if (i % 40 == 39) {  // a cut, as when a chunk completes
      log->truncate(3);
      expected_log.resize(3);
    }
    log->sync();
    if (i % 25 == 0) {
      CHECK(s.read("tip/stream.state") == bytes_of(record));
      CHECK(s.read("tip/000000010000000000000001.tail") == bytes_of(expected_log));
    }
  }
  CHECK(s.read("tip/stream.state") == bytes_of("state 1149"));
  CHECK(s.read_range("tip/000000010000000000000001.tail", 2, 5) == bytes_of(expected_log.substr(2, 5)));
  CHECK(s.list("tip/") == std::vector<ObjectInfo>{{"tip/000000010000000000000001.tail", expected_log.size()},
                                                  {"tip/stream.state", 10}});
  state.reset();
  log.reset();
  auto again = s.open_append("tip/000000010000000000000001.tail");
  CHECK(again->size() == expected_log.size());
  s.remove("tip/000000010000000000000001.tail");
  s.remove("tip/stream.state");
  CHECK(s.list("").empty());
}

// replace() swaps the whole content at once, durably
inline void append_replace(Storage& s) {
  auto f = s.open_append("tip/stream.state");
  f->append(bytes_of("old content that is long"));
  f->sync();
  f->replace(bytes_of("new"));
  CHECK(f->size() == 3);
  CHECK(s.read("tip/stream.state") == bytes_of("new"));
  f->append(bytes_of("er"));
  f->sync();
  f.reset();
  auto again = s.open_append("tip/stream.state");
  CHECK(again->size() == 5);
  CHECK(s.read("tip/stream.state") == bytes_of("newer"));
  CHECK(s.list("tip/") == std::vector<ObjectInfo>{{"tip/stream.state", 5}});
}

// Every append check, by name.
inline const std::vector<std::pair<std::string_view, void (*)(Storage&)>> kAppend = {
    {"append_files", append_files},
    {"append_many_syncs", append_many_syncs},
    {"append_replace", append_replace},
    {"publish_append_moves_into_place", publish_append_moves_into_place},
    {"publish_append_empty", publish_append_empty},
    {"publish_append_same_content", publish_append_same_content},
    {"publish_append_different_content", publish_append_different_content},
    {"publish_append_missing", publish_append_missing},
    {"publish_append_invalid_names", publish_append_invalid_names},
};

}  // namespace contract
}  // namespace walvault::test
