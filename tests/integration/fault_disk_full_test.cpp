// Fault: the repository's disk fills while the streamer runs (a 40 MiB tmpfs mounted by the test; needs root).
// The streamer must stop, report the error, never acknowledge WAL it does not hold (the slot's restart_lsn stays
// at or below the WAL on disk, so the server keeps the rest), and, once space returns and it is restarted (as
// systemd's Restart=always does), capture everything with no gap: a restore of the latest point has every row.
#include <catch2/catch.hpp>
#include <sys/mount.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "archive_fixture.hpp"

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

// The end of the WAL the repository holds on disk: the highest archived segment's end, or the tip file's end.
walvault::wal::Lsn wal_on_disk(const std::string& repo) {
  namespace fs = std::filesystem;
  uint64_t end = 0;
  constexpr uint64_t kSeg = 16U << 20;
  for (const auto& dir : {std::string("wal"), std::string("tip")}) {
    if (!fs::exists(repo + "/" + dir)) continue;
    for (const auto& entry : fs::directory_iterator(repo + "/" + dir)) {
      const std::string name = entry.path().filename().string();
      const auto segment = walvault::wal::parse_segment_file_name(name.substr(0, 24), kSeg);
      if (!segment || name[0] == '.') continue;
      const uint64_t start = segment->segno.value() * kSeg;
      end = std::max(end, name.ends_with(".partial") ? start + fs::file_size(entry.path()) : start + kSeg);
    }
  }
  return walvault::wal::Lsn(end);
}

walvault::wal::Lsn slot_restart_lsn(PgCluster& pg) {
  const std::string text = pg.scalar("SELECT coalesce(restart_lsn, '0/0') FROM pg_replication_slots WHERE slot_name = 'walvault'");
  return walvault::wal::Lsn::parse(text).value_or(walvault::wal::Lsn());
}

}  // namespace

TEST_CASE("fault: the repository's disk fills during streaming", "[integration][fault]") {
  REQUIRE(::geteuid() == 0);
  ClusterOptions scratch;
  scratch.start = false;
  PgCluster holder_for_dir(scratch);  // only for a scratch directory removed with it
  const std::string mount_dir = holder_for_dir.work_dir() + "/repo-fs";
  Tmpfs tmpfs(mount_dir, "40m");
  ArchivedCluster a(ClusterOptions{}, mount_dir + "/repo");
  a.start_streamer();
  a.pg().exec("CREATE TABLE filler (id bigserial, v text)");
  a.backup();

  // Incompressible-ish rows until the streamer gives up on the full disk.
  int batches = 0;
  while (a.streamer_running() && batches < 60) {
    a.pg().exec("INSERT INTO filler (v) SELECT md5(random()::text) || md5(random()::text) || md5(random()::text) || "
                "md5(random()::text) FROM generate_series(1, 20000)");
    ++batches;
    const auto restart = slot_restart_lsn(a.pg());
    CHECK(restart <= wal_on_disk(a.repo()));  // never a flush acknowledgement beyond the WAL on disk
  }
  REQUIRE(walvault::test::wait_until([&] { return !a.streamer_running(); }, std::chrono::seconds(60)));
  const std::string log = a.streamer_log();
  INFO(log);
  CHECK(log.find("No space left on device") != std::string::npos);
  const auto restart = slot_restart_lsn(a.pg());
  CHECK(restart <= wal_on_disk(a.repo()));
  a.stop_streamer(SIGTERM);

  // Writes go on while the streamer is down; the slot keeps the server's WAL for it.
  a.pg().exec("INSERT INTO filler (v) SELECT md5(g::text) FROM generate_series(1, 1000) g");
  const std::string expected = a.pg().scalar("SELECT count(*) || ':' || md5(string_agg(v, ',' ORDER BY id)) FROM filler");

  // Space returns: the restarted streamer resumes from what it holds, with no gap.
  tmpfs.resize("400m");
  a.start_streamer();
  a.switch_and_archive(std::chrono::seconds(120));
  a.wait_durable(std::chrono::seconds(120));
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
