// Fault: the repository's disk fills while the streamer runs (a 40 MiB tmpfs mounted by the test; needs root).
// The same streamer process must keep running: it logs that the repository is out of disk space, never
// acknowledges WAL it does not hold (the flush position the server sees and the slot's restart_lsn stay at or
// below the WAL on disk, so the server keeps the rest), and retries with backoff. Once space returns (the tmpfs is
// grown) that same process catches up with no gap: verify is clean, the WAL is contiguous, and a restore of the
// latest point has every row the server has.
#include <catch2/catch.hpp>
#include <sys/mount.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <thread>
#include <nlohmann/json.hpp>

#include "archive/tip.hpp"
#include "archive_fixture.hpp"
#include "storage/posix_storage.hpp"
#include "stream_support.hpp"

using nlohmann::json;
using walvault::test::ArchivedCluster;
using walvault::test::ClusterOptions;
using walvault::test::PgCluster;

namespace {

// A tmpfs of `size` mounted at dir for the test's lifetime.
class Tmpfs {
 public:
  Tmpfs(std::string dir, const std::string& size) : dir_(std::move(dir)) {
    std::filesystem::create_directories(dir_);
    const std::string options = "size=" + size + ",mode=0755";
    if (::mount("tmpfs", dir_.c_str(), "tmpfs", 0, options.c_str()) != 0) {
      throw std::runtime_error("cannot mount a tmpfs at " + dir_ + " (the test needs root)");
    }
    walvault::test::give_to_postgres(dir_);
  }
  ~Tmpfs() { ::umount2(dir_.c_str(), MNT_DETACH); }
  void resize(const std::string& size) {
    const std::string options = "size=" + size;
    if (::mount("tmpfs", dir_.c_str(), "tmpfs", MS_REMOUNT, options.c_str()) != 0) {
      throw std::runtime_error("cannot resize the tmpfs at " + dir_);
    }
  }

 private:
  std::string dir_;
};

// The end of the WAL the repository holds on disk: the highest archived segment's end, or what the tip holds.
walvault::wal::Lsn wal_on_disk(const std::string& repo) {
  namespace fs = std::filesystem;
  uint64_t end = 0;
  constexpr uint64_t kSeg = 16U << 20;
  const walvault::storage::PosixStorage storage(repo);
  // tip/ first: a tip archived meanwhile is renamed into wal/, which is listed after.
  for (const auto& dir : {std::string("tip"), std::string("wal")}) {
    if (!fs::exists(repo + "/" + dir)) continue;
    for (const auto& entry : fs::directory_iterator(repo + "/" + dir)) {
      const std::string name = entry.path().filename().string();
      const auto segment = walvault::wal::parse_segment_file_name(name.substr(0, 24), kSeg);
      if (!segment || name[0] == '.' || name.ends_with(".tail")) continue;
      const uint64_t start = segment->segno.value() * kSeg;
      if (name.ends_with(".partial")) {
        const auto held = walvault::archive::read_tip(storage, segment->timeline, segment->segno, kSeg);
        end = std::max(end, start + (held ? held->size() : 0));
      } else {
        end = std::max(end, start + kSeg);
      }
    }
  }
  return walvault::wal::Lsn(end);
}

walvault::wal::Lsn lsn_of(PgCluster& pg, const std::string& query) {
  return walvault::wal::Lsn::parse(pg.scalar(query)).value_or(walvault::wal::Lsn());
}

walvault::wal::Lsn slot_restart_lsn(PgCluster& pg) {
  return lsn_of(pg, "SELECT coalesce(restart_lsn, '0/0') FROM pg_replication_slots WHERE slot_name LIKE 'walvault%'");
}

// The flush position the streamer last acknowledged, while it is connected (0/0 otherwise).
walvault::wal::Lsn acknowledged_flush(PgCluster& pg) {
  return lsn_of(pg, "SELECT coalesce(max(flush_lsn), '0/0') FROM pg_stat_replication");
}

// Neither the slot nor the acknowledged flush position is ahead of the WAL on disk.
void check_no_false_acknowledgement(ArchivedCluster& a) {
  const auto restart = slot_restart_lsn(a.pg());
  const auto flush = acknowledged_flush(a.pg());
  const auto on_disk = wal_on_disk(a.repo());  // last: it only grows
  INFO("on disk " << on_disk.to_string() << ", slot restart_lsn " << restart.to_string() << ", flush "
                  << flush.to_string());
  CHECK(restart <= on_disk);
  CHECK(flush <= on_disk);
}

constexpr const char* kFullMessage = "is out of disk space";

}  // namespace

