// The behavioural suite every Storage backend must pass (run against each, Litestream style), plus the
// MemoryStorage fault-injection tests.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <span>
#include <string>

#include "../../common/storage_contract.hpp"
#include "storage/file_lock.hpp"
#include "storage/memory_storage.hpp"
#include "storage/posix_storage.hpp"

namespace {

namespace contract = walvault::test::contract;
using walvault::Error;
using walvault::test::bytes_of;
using walvault::test::code_of;
using walvault::test::contract::kFrom;
using walvault::test::contract::kTo;
using walvault::test::contract::make_append;
using walvault::ErrorCause;
using walvault::ErrorCode;
using walvault::storage::Bytes;
using walvault::storage::file_error;
using walvault::storage::LockWait;
using walvault::storage::MemoryStorage;
using walvault::storage::ObjectInfo;
using walvault::storage::PosixStorage;
using walvault::storage::Storage;

struct MemoryBackend {
  MemoryStorage storage;
};

std::string make_temp_dir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "walvault-storage-XXXXXX").string();
  REQUIRE(::mkdtemp(pattern.data()) != nullptr);
  return pattern;
}

struct PosixBackend {
  PosixBackend() = default;
  ~PosixBackend() { std::filesystem::remove_all(dir); }
  PosixBackend(const PosixBackend&) = delete;
  PosixBackend& operator=(const PosixBackend&) = delete;
  std::string dir = make_temp_dir();  // declared before storage, so initialised first
  PosixStorage storage{dir + "/repo"};
};

}  // namespace

TEMPLATE_TEST_CASE("storage: write, read, info, list", "[storage]", MemoryBackend, PosixBackend) {
  TestType backend;
  contract::write_read_info_list(backend.storage);
}

TEMPLATE_TEST_CASE("storage: a view holds the whole object until it is destroyed", "[storage]", MemoryBackend,
                   PosixBackend) {
  TestType backend;
  contract::view_holds_the_object(backend.storage);
}

TEMPLATE_TEST_CASE("storage: objects are never overwritten with different content", "[storage]", MemoryBackend,
                   PosixBackend) {
  TestType backend;
  contract::never_overwritten(backend.storage);
}

TEMPLATE_TEST_CASE("storage: streaming writers publish only on commit", "[storage]", MemoryBackend, PosixBackend) {
  TestType backend;
  contract::writers_publish_on_commit(backend.storage);
}

TEMPLATE_TEST_CASE("storage: replacing writers replace atomically", "[storage]", MemoryBackend, PosixBackend) {
  TestType backend;
  contract::writers_replace(backend.storage);
}

TEMPLATE_TEST_CASE("storage: remove", "[storage]", MemoryBackend, PosixBackend) {
  TestType backend;
  contract::remove(backend.storage);
}

TEMPLATE_TEST_CASE("storage: append files and publish_append", "[storage][publish-append]", MemoryBackend,
                   PosixBackend) {
  for (const auto& [name, check] : contract::kAppend) {
    DYNAMIC_SECTION(name) {
      TestType backend;
      REQUIRE(backend.storage.capabilities().append);
      check(backend.storage);
    }
  }
}

TEMPLATE_TEST_CASE("storage: invalid names are rejected", "[storage]", MemoryBackend, PosixBackend) {
  TestType backend;
  contract::invalid_names(backend.storage);
}

TEMPLATE_TEST_CASE("storage: locks exclude each other until released", "[storage]", MemoryBackend, PosixBackend) {
  TestType backend;
  contract::locks_exclude(backend.storage);
}

TEST_CASE("posix storage: leftover temporary files are invisible", "[storage]") {
  PosixBackend backend;
  backend.storage.write_atomic("wal/a", bytes_of("x"));
  {
    auto w = backend.storage.open_writer("wal/b");
    w->write(bytes_of("pending"));
    CHECK(backend.storage.list("") == std::vector<ObjectInfo>{{"wal/a", 1}});
  }
  CHECK(backend.storage.capabilities().local_root == backend.dir + "/repo");
}

namespace {

// Sets a file's modification time to t (seconds since the epoch).
void set_mtime(const std::string& path, time_t t) {
  const struct timespec times[2] = {{t, 0}, {t, 0}};
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
}

void touch(const std::string& path) { std::ofstream(path) << "leftover"; }

}  // namespace

