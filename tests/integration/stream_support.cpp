#include "stream_support.hpp"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "archive/tip.hpp"
#include "format/segment_container.hpp"
#include "storage/posix_storage.hpp"

namespace walvault::test {
namespace {

constexpr uint32_t kSegmentSize = 16U << 20;

std::vector<std::byte> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> bytes(chars.size());
  std::memcpy(bytes.data(), chars.data(), chars.size());
  return bytes;
}

}  // namespace

ProcessResult walvault_cli(const std::vector<std::string>& args, const std::vector<std::string>& env) {
  std::vector<std::string> argv = {WALVAULT_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(as_postgres(argv), env);
}

std::optional<archive::StreamState> stream_state(const std::string& repo) {
  const auto bytes = read_file(repo + "/" + std::string(archive::kStreamStateObject));
  auto state = archive::decode_stream_state(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()),
                                            format::SealRule::kRequired);
  if (!state) return std::nullopt;  // not written yet, or read while the streamer rewrote it
  return std::move(state).value();
}

bool wait_durable(const std::string& repo, wal::Lsn lsn, std::chrono::milliseconds timeout) {
  return wait_until(
      [&] {
        const auto s = stream_state(repo);
        return s && s->durable_lsn >= lsn;
      },
      timeout);
}

wal::Lsn server_lsn(const PgCluster& cluster) {
  const auto text = cluster.scalar(
      "SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_flush_lsn() END");
  const auto lsn = wal::Lsn::parse(text);
  if (!lsn) throw std::runtime_error("bad LSN from server: " + text);
  return *lsn;
}

std::optional<pid_t> streamer_pid(const std::string& repo) {
  std::ifstream in(repo + "/locks/stream.lock");
  long pid = 0;
  if (!(in >> pid) || pid <= 0) return std::nullopt;
  return static_cast<pid_t>(pid);
}

void signal_streamer(const std::string& repo, int sig) {
  const auto pid = streamer_pid(repo);
  if (!pid) throw std::runtime_error("no streamer pid in " + repo);
  ::kill(*pid, sig);
}

StreamingStandby::StreamingStandby(const PgCluster& primary, const std::string& name)
    : dir_(primary.work_dir() + "/" + name), log_(primary.work_dir() + "/" + name + ".log"), port_(free_port()) {
  const auto r = primary.run_pg_program("pg_basebackup", {"-D", dir_, "-R", "-X", "stream", "-c", "fast"});
  if (r.exit_code != 0) throw std::runtime_error("pg_basebackup failed: " + r.err);
  {
    std::ofstream conf(dir_ + "/postgresql.conf", std::ios::app);
    conf << "port = " << port_ << "\nunix_socket_directories = '" << primary.work_dir() << "'\nhot_standby = on\n";
  }
  give_to_postgres(dir_);
  pg_ctl({"-l", log_, "-w", "-t", "60", "start"});
}

StreamingStandby::~StreamingStandby() {
  try {
    pg_ctl({"-m", "immediate", "stop"});
  } catch (...) {  // NOLINT(bugprone-empty-catch): best effort in a destructor
  }
}

void StreamingStandby::promote() const { pg_ctl({"-w", "promote"}); }

std::string StreamingStandby::conninfo() const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres dbname=postgres";
}

std::string StreamingStandby::scalar(const std::string& sql) const {
  const auto r =
      run(as_postgres({pg_program("psql"), "-XAtq", "-v", "ON_ERROR_STOP=1", "-d", conninfo(), "-c", sql}));
  if (r.exit_code != 0) throw std::runtime_error("psql on the standby failed: " + sql + ": " + r.err);
  return r.out.substr(0, r.out.find('\n'));
}

bool StreamingStandby::wait_replayed(const PgCluster& primary, std::chrono::milliseconds timeout) const {
  const auto target = server_lsn(primary);
  return wait_until(
      [&] { return wal::Lsn::parse(scalar("SELECT pg_last_wal_replay_lsn()")).value_or(wal::Lsn()) >= target; },
      timeout);
}

void StreamingStandby::pg_ctl(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {pg_bindir() + "/pg_ctl", "-D", dir_};
  argv.insert(argv.end(), args.begin(), args.end());
  const auto r = run(as_postgres(argv));
  if (r.exit_code != 0) throw std::runtime_error("pg_ctl " + args.back() + " failed: " + r.err + r.out);
}

SegmentCheck check_segments(const std::string& repo, const std::string& pg_wal_dir, wal::TimelineId tli) {
  SegmentCheck check;
  storage::PosixStorage storage(repo);
  format::ContainerReader reader;
  std::optional<wal::SegmentNo> previous;
  for (const auto& object : storage.list("wal/")) {
    const std::string base = object.name.substr(4);
    if (base.size() != 28 || !base.ends_with(".wvs")) continue;
    const auto seg = wal::parse_segment_file_name(base.substr(0, 24), kSegmentSize);
    if (!seg || seg->timeline != tli) continue;
    const std::string name = base.substr(0, 24);
    check.segments.push_back(name);
    if (previous && seg->segno != previous->next()) check.mismatches.push_back(name + ": gap before it");
    previous = seg->segno;
    const auto raw = reader.read(storage.read(object.name));
    if (!raw) {
      check.mismatches.push_back(name + ": " + raw.error().message);
      continue;
    }
    const auto expected = read_file(pg_wal_dir + "/" + name);
    if (expected.empty()) {
      check.mismatches.push_back(name + ": not in pg_wal any more");
    } else if (*raw != expected) {
      check.mismatches.push_back(name + ": differs from pg_wal");
    }
  }
  return check;
}

bool tip_matches(const std::string& repo, const std::string& pg_wal_dir) {
  const auto state = stream_state(repo);
  if (!state || state->segment.empty()) return true;
  const auto seg = wal::parse_segment_file_name(state->segment, kSegmentSize);
  if (!seg) return false;
  const uint64_t start = wal::segment_start(seg->segno, kSegmentSize).value();
  if (state->durable_lsn.value() <= start) return true;
  const uint64_t durable = std::min<uint64_t>(state->durable_lsn.value() - start, kSegmentSize);
  const storage::PosixStorage storage(repo);
  const auto held = archive::read_tip(storage, seg->timeline, seg->segno, kSegmentSize);
  if (!held) return true;  // archived meanwhile
  const auto server = read_file(pg_wal_dir + "/" + state->segment);
  return held->size() >= durable && server.size() >= durable &&
         std::equal(held->begin(), held->begin() + static_cast<std::ptrdiff_t>(durable), server.begin());
}

}  // namespace walvault::test
