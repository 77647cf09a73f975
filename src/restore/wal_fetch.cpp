#include "restore/wal_fetch.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <future>
#include <thread>
#include <vector>

#include "archive/history_files.hpp"
#include "archive/timeline_history.hpp"
#include "archive/tip.hpp"
#include "common/error.hpp"
#include "common/process.hpp"
#include "format/segment_container.hpp"
#include "restore/plan_inputs.hpp"
#include "storage/file_lock.hpp"
#include "storage/io_bytes.hpp"

namespace walvault::restore {
namespace {

constexpr std::string_view kRequestedFile = "requested";
constexpr std::string_view kLockFile = "prefetch.lock";
constexpr std::string_view kStopFile = "stop";
// A prefetcher with a full window waits this long for PostgreSQL to ask for more before it exits.
constexpr auto kIdleExit = std::chrono::seconds(5);
constexpr auto kIdlePoll = std::chrono::milliseconds(5);
// Segments the prefetcher fetches at once.
constexpr std::size_t kFetchers = 4;

[[noreturn]] void io_error(const std::string& what, const std::string& path, int err) {
  throw Error(ErrorCode::kIo, what + " \"" + path + "\": " + std::strerror(err));
}

[[noreturn]] void corrupt(const std::string& object, const std::string& what) {
  throw Error(ErrorCode::kCorrupt, "WAL object " + object + " cannot be served: " + what,
              "recovery must not continue past damaged WAL; 'walvault verify' names every damaged object");
}

std::string parent_dir(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string base_name(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Writes `bytes` at `offset` of a new file of `size` bytes (zeros elsewhere) next to dest, then renames it to
// dest, so dest appears complete or not at all.
void write_file_atomically(const std::string& dest, std::span<const std::byte> bytes, uint64_t offset,
                           uint64_t size) {
  const std::string tmp = parent_dir(dest) + "/." + base_name(dest) + ".walvault." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) io_error("cannot create", tmp, errno);
  const auto fail = [&](const char* what) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    io_error(what, tmp, err);
  };
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) fail("cannot size");
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::pwrite(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("cannot write");
    done += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    io_error("cannot write", tmp, err);
  }
  if (::rename(tmp.c_str(), dest.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    io_error("cannot rename into place", dest, err);
  }
}

// Verifies and decompresses a segment container; nullopt when it does not exist (asked for directly, not probed
// first: from an object store that saves a request per segment).
std::optional<HeldSegment> read_container(const storage::Storage& storage, const repo::RepoConfig& config,
                                          const std::string& object, const wal::SegmentName& segment) {
  std::unique_ptr<storage::ObjectView> view;
  try {
    view = storage.view(object);
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kNotFound) return std::nullopt;
    throw;
  }
  const std::span<const std::byte> bytes = view->bytes();
  const auto info = format::parse_container(bytes);
  if (!info) corrupt(object, info.error().message);
  const format::ContainerHeader& h = info->header;
  if (h.system_identifier != config.system_identifier) {
    throw Error(ErrorCode::kRepository,
                "WAL object " + object + " belongs to another cluster (system identifier " +
                    std::to_string(h.system_identifier) + ", the repository's is " +
                    std::to_string(config.system_identifier) + ")",
                "this repository holds objects of a foreign cluster; restore from that cluster's own repository");
  }
  if (h.kind != format::ContainerKind::kSegment || h.timeline != segment.timeline || h.segment_no != segment.segno ||
      h.segment_size != config.segment_size) {
    corrupt(object, "its header names another segment");
  }
  HeldSegment held;
  held.offset = wal::segment_offset(h.start_lsn, config.segment_size);
  held.bytes.resize(info->raw_length);
  format::ContainerReader reader;
  const auto decoded = reader.decode_all(*info, bytes, held.bytes);
  if (!decoded) corrupt(object, decoded.error().message);
  return held;
}

// The durable part of the streamer's in-progress copy of the segment, if that is what it is writing.
std::optional<HeldSegment> read_tip_prefix(const storage::Storage& storage, const repo::RepoConfig& config,
                                           const wal::SegmentName& segment) {
  const auto tip = read_tip_state(storage, config.segment_size);
  if (!tip || tip->timeline != segment.timeline || tip->segno != segment.segno) return std::nullopt;
  const wal::Lsn start = wal::segment_start(segment.segno, config.segment_size);
  if (tip->durable_lsn <= start) return std::nullopt;
  const uint64_t durable = std::min<uint64_t>(tip->durable_lsn - start, config.segment_size);
  const auto held = archive::read_tip(storage, segment.timeline, segment.segno, config.segment_size);
  const std::string object = archive::tip_object_name(segment.timeline, segment.segno, config.segment_size);
  if (!held) {
    // Archived between the two looks: the container serves it.
    if (storage.info(format::segment_object_name(segment.timeline, segment.segno, config.segment_size))) {
      return std::nullopt;
    }
    corrupt(object, "tip/stream.state records " + tip->durable_lsn.to_string() +
                        " as durable in it, and the repository does not hold it");
  }
  if (held->size() < durable) {
    corrupt(object, "it holds " + std::to_string(held->size()) + " bytes, less than the " + std::to_string(durable) +
                        " the streamer recorded as durable");
  }
  HeldSegment out;
  out.bytes.assign(held->begin(), held->begin() + static_cast<std::ptrdiff_t>(durable));
  return out;
}

void write_segment(const HeldSegment& held, const repo::RepoConfig& config, const std::string& dest) {
  write_file_atomically(dest, held.bytes, held.offset, config.segment_size);
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// The segment named in the spool's "requested" file.
std::optional<wal::SegmentName> read_requested(const std::string& dir, uint32_t segment_size) {
  const int fd = ::open((dir + "/" + std::string(kRequestedFile)).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char buf[32] = {};
  const ssize_t n = ::read(fd, buf, 24);
  ::close(fd);
  if (n != 24) return std::nullopt;
  return wal::parse_segment_file_name(std::string_view(buf, 24), segment_size);
}

}  // namespace

FetchOutcome fetch_wal_file(const storage::Storage& storage, const repo::RepoConfig& config, std::string_view name,
                            const std::string& dest) {
  if (const auto tli = wal::parse_history_file_name(name)) {
    const std::string object = archive::history_object_name(*tli);
    if (!storage.info(object)) return FetchOutcome::kMissing;
    // A damaged file is never served (kCorrupt); what is served is exactly the server's bytes. Its switch points
    // are checked against the WAL held as the planner checks them (read_branch): PostgreSQL follows them blindly.
    const std::string text = archive::read_history_file(storage, object, repo::seal_rule(config));
    const auto parsed = archive::parse_timeline_history(*tli, text);
    if (!parsed) corrupt(object, parsed.error());
    const auto disagreement =
        history_disagreement(*tli, *parsed, read_wal_coverage(storage, config.segment_size), config.segment_size);
    if (disagreement) corrupt(object, *disagreement);
    write_file_atomically(dest, std::as_bytes(std::span(text.data(), text.size())), 0, text.size());
    return FetchOutcome::kFetched;
  }
  const auto segment = name.size() == 24 ? wal::parse_segment_file_name(name, config.segment_size) : std::nullopt;
  if (!segment) return FetchOutcome::kMissing;
  const auto held = read_held_segment(storage, config, *segment);
  if (!held) return FetchOutcome::kMissing;
  write_segment(*held, config, dest);
  return FetchOutcome::kFetched;
}

std::optional<HeldSegment> read_held_segment(const storage::Storage& storage, const repo::RepoConfig& config,
                                             const wal::SegmentName& segment) {
  const std::string object = format::segment_object_name(segment.timeline, segment.segno, config.segment_size);
  if (auto held = read_container(storage, config, object, segment)) return held;
  if (auto tip = read_tip_prefix(storage, config, segment)) return tip;
  // The streamer may have archived the tip between the two looks.
  return read_container(storage, config, object, segment);
}

Spool::Spool(std::string dir) : dir_(std::move(dir)) {}

bool Spool::take(std::string_view name, const std::string& dest) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) io_error("cannot create", dir_, ec.value());
  // "requested" is a hint for the prefetcher, rewritten in place on every request: 24 bytes in one write() at
  // offset 0, which a concurrent read() sees whole. A temporary file renamed over it cost more than the rest of
  // the request (ext4 flushes a file renamed over another), and nothing is lost if it is stale after a crash.
  const std::string requested = dir_ + "/" + std::string(kRequestedFile);
  const int fd = ::open(requested.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) io_error("cannot open", requested, errno);
  const ssize_t written = ::pwrite(fd, name.data(), name.size(), 0);
  const int write_errno = errno;
  ::close(fd);
  if (written != static_cast<ssize_t>(name.size())) io_error("cannot write", requested, write_errno);
  const std::string spooled = dir_ + "/" + std::string(name);
  if (::rename(spooled.c_str(), dest.c_str()) == 0) return true;
  if (errno != ENOENT) io_error("cannot move the prefetched segment into place", dest, errno);
  return false;
}