TEST_CASE("posix storage: the sweep removes stale temporary files that no live writer holds", "[storage]") {
  PosixBackend backend;
  PosixStorage& s = backend.storage;
  const std::string root = backend.dir + "/repo";
  constexpr time_t kOld = 1'600'000'000;  // 2020
  const auto cutoff = std::chrono::system_clock::from_time_t(kOld + 3600);
  s.write_atomic("wal/a", bytes_of("x"));
  s.write_atomic("index/00000001/r", bytes_of("y"));

  // A killed process's leftovers (old, unlocked), one in a nested directory.
  touch(root + "/wal/.000000010000000000000005.wvs.4242.0.tmp");
  touch(root + "/index/00000001/.run-1-2.wvi.77.3.tmp");
  for (const char* f : {"/wal/.000000010000000000000005.wvs.4242.0.tmp", "/index/00000001/.run-1-2.wvi.77.3.tmp"}) {
    set_mtime(root + f, kOld);
  }
  // Not leftovers: a recent temporary file, an old one another process still holds, an old dot file of another
  // shape, and a live writer's temporary file made to look old.
  touch(root + "/wal/.b.wvs.1.1.tmp");
  touch(root + "/wal/.c.wvs.2.2.tmp");
  set_mtime(root + "/wal/.c.wvs.2.2.tmp", kOld);
  const int held = ::open((root + "/wal/.c.wvs.2.2.tmp").c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(held >= 0);
  REQUIRE(::flock(held, LOCK_EX | LOCK_NB) == 0);
  touch(root + "/wal/.keep");
  set_mtime(root + "/wal/.keep", kOld);
  auto writer = s.open_writer("wal/d");
  writer->write(bytes_of("pending"));
  std::string live;
  for (const auto& e : std::filesystem::directory_iterator(root + "/wal")) {
    if (e.path().filename().string().starts_with(".d.")) live = e.path().string();
  }
  REQUIRE_FALSE(live.empty());
  set_mtime(live, kOld);

  const std::vector<ObjectInfo> stale{{"index/00000001/.run-1-2.wvi.77.3.tmp", 8},
                                      {"wal/.000000010000000000000005.wvs.4242.0.tmp", 8}};
  CHECK(s.sweep_temporaries("", cutoff, /*dry_run=*/true) == stale);
  CHECK(std::filesystem::exists(root + "/wal/.000000010000000000000005.wvs.4242.0.tmp"));  // a dry run removes nothing
  CHECK(s.sweep_temporaries("", cutoff, /*dry_run=*/false) == stale);
  CHECK_FALSE(std::filesystem::exists(root + "/wal/.000000010000000000000005.wvs.4242.0.tmp"));
  CHECK_FALSE(std::filesystem::exists(root + "/index/00000001/.run-1-2.wvi.77.3.tmp"));
  CHECK(s.sweep_temporaries("", cutoff, false).empty());
  for (const char* f : {"/wal/.b.wvs.1.1.tmp", "/wal/.c.wvs.2.2.tmp", "/wal/.keep"}) {
    CHECK(std::filesystem::exists(root + f));
  }
  CHECK(std::filesystem::exists(live));
  writer->commit();  // the live writer was not disturbed
  CHECK(s.read("wal/d") == bytes_of("pending"));
  ::close(held);
  CHECK(s.sweep_temporaries("", cutoff, false) == std::vector<ObjectInfo>{{"wal/.c.wvs.2.2.tmp", 8}});  // released now
}

TEST_CASE("posix storage: a full disk is a retryable kIo error that says so", "[storage]") {
  PosixBackend backend;
  // /dev/full fails every write with ENOSPC: put it where the tip lives.
  std::filesystem::create_directories(backend.dir + "/repo/tip");
  std::filesystem::create_symlink("/dev/full", backend.dir + "/repo/tip/full.partial");
  auto f = backend.storage.open_append("tip/full.partial");
  try {
    f->append(bytes_of("wal"));
    FAIL("expected a disk-full error");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::kIo);
    CHECK(e.retryable());
    CHECK(e.cause() == ErrorCause::kDiskFull);
    CHECK_THAT(e.what(), Catch::Contains("tip/full.partial: No space left on device"));
    CHECK_THAT(e.hint(), Catch::Contains("filesystem is full"));
  }
  // Other failures keep their cause unspecified and are not retryable.
  std::filesystem::create_directories(backend.dir + "/repo/wal/x.wvs");  // a directory where a file should be
  try {
    (void)backend.storage.read("wal/x.wvs");
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.cause() == ErrorCause::kUnspecified);
    CHECK_FALSE(e.retryable());
  }
}

TEST_CASE("memory storage: a full disk lands what fits and refuses the rest", "[storage]") {
  MemoryStorage s;
  s.write_atomic("wal/a", bytes_of("12345"));
  s.set_capacity(10);
  const auto disk_full = [](const std::function<void()>& fn) {
    try {
      fn();
    } catch (const Error& e) {
      return e.code() == ErrorCode::kIo && e.retryable() && e.cause() == ErrorCause::kDiskFull;
    }
    return false;
  };
  CHECK(disk_full([&] { s.write_atomic("wal/b", bytes_of("123456")); }));
  CHECK_FALSE(s.info("wal/b").has_value());
  auto f = s.open_append("tip/t");
  CHECK(disk_full([&] { f->append(bytes_of("abcdefgh")); }));
  CHECK(s.read("tip/t") == bytes_of("abcde"));  // a short write
  f->write_at(0, bytes_of("ABCDE"));            // overwriting needs no space
  {
    auto w = s.open_writer("wal/c");
    CHECK(disk_full([&] { w->write(bytes_of("x")); }));
  }  // aborted: its bytes are free again
  s.remove("wal/a");
  auto w = s.open_writer("wal/c");
  w->write(bytes_of("12345"));
  w->commit();
  s.set_capacity(std::nullopt);
  f->append(bytes_of("more"));
  CHECK(s.read("tip/t") == bytes_of("ABCDEmore"));
}