TEST_CASE("fault: the repository's disk fills during streaming", "[integration][fault][once]") {
  REQUIRE(::geteuid() == 0);
  ClusterOptions scratch;
  scratch.start = false;
  PgCluster holder_for_dir(scratch);  // only for a scratch directory removed with it
  const std::string mount_dir = holder_for_dir.work_dir() + "/repo-fs";
  Tmpfs tmpfs(mount_dir, "40m");
  ArchivedCluster a(ClusterOptions{}, mount_dir + "/repo");
  a.start_streamer();
  const auto pid = walvault::test::streamer_pid(a.repo());
  REQUIRE(pid);
  a.pg().exec("CREATE TABLE filler (id bigserial, v text)");
  a.backup();

  // Incompressible-ish rows until the streamer reports the full disk.
  const auto full = [&] { return a.streamer_log().find(kFullMessage) != std::string::npos; };
  for (int batches = 0; !full() && batches < 60; ++batches) {
    a.pg().exec("INSERT INTO filler (v) SELECT md5(random()::text) || md5(random()::text) || md5(random()::text) || "
                "md5(random()::text) FROM generate_series(1, 20000)");
    check_no_false_acknowledgement(a);
  }
  REQUIRE(walvault::test::wait_until(full, std::chrono::seconds(60)));
  {
    const std::string log = a.streamer_log();
    INFO(log);
    // One clear line: the repository, the disk, the system error, what happens now, and the hint.
    const auto line_start = log.rfind('\n', log.find(kFullMessage)) + 1;
    const std::string line = log.substr(line_start, log.find('\n', line_start) - line_start);
    CHECK(line.starts_with("walvault: error: the repository " + a.repo() + " is out of disk space"));
    CHECK(line.find("No space left on device") != std::string::npos);
    CHECK(line.find("retrying in") != std::string::npos);
    CHECK(line.find("HINT: the repository's filesystem is full") != std::string::npos);
  }

  // While the disk stays full, writes go on: the same process keeps running and retrying, and acknowledges
  // nothing it does not hold (the server keeps that WAL in the slot).
  for (int i = 0; i < 15; ++i) {
    a.pg().exec("INSERT INTO filler (v) SELECT md5(g::text) FROM generate_series(1, 1000) g");
    check_no_false_acknowledgement(a);
    REQUIRE(a.streamer_running());
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  CHECK(walvault::test::streamer_pid(a.repo()) == pid);
  const std::string expected = a.pg().scalar("SELECT count(*) || ':' || md5(string_agg(v, ',' ORDER BY id)) FROM filler");

  // Space returns: the same process resumes from what it holds and catches up, with no gap.
  tmpfs.resize("400m");
  a.switch_and_archive(std::chrono::seconds(120));
  a.wait_durable(std::chrono::seconds(120));
  CHECK(a.streamer_running());
  CHECK(walvault::test::streamer_pid(a.repo()) == pid);
  CHECK(a.streamer_log().find("the repository has space again") != std::string::npos);
  check_no_false_acknowledgement(a);
  const auto verify = a.walvault({"verify", "--repo", a.repo(), "--json"});
  INFO(verify.out);
  CHECK(verify.exit_code == 0);
  const auto list = json::parse(a.walvault({"list", "--repo", a.repo(), "--json"}).out);
  CHECK(list["gaps"].empty());
  CHECK(list["wal"].size() == 1);
  // And a restore of the latest point holds exactly the server's rows.
  const auto drill = a.walvault({"drill", "--repo", a.repo(), "--latest", "--check",
                                 "SELECT count(*) || ':' || md5(string_agg(v, ',' ORDER BY id)) = '" + expected +
                                     "' FROM filler"});
  INFO(drill.out << drill.err);
  CHECK(drill.exit_code == 0);
  a.stop_streamer(SIGTERM);
}