void Spool::start_prefetcher(const std::vector<std::string>& address_argv, uint32_t depth) const {
  if (!storage::FileLock::take(dir_ + "/" + std::string(kLockFile), storage::LockWait::kTry)) return;  // one runs
  const std::string self = self_executable();
  const char* exe = self.c_str();
  const std::string depth_text = std::to_string(depth);
  const pid_t child = ::fork();
  if (child < 0) io_error("cannot start the prefetcher", dir_, errno);
  if (child == 0) {
    // Detach: a new session, then a grandchild that PostgreSQL's shell never waits for.
    ::setsid();
    if (::fork() != 0) ::_exit(0);
    const int null = ::open("/dev/null", O_RDWR);
    if (null >= 0) {
      ::dup2(null, 0);
      ::dup2(null, 1);
      ::dup2(null, 2);
    }
    std::vector<const char*> argv{exe, "wal-fetch"};
    for (const std::string& arg : address_argv) argv.push_back(arg.c_str());
    for (const char* arg : {"--spool", dir_.c_str(), "--prefetch", depth_text.c_str(), "--prefetch-worker"}) {
      argv.push_back(arg);
    }
    argv.push_back(nullptr);
    ::execv(exe, const_cast<char* const*>(argv.data()));
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
}

void Spool::prefetch(const repo::Repository& repository, uint32_t depth) const {
  if (!exists(dir_)) return;
  const auto lock = storage::FileLock::take(dir_ + "/" + std::string(kLockFile), storage::LockWait::kTry);
  if (!lock) return;
  const uint32_t seg = repository.config.segment_size;
  auto idle_since = std::chrono::steady_clock::now();
  std::optional<wal::SegmentName> last_seen;
  while (!exists(dir_ + "/" + std::string(kStopFile))) {
    const auto requested = read_requested(dir_, seg);
    if (!requested) return;
    if (!last_seen || last_seen->segno != requested->segno || last_seen->timeline != requested->timeline) {
      last_seen = requested;
      idle_since = std::chrono::steady_clock::now();
    }
    // Drop what PostgreSQL has gone past (or another timeline's segments).
    if (DIR* d = ::opendir(dir_.c_str())) {
      while (const dirent* entry = ::readdir(d)) {
        const auto s = wal::parse_segment_file_name(entry->d_name, seg);
        if (s && (s->timeline != requested->timeline || s->segno <= requested->segno)) {
          ::unlink((dir_ + "/" + entry->d_name).c_str());
        }
      }
      ::closedir(d);
    }
    std::vector<wal::SegmentName> next;
    for (uint32_t i = 1; i <= depth && next.size() < kFetchers; ++i) {
      const wal::SegmentName name{requested->timeline, wal::SegmentNo(requested->segno.value() + i)};
      if (!exists(dir_ + "/" + wal::segment_file_name(name.timeline, name.segno, seg))) next.push_back(name);
    }
    if (next.empty()) {
      if (std::chrono::steady_clock::now() - idle_since > kIdleExit) return;
      std::this_thread::sleep_for(kIdlePoll);
      continue;
    }
    // Several at once: from an object store each segment is mostly waiting for its bytes.
    std::vector<std::future<bool>> fetches;
    for (const wal::SegmentName& segment : next) {
      fetches.push_back(std::async(std::launch::async, [&repository, segment, seg, this] {
        const std::string object = format::segment_object_name(segment.timeline, segment.segno, seg);
        const auto held = read_container(*repository.storage, repository.config, object, segment);
        if (!held) return false;  // past the archived WAL (the tip): nothing to spool
        write_segment(*held, repository.config, dir_ + "/" + wal::segment_file_name(segment.timeline, segment.segno, seg));
        return true;
      }));
    }
    bool all = true;
    for (auto& fetch : fetches) all = fetch.get() && all;
    if (!all) return;
  }
}

void Spool::remove() const {
  if (!exists(dir_)) return;
  write_file_atomically(dir_ + "/" + std::string(kStopFile), {}, 0, 0);
  {
    const auto wait_for_prefetcher =
        storage::FileLock::take(dir_ + "/" + std::string(kLockFile), storage::LockWait::kWait);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    if (ec) io_error("cannot remove", dir_, ec.value());
  }
}

}  // namespace walvault::restore
