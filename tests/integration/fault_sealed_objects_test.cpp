// Fault: damage to the repository's small text objects (FORMAT.md, "Sealed objects"). On a real repository that
// streamed a standby through its promotion (so it holds a real timeline history file), with a backup, a relation-name
// snapshot and a verify state: each of walvault.json, tip/stream.state, backup/<id>/backup.json, names/<LSN>.json,
// wal/00000002.history and verify/state-*.json is in turn flipped (one digit changed: still valid JSON or history,
// with different content), truncated and zeroed. Each time `verify` and `verify --full` exit 5 naming the object.
// With tip/stream.state damaged, `wal-fetch` of the in-progress segment fails loudly (200: PostgreSQL stops)
// instead of answering "not found" (1: PostgreSQL ends recovery and promotes early), and `status` names the damage;
// with the history file damaged, `wal-fetch` refuses to serve it and `restore --start` stops before it writes the
// target directory, so PostgreSQL never starts on it; with the only backup.json damaged, restore refuses to plan.
// Once the bytes are back, verify --full is clean again.
#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "archive_fixture.hpp"
#include "stream_support.hpp"

namespace {

namespace fs = std::filesystem;
using walvault::test::files_under;
using walvault::test::ProcessResult;
using walvault::test::StreamingStandby;
using walvault::test::wait_until;
using walvault::test::walvault_cli;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Rewrites the file in place (the same inode, so its owner stays postgres).
void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  if (!out) throw std::runtime_error("cannot write " + path);
}

enum class Damage { kFlip, kTruncate, kZero };
const char* name_of(Damage d) { return d == Damage::kFlip ? "flip" : d == Damage::kTruncate ? "truncate" : "zero"; }

// The damaged bytes: a flip changes the lowest bit of the first character after `needle` (a digit, so the text
// stays valid JSON or a valid history line, with different content), a truncation keeps the first half, zeroing
// keeps the size.
std::string damaged(const std::string& bytes, Damage d, const std::string& needle) {
  std::string out = bytes;
  switch (d) {
    case Damage::kFlip: {
      const auto at = out.find(needle);
      if (at == std::string::npos) throw std::runtime_error("no \"" + needle + "\" in the object");
      out[at + needle.size()] = static_cast<char>(out[at + needle.size()] ^ 0x01);
      break;
    }
    case Damage::kTruncate:
      out.resize(out.size() / 2);
      break;
    case Damage::kZero:
      out.assign(out.size(), '\0');
      break;
  }
  return out;
}

// verify, default and --full: exit 5, the object named. `damage` runs before each (verify replaces its own state
// object, so that one is damaged anew each time) and returns the object's name.
template <typename Damager>
void check_verify_names(const std::string& repo, Damager damage) {
  for (const bool full : {false, true}) {
    const std::string object = damage();
    std::vector<std::string> args = {"verify", "--repo", repo, "--json"};
    if (full) args.emplace_back("--full");
    const ProcessResult r = walvault_cli(args);
    INFO((full ? "verify --full: " : "verify: ") << r.out << r.err);
    CHECK(r.exit_code == 5);
    CHECK((r.out + r.err).find(object + " is damaged: it ") != std::string::npos);
  }
}

}  // namespace

