// Storage::publish_append (an append file becomes an immutable object), run against every backend like the
// behavioural suite in storage_test.cpp.
#include <catch2/catch.hpp>

#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <functional>
#include <string>

#include "storage/memory_storage.hpp"
#include "storage/posix_storage.hpp"

namespace {

using walvault::Error;
using walvault::ErrorCode;
using walvault::storage::Bytes;
using walvault::storage::MemoryStorage;
using walvault::storage::ObjectInfo;
using walvault::storage::PosixStorage;
using walvault::storage::Storage;

constexpr std::string_view kFrom = "tip/000000010000000000000003.partial";
constexpr std::string_view kTo = "wal/000000010000000000000003.wvs";

Bytes bytes_of(std::string_view text) {
  const auto bytes = std::as_bytes(std::span(text.data(), text.size()));
  return Bytes(bytes.begin(), bytes.end());
}

ErrorCode code_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.code();
  }
  FAIL("expected a walvault::Error");
  return ErrorCode::kInternal;
}

struct MemoryPublishBackend {
  MemoryStorage storage;
};

std::string make_temp_dir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "walvault-publish-XXXXXX").string();
  REQUIRE(::mkdtemp(pattern.data()) != nullptr);
  return pattern;
}

struct PosixPublishBackend {
  PosixPublishBackend() = default;
  ~PosixPublishBackend() { std::filesystem::remove_all(dir); }
  PosixPublishBackend(const PosixPublishBackend&) = delete;
  PosixPublishBackend& operator=(const PosixPublishBackend&) = delete;
  std::string dir = make_temp_dir();  // declared before storage, so initialised first
  PosixStorage storage{dir + "/repo"};
};

void make_append(Storage& s, std::string_view name, std::string_view content) {
  auto f = s.open_append(name);
  f->append(bytes_of(content));
  f->sync();
}

}  // namespace

TEMPLATE_TEST_CASE("storage: publish_append moves the append file into place", "[storage][publish-append]",
                   MemoryPublishBackend, PosixPublishBackend) {
  TestType backend;
  Storage& s = backend.storage;
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

TEMPLATE_TEST_CASE("storage: publish_append of an empty append file", "[storage][publish-append]",
                   MemoryPublishBackend, PosixPublishBackend) {
  TestType backend;
  Storage& s = backend.storage;
  make_append(s, kFrom, "");
  s.publish_append(kFrom, kTo);
  CHECK(s.info(kTo) == std::optional<uint64_t>(0));
  CHECK_FALSE(s.info(kFrom).has_value());
}

TEMPLATE_TEST_CASE("storage: publish_append onto the same content succeeds and removes the append file",
                   "[storage][publish-append]", MemoryPublishBackend, PosixPublishBackend) {
  TestType backend;
  Storage& s = backend.storage;
  s.write_atomic(kTo, bytes_of("same bytes"));
  make_append(s, kFrom, "same bytes");
  s.publish_append(kFrom, kTo);
  CHECK(s.read(kTo) == bytes_of("same bytes"));
  CHECK_FALSE(s.info(kFrom).has_value());
  CHECK(s.list("") == std::vector<ObjectInfo>{{std::string(kTo), 10}});
}

TEMPLATE_TEST_CASE("storage: publish_append onto different content is kCorrupt and keeps both",
                   "[storage][publish-append]", MemoryPublishBackend, PosixPublishBackend) {
  TestType backend;
  Storage& s = backend.storage;
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

TEMPLATE_TEST_CASE("storage: publish_append of a missing append file is kNotFound", "[storage][publish-append]",
                   MemoryPublishBackend, PosixPublishBackend) {
  TestType backend;
  Storage& s = backend.storage;
  CHECK(code_of([&] { s.publish_append(kFrom, kTo); }) == ErrorCode::kNotFound);
  CHECK_FALSE(s.info(kTo).has_value());
  // Also when the target exists: nothing to publish is not success.
  s.write_atomic(kTo, bytes_of("x"));
  CHECK(code_of([&] { s.publish_append(kFrom, kTo); }) == ErrorCode::kNotFound);
  CHECK(s.read(kTo) == bytes_of("x"));
}

TEMPLATE_TEST_CASE("storage: publish_append rejects invalid names", "[storage][publish-append]",
                   MemoryPublishBackend, PosixPublishBackend) {
  TestType backend;
  Storage& s = backend.storage;
  make_append(s, kFrom, "x");
  for (const char* name : {"", "/abs", "a/../b", "wal/.tmp", "a/"}) {
    INFO(name);
    CHECK(code_of([&] { s.publish_append(name, kTo); }) == ErrorCode::kInternal);
    CHECK(code_of([&] { s.publish_append(kFrom, name); }) == ErrorCode::kInternal);
  }
  CHECK(s.read(kFrom) == bytes_of("x"));
}

TEST_CASE("memory storage: a published append file survives a crash", "[storage][publish-append]") {
  MemoryStorage s;
  make_append(s, kFrom, "durable");
  s.publish_append(kFrom, kTo);
  s.crash();
  CHECK(s.read(kTo) == bytes_of("durable"));
  CHECK_FALSE(s.info(kFrom).has_value());
}

TEST_CASE("memory storage: publish_append needs append support", "[storage][publish-append]") {
  MemoryStorage s(false);
  s.write_atomic(kFrom, bytes_of("x"));
  CHECK(code_of([&] { s.publish_append(kFrom, kTo); }) == ErrorCode::kInternal);
  CHECK_FALSE(s.info(kTo).has_value());
}

TEST_CASE("posix storage: publish_append renames the file", "[storage][publish-append]") {
  PosixPublishBackend backend;
  Storage& s = backend.storage;
  make_append(s, kFrom, "content");
  const auto from_path = std::filesystem::path(backend.dir) / "repo" / std::string(kFrom);
  const auto to_path = std::filesystem::path(backend.dir) / "repo" / std::string(kTo);
  const auto inode = std::filesystem::status(from_path).type();
  REQUIRE(inode == std::filesystem::file_type::regular);
  struct ::stat before {};
  REQUIRE(::stat(from_path.c_str(), &before) == 0);
  s.publish_append(kFrom, kTo);
  CHECK_FALSE(std::filesystem::exists(from_path));
  struct ::stat after {};
  REQUIRE(::stat(to_path.c_str(), &after) == 0);
  CHECK(after.st_ino == before.st_ino);  // no copy
  // Nothing else left in either directory.
  CHECK(std::filesystem::is_empty(from_path.parent_path()));
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(to_path.parent_path())) ++files;
  CHECK(files == 1);
}