TEST_CASE("memory storage: fail the nth operation", "[storage]") {
  MemoryStorage s;
  s.write_atomic("a", bytes_of("1"));
  s.fail_operation(2);
  CHECK_NOTHROW(s.read("a"));
  CHECK(code_of([&] { s.write_atomic("b", bytes_of("2")); }) == ErrorCode::kIo);
  CHECK_FALSE(s.info("b").has_value());
  s.write_atomic("b", bytes_of("2"));  // only once
  CHECK(s.read("b") == bytes_of("2"));

  // A failed commit leaves nothing behind.
  auto w = s.open_writer("c");
  w->write(bytes_of("abc"));
  s.fail_operation(1);
  CHECK(code_of([&] { w->commit(); }) == ErrorCode::kIo);
  CHECK_FALSE(s.info("c").has_value());

  // A failed append write is torn: half of it lands.
  auto f = s.open_append("tip/t");
  s.fail_operation(1);
  CHECK(code_of([&] { f->append(bytes_of("abcd")); }) == ErrorCode::kIo);
  CHECK(s.read("tip/t") == bytes_of("ab"));
}

TEST_CASE("memory storage: crash drops unsynced and uncommitted writes", "[storage]") {
  MemoryStorage s;
  s.write_atomic("wal/done", bytes_of("durable"));
  auto w = s.open_writer("wal/pending");
  w->write(bytes_of("lost"));
  auto f = s.open_append("tip/t");
  f->append(bytes_of("synced"));
  f->sync();
  f->append(bytes_of("-unsynced"));
  f->write_at(0, bytes_of("S"));  // rewriting a synced byte makes it unsynced too
  s.crash();
  CHECK(code_of([&] { w->commit(); }) == ErrorCode::kIo);
  CHECK(code_of([&] { f->append(bytes_of("x")); }) == ErrorCode::kIo);
  CHECK(s.read("wal/done") == bytes_of("durable"));
  CHECK_FALSE(s.info("wal/pending").has_value());
  CHECK(s.read("tip/t").empty());

  auto g = s.open_append("tip/t");
  g->append(bytes_of("abc"));
  g->sync();
  g->append(bytes_of("def"));
  s.crash();
  CHECK(s.read("tip/t") == bytes_of("abc"));
}

TEST_CASE("memory storage: without append it behaves like an object store", "[storage]") {
  MemoryStorage s(false);
  CHECK_FALSE(s.capabilities().append);
  CHECK(code_of([&] { (void)s.open_append("tip/t"); }) == ErrorCode::kInternal);
}

TEST_CASE("file locks: exclusive, name their holder's pid, released with the object", "[storage]") {
  const std::string dir = make_temp_dir();
  const std::string path = dir + "/role.lock";
  using walvault::storage::FileLock;
  CHECK_FALSE(FileLock::holder(path).has_value());  // no file yet
  {
    const auto lock = FileLock::take(path, LockWait::kTry);
    REQUIRE(lock);
    CHECK(FileLock::holder(path) == 0L);  // held, no pid recorded yet
    lock->record_pid();
    CHECK(FileLock::holder(path) == static_cast<long>(::getpid()));
    CHECK_FALSE(FileLock::take(path, LockWait::kTry));  // a second open file description conflicts
  }
  CHECK_FALSE(FileLock::holder(path).has_value());
  CHECK(FileLock::take(path, LockWait::kTry));
  std::filesystem::remove_all(dir);
}

// --- publish_append: an append file becomes an immutable object

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
  PosixBackend backend;
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

TEST_CASE("storage: local file errors name the call and the path, and a full disk is retryable", "[storage]") {
  // PosixStorage and FileLock both report failed system calls this way: the lock file of a full repository waits
  // for space like every other write.
  const Error full = file_error("open lock file", "/repo/locks/stream.lock", ENOSPC);
  CHECK(std::string(full.what()) == "cannot open lock file /repo/locks/stream.lock: " + std::string(std::strerror(ENOSPC)));
  CHECK(full.code() == ErrorCode::kIo);
  CHECK(full.cause() == ErrorCause::kDiskFull);
  CHECK(full.retryable());
  CHECK(file_error("write", "/repo/x", EDQUOT).cause() == ErrorCause::kDiskFull);
  const Error denied = file_error("lock", "/repo/locks/stream.lock", EACCES);
  CHECK(denied.code() == ErrorCode::kIo);
  CHECK(denied.cause() == ErrorCause::kUnspecified);
  CHECK_FALSE(denied.retryable());
  CHECK_FALSE(denied.hint().empty());
}