TEST_CASE("fault: a flipped or truncated or zeroed metadata object is named by verify and never trusted",
          "[integration][fault][once][pg15-tools]") {
  walvault::test::PgCluster primary({.settings = {"wal_keep_size = 1GB"}});
  StreamingStandby standby(primary);
  const std::string work = primary.work_dir();
  const std::string repo = work + "/repo";
  REQUIRE(walvault_cli({"init", "--repo", repo, "-d", standby.conninfo()}).exit_code == 0);
  primary.exec("CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 1000) g");
  walvault::test::Background streamer(
      walvault::test::as_postgres({WALVAULT_BINARY, "stream", "--repo", repo, "--fsync-interval-ms", "100"}),
      work + "/stream.log");
  REQUIRE(wait_until([&] { return walvault::test::stream_state(repo).has_value(); }, std::chrono::seconds(30)));
  REQUIRE(standby.wait_replayed(primary, std::chrono::seconds(20)));
  const ProcessResult backup = walvault_cli({"backup", "--repo", repo, "--fast", "--json"});
  INFO(backup.err);
  REQUIRE(backup.exit_code == 0);
  const std::string backup_id = nlohmann::json::parse(backup.out)["id"];

  // Timeline 2, and a new table on it, which makes the streamer take a relation-name snapshot.
  standby.promote();
  REQUIRE(wait_until([&] { return standby.scalar("SELECT pg_is_in_recovery()") == "f"; }, std::chrono::seconds(30)));
  (void)standby.scalar("CREATE TABLE u AS SELECT g AS id FROM generate_series(1, 100) g; SELECT 1");
  const auto end = walvault::wal::Lsn::parse(standby.scalar("SELECT pg_current_wal_flush_lsn()")).value();
  REQUIRE(wait_until(
      [&] {
        const auto s = walvault::test::stream_state(repo);
        return s && s->timeline == walvault::wal::TimelineId(2) && s->durable_lsn >= end &&
               fs::exists(repo + "/wal/00000002.history") && !files_under(repo, "names/").empty();
      },
      std::chrono::seconds(30)));
  // Stopped, so that nothing rewrites the objects under test.
  walvault::test::signal_streamer(repo, SIGTERM);  // the walvault process itself, not the runuser wrapper
  REQUIRE(streamer.stop(0, std::chrono::seconds(20)) == 0);
  const auto state = walvault::test::stream_state(repo);
  REQUIRE(state);
  const std::string in_progress = state->segment;

  const std::string fetched = work + "/fetched";
  fs::create_directories(fetched);
  walvault::test::give_to_postgres(fetched);
  const auto wal_fetch = [&](const std::string& file) {
    fs::remove(fetched + "/" + file);
    return walvault_cli({"wal-fetch", "--repo", repo, file, fetched + "/" + file});
  };
  {  // The undamaged repository: verify is clean (and writes its state), the tip and history are served.
    const ProcessResult v = walvault_cli({"verify", "--repo", repo, "--full"});
    INFO(v.out << v.err);
    REQUIRE(v.exit_code == 0);
    REQUIRE(wal_fetch(in_progress).exit_code == 0);
    REQUIRE(wal_fetch("00000002.history").exit_code == 0);
  }
  const std::string history_text = read_file(fetched + "/00000002.history");
  REQUIRE(history_text.starts_with("1\t"));

  struct Object {
    std::string name;
    std::string needle;  // the flip changes the digit after it
  };
  const std::vector<Object> objects = {
      {"walvault.json", "\"pg_version\": 1500"},
      {"tip/stream.state", "\"durable_lsn\":\""},
      {"backup/" + backup_id + "/backup.json", "\"stop_lsn\": \""},
      {files_under(repo, "names/").back(), "\"lsn\":\""},
      {"wal/00000002.history", "\n1\t"},
      {"verify/", "\"size\": "},  // the current verify/state-*.json: every verify replaces it
  };
  for (const Object& object : objects) {
    for (const Damage d : {Damage::kFlip, Damage::kTruncate, Damage::kZero}) {
      INFO(object.name << ", " << name_of(d));
      if (object.name == "verify/") {
        // Read by the default verify (which then verifies everything) and checked by --full; each run replaces it.
        check_verify_names(repo, [&] {
          const std::string name = files_under(repo, "verify/").back();
          write_file(repo + "/" + name, damaged(read_file(repo + "/" + name), d, object.needle));
          return name;
        });
        continue;
      }
      const std::string& name = object.name;
      const std::string path = repo + "/" + name;
      const std::string original = read_file(path);
      write_file(path, damaged(original, d, object.needle));
      check_verify_names(repo, [&] { return name; });
      if (name == "walvault.json") {
        CHECK(wal_fetch(in_progress).exit_code == 200);  // nothing is served from a repository it cannot trust
      } else if (name == "tip/stream.state") {
        const ProcessResult r = wal_fetch(in_progress);
        INFO(r.err);
        CHECK(r.exit_code == 200);  // never 1, "not found", which would end recovery early
        CHECK(r.err.find("tip/stream.state is damaged") != std::string::npos);
        CHECK_FALSE(fs::exists(fetched + "/" + in_progress));
        const ProcessResult status = walvault_cli({"status", "--repo", repo});
        CHECK(status.out.find("damaged:         tip/stream.state is damaged: it ") != std::string::npos);
      } else if (name.starts_with("backup/")) {
        const ProcessResult r =
            walvault_cli({"restore", "--repo", repo, "--target-dir", work + "/plan", "--latest", "--dry-run"});
        CHECK(r.exit_code == 5);
        CHECK(r.err.find(name + " is damaged") != std::string::npos);
      } else if (name.starts_with("wal/")) {
        const ProcessResult r = wal_fetch("00000002.history");
        CHECK(r.exit_code == 200);
        CHECK(r.err.find(name + " is damaged") != std::string::npos);
        CHECK_FALSE(fs::exists(fetched + "/00000002.history"));
        const std::string target = work + "/restored";
        const ProcessResult restore = walvault_cli({"restore", "--repo", repo, "--target-dir", target, "--latest",
                                                    "--start", "--port", std::to_string(walvault::test::free_port())});
        INFO(restore.out << restore.err);
        CHECK(restore.exit_code == 5);
        CHECK(restore.err.find(name + " is damaged") != std::string::npos);
        CHECK_FALSE(fs::exists(target));  // planning stopped: nothing extracted, no server started
      }
      write_file(path, original);
    }
  }
  {  // Repaired: clean again, and the history served is exactly the server's.
    const ProcessResult v = walvault_cli({"verify", "--repo", repo, "--full"});
    INFO(v.out << v.err);
    CHECK(v.exit_code == 0);
    REQUIRE(wal_fetch("00000002.history").exit_code == 0);
    CHECK(read_file(fetched + "/00000002.history") == read_file(standby.data_dir() + "/pg_wal/00000002.history"));
  }
}
