// walvault backup under load, read back with the extraction code restore uses, and checked by PostgreSQL's own
// pg_verifybackup against its backup_manifest and the WAL the repository captured.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

#include "backup_fixture.hpp"
#include "common/error.hpp"
#include "format/segment_container.hpp"
#include "restore/extract.hpp"
#include "storage/posix_storage.hpp"
#include "wal/lsn.hpp"

using walvault::test::BackupRepo;
using walvault::test::PgCluster;

namespace {

uint32_t mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

// Decompresses segments [first, last] of timeline 1 from the repository into dir, for pg_verifybackup -w.
void export_wal(const walvault::storage::Storage& storage, walvault::wal::SegmentNo first,
                walvault::wal::SegmentNo last, const std::string& dir) {
  constexpr uint32_t kSeg = 16U << 20;
  std::filesystem::create_directories(dir);
  walvault::format::ContainerReader reader;
  for (uint64_t segno = first.value(); segno <= last.value(); ++segno) {
    const auto name =
        walvault::wal::segment_file_name(walvault::wal::TimelineId(1), walvault::wal::SegmentNo(segno), kSeg);
    const auto raw = reader.read(storage.read("wal/" + name + ".wvs"));
    REQUIRE(raw);
    REQUIRE(raw->size() == kSeg);
    std::ofstream(dir + "/" + name, std::ios::binary)
        .write(reinterpret_cast<const char*>(raw->data()), static_cast<std::streamsize>(raw->size()));
  }
}

}  // namespace

TEST_CASE("a backup taken under pgbench extracts and passes pg_verifybackup with the repository's WAL",
          "[integration][backup][pg15-tools]") {
  PgCluster cluster;
  const BackupRepo repo(cluster);
  repo.pgbench_init(10);
  const auto streamer = repo.start_streamer();
  const auto load = repo.pgbench_load(30);
  std::this_thread::sleep_for(std::chrono::seconds(2));

  const auto entry = repo.backup();
  const std::string id = entry["id"];
  REQUIRE(entry["streams"].size() == 1);
  const uint64_t raw = entry["streams"][0]["raw_size"];
  const uint64_t stored = entry["streams"][0]["stored_size"];
  CHECK(raw > 150U << 20);
  CHECK(stored * 3 < raw);
  CHECK(entry["backup_label"].get<std::string>().find("START WAL LOCATION: " + entry["start_lsn"].get<std::string>()) ==
        0);
  load->stop(SIGTERM);

  // The stop segment must be complete in the repository for pg_verifybackup to parse the WAL.
  cluster.exec("SELECT pg_switch_wal()");
  constexpr uint32_t kSeg = 16U << 20;
  const auto start = *walvault::wal::Lsn::parse(entry["start_lsn"].get<std::string>());
  const auto stop = *walvault::wal::Lsn::parse(entry["stop_lsn"].get<std::string>());
  const auto last = walvault::wal::segment_of_end(stop, kSeg);
  const std::string last_object =
      repo.path() + "/wal/" + walvault::wal::segment_file_name(walvault::wal::TimelineId(1), last, kSeg) + ".wvs";
  REQUIRE(walvault::test::wait_until([&] { return std::filesystem::exists(last_object); }, std::chrono::seconds(30)));

  const walvault::storage::PosixStorage storage(repo.path());
  const uint64_t sysid = std::stoull(entry["system_identifier"].get<std::string>());
  const std::string dest = cluster.work_dir() + "/restored";
  const auto summary = walvault::restore::extract_backup(storage, id, dest, sysid);
  CHECK(summary.files > 900);
  CHECK(summary.bytes > 150U << 20);
  CHECK(mode_of(dest) == 0700);
  CHECK(mode_of(dest + "/base") == 0700);
  CHECK(mode_of(dest + "/global/pg_control") == 0600);
  CHECK(std::filesystem::exists(dest + "/backup_label"));
  CHECK(std::filesystem::exists(dest + "/backup_manifest"));

  const std::string waldir = cluster.work_dir() + "/waldir";
  export_wal(storage, walvault::wal::segment_of(start, kSeg), last, waldir);
  walvault::test::give_to_postgres(dest);
  walvault::test::give_to_postgres(waldir);
  const auto verified = cluster.run_pg_program("pg_verifybackup", {"-w", waldir, dest});
  INFO(verified.out << verified.err);
  CHECK(verified.exit_code == 0);
  CHECK(verified.out.find("backup successfully verified") != std::string::npos);

  {  // extraction refuses a non-empty target
    try {
      (void)walvault::restore::extract_backup(storage, id, dest, sysid);
      FAIL("extract into a non-empty directory succeeded");
    } catch (const walvault::Error& e) {
      CHECK(e.code() == walvault::ErrorCode::kUnsafe);
      CHECK(std::string(e.what()) == "target directory \"" + dest + "\" is not empty");
    }
  }
  {  // a flipped byte in the stored archive is caught, never extracted silently
    const std::string object = repo.path() + "/backup/" + id + "/base.wvt";
    {
      std::fstream f(object, std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(static_cast<std::streamoff>(std::filesystem::file_size(object) / 2));
      char c = 0;
      f.read(&c, 1);
      f.seekp(static_cast<std::streamoff>(std::filesystem::file_size(object) / 2));
      c = static_cast<char>(c ^ 0x20);
      f.write(&c, 1);
    }
    try {
      (void)walvault::restore::extract_backup(storage, id, cluster.work_dir() + "/restored2", sysid);
      FAIL("a damaged backup extracted");
    } catch (const walvault::Error& e) {
      CHECK(e.code() == walvault::ErrorCode::kCorrupt);
      CHECK(std::string(e.what()).find("backup object backup/" + id + "/base.wvt is damaged") == 0);
    }
  }
}
