// The streamer against a fake ReplicationSource that serves the golden PG15 WAL fixture (1 MiB segments), over
// MemoryStorage: containers equal the WAL, the index gets its events, and no status update ever reports a flush
// position beyond what the storage holds durably, also across a simulated power loss and a full disk.
#include <catch2/catch.hpp>
#include <cstring>

#include "../wal/wal_fixtures.hpp"
#include "archive/streamer.hpp"
#include "archive/tip.hpp"
#include "format/segment_container.hpp"
#include "storage/index_store.hpp"
#include "storage/memory_storage.hpp"

using namespace walvault;
using namespace std::chrono_literals;

namespace {

constexpr uint32_t kSeg = test::kFixtureSegmentSize;

class FakeClock final : public Clock {
 public:
  std::chrono::system_clock::time_point now() const override { return std::chrono::system_clock::time_point(wall_); }
  std::chrono::steady_clock::time_point steady() const override {
    return std::chrono::steady_clock::time_point(wall_);
  }
  void sleep_for(std::chrono::milliseconds d) override { wall_ += d; }

 private:
  std::chrono::milliseconds wall_{1'000'000'000'000};
};

// Storage that remembers, per append object, how many bytes were made durable by sync().
class SyncTracking final : public storage::Storage {
 public:
  explicit SyncTracking(storage::MemoryStorage& inner) : inner_(inner) {}
  storage::Capabilities capabilities() const override { return inner_.capabilities(); }
  std::vector<storage::ObjectInfo> list(std::string_view p) const override { return inner_.list(p); }
  std::optional<uint64_t> info(std::string_view n) const override { return inner_.info(n); }
  storage::Bytes read(std::string_view n) const override { return inner_.read(n); }
  storage::Bytes read_range(std::string_view n, uint64_t o, uint64_t l) const override {
    return inner_.read_range(n, o, l);
  }
  void write_atomic(std::string_view n, std::span<const std::byte> b) override { inner_.write_atomic(n, b); }
  std::unique_ptr<storage::ObjectWriter> open_writer(std::string_view n, storage::WriteMode m) override {
    return inner_.open_writer(n, m);
  }
  void remove(std::string_view n) override {
    synced.erase(std::string(n));
    inner_.remove(n);
  }
  std::unique_ptr<storage::AppendFile> open_append(std::string_view n) override {
    return std::make_unique<File>(*this, std::string(n), inner_.open_append(n));
  }
  void publish_append(std::string_view from, std::string_view to) override {
    synced.erase(std::string(from));
    inner_.publish_append(from, to);
  }
  std::unique_ptr<storage::StorageLock> lock(std::string_view n, storage::LockWait w) override {
    return inner_.lock(n, w);
  }
  std::optional<storage::LockHolder> lock_holder(std::string_view n) const override { return inner_.lock_holder(n); }
  void forget_unsynced() { synced.clear(); }

  std::map<std::string, uint64_t> synced;

 private:
  class File final : public storage::AppendFile {
   public:
    File(SyncTracking& owner, std::string name, std::unique_ptr<storage::AppendFile> inner)
        : owner_(owner), name_(std::move(name)), inner_(std::move(inner)) {}
    uint64_t size() const override { return inner_->size(); }
    // Like MemoryStorage: rewriting or cutting synced bytes makes them undurable until the next sync().
    void write_at(uint64_t o, std::span<const std::byte> b) override {
      inner_->write_at(o, b);
      lower(o);
    }
    void truncate(uint64_t l) override {
      inner_->truncate(l);
      lower(l);
    }
    void sync() override {
      inner_->sync();
      owner_.synced[name_] = inner_->size();
    }
    void replace(std::span<const std::byte> b) override {
      inner_->replace(b);
      owner_.synced[name_] = inner_->size();
    }

   private:
    void lower(uint64_t length) {
      if (const auto it = owner_.synced.find(name_); it != owner_.synced.end()) it->second = std::min(it->second, length);
    }
    SyncTracking& owner_;
    std::string name_;
    std::unique_ptr<storage::AppendFile> inner_;
  };
  storage::MemoryStorage& inner_;
};

struct Script {
  std::atomic<bool> stop{false};
  FakeClock clock;
  storage::MemoryStorage memory;
  SyncTracking storage{memory};
  std::vector<wal::Lsn> flushes;
  std::vector<std::string> violations;
  int connections = 0;
  std::optional<std::size_t> crash_after;  // messages into the first connection
  std::optional<wal::Lsn> end_at;          // the first connection stops here: server ends / streamer stops
  bool stop_at_end = false;                // at end_at, stop the streamer (a process restart) instead
  std::size_t message_bytes = 3 * 8192 + 100;  // not page aligned: pieces cut anywhere
  std::optional<int> free_space_at;            // the connection that finds the full disk has space again
  wal::Lsn max_flush_while_full;
  std::optional<std::string> caught_up_at_reconnect;  // stream.state's caught_up when connection 2 first reads
};

uint64_t fixture_sysid() {
  uint64_t id = 0;
  std::memcpy(&id, test::wal_fixture().bytes.data() + 24, 8);
  return id;
}

// The durable end the storage can prove: an archived container, or a tip's synced prefix.
bool durable_in_storage(Script& s, wal::Lsn flush) {
  if (flush == test::wal_fixture().start) return true;
  const wal::SegmentNo seg = wal::segment_of_end(flush, kSeg);
  if (s.memory.info(format::segment_object_name(wal::TimelineId(1), seg, kSeg))) return true;
  // The tip as a crash now would leave it: the synced prefixes of its container and tail log.
  storage::MemoryStorage durable;
  for (const auto& name : {archive::tip_object_name(wal::TimelineId(1), seg, kSeg),
                           archive::tail_object_name(wal::TimelineId(1), seg, kSeg)}) {
    const auto it = s.storage.synced.find(name);
    if (it != s.storage.synced.end()) durable.write_atomic(name, s.memory.read_range(name, 0, it->second));
  }
  const auto held = archive::read_tip(durable, wal::TimelineId(1), seg, kSeg);
  const uint64_t need = flush.value() - wal::segment_start(seg, kSeg).value();
  return held && held->size() >= need &&
         std::equal(held->begin(), held->begin() + static_cast<std::ptrdiff_t>(need),
                    test::wal_fixture().bytes.begin() +
                        static_cast<std::ptrdiff_t>(wal::segment_start(seg, kSeg) - test::wal_fixture().start));
}

class FakeSource final : public pg::ReplicationSource {
 public:
  explicit FakeSource(Script& s) : s_(s) {
    if (++s_.connections == s_.free_space_at) s_.memory.set_capacity(std::nullopt);
  }
  pg::SystemIdentity identify_system() override {
    return {fixture_sysid(), wal::TimelineId(1), end()};
  }
  int server_version() override { return 150018; }
  uint32_t wal_segment_size() override { return kSeg; }
  std::optional<pg::SlotInfo> read_slot(const std::string&) override {
    return pg::SlotInfo{test::wal_fixture().start + 40, wal::TimelineId(1)};
  }
  void create_slot(const std::string&) override {}
  pg::TimelineHistoryFile timeline_history(wal::TimelineId) override { return {}; }
  std::optional<pg::TimelineEnd> start(const std::string&, wal::Lsn start, wal::TimelineId) override {
    pos_ = start;
    return std::nullopt;
  }
  pg::StreamEvent next(std::chrono::milliseconds timeout) override {
    const auto& f = test::wal_fixture();
    if (s_.connections == 2 && sent_ == 0 && idle_ == 0 && !s_.caught_up_at_reconnect) {
      s_.caught_up_at_reconnect = archive::read_stream_state(s_.memory)->caught_up;
    }
    if (s_.crash_after && s_.connections == 1 && sent_ == *s_.crash_after) {
      s_.memory.crash();
      s_.storage.forget_unsynced();
      s_.crash_after.reset();
    }
    if (pos_ >= end()) {
      s_.clock.sleep_for(timeout);
      if (++idle_ > 3) s_.stop = true;  // everything was sent and acknowledged: end the test run
      return pg::Keepalive{end(), 0, true};
    }
    const bool first = s_.connections == 1;
    if (s_.end_at && first && pos_ == *s_.end_at) {
      if (!s_.stop_at_end) return pg::StreamEnded{};
      s_.stop = true;
      return pg::Keepalive{end(), 0, false};
    }
    s_.clock.sleep_for(30ms);
    const std::size_t off = pos_ - f.start;
    std::size_t n = std::min(s_.message_bytes, f.bytes.size() - off);
    if (s_.end_at && first && pos_ < *s_.end_at) n = std::min<std::size_t>(n, *s_.end_at - pos_);
    pg::XLogData d{pos_, end(), 0, std::span(f.bytes).subspan(off, n)};
    pos_ = pos_ + n;
    ++sent_;
    return d;
  }
  void send_status(wal::Lsn, wal::Lsn flush, int64_t, bool) override {
    s_.flushes.push_back(flush);
    if (s_.free_space_at && s_.connections < *s_.free_space_at) {
      s_.max_flush_while_full = std::max(s_.max_flush_while_full, flush);
    }
    if (!durable_in_storage(s_, flush)) s_.violations.push_back(flush.to_string());
  }

 private:
  static wal::Lsn end() { return test::wal_fixture().start + test::wal_fixture().bytes.size(); }
  Script& s_;
  wal::Lsn pos_;
  std::size_t sent_ = 0;
  int idle_ = 0;
};

repo::RepoConfig config() {
  repo::RepoConfig c;
  c.system_identifier = fixture_sysid();
  c.pg_version = 150018;
  c.segment_size = kSeg;
  c.timeline = wal::TimelineId(1);
  c.conninfo = "host=unused";
  c.slot = "walvault";
  return c;
}

void run(Script& s) {
  archive::StreamerOptions options;
  options.regular_connections = false;
  options.backoff_initial = 10ms;
  archive::Streamer streamer(s.storage, config(), s.clock, [&s] { return std::make_unique<FakeSource>(s); },
                             options, s.stop);
  streamer.run();
}

// Every object under prefix with its bytes.
std::map<std::string, storage::Bytes> objects_under(const Script& s, const std::string& prefix) {
  std::map<std::string, storage::Bytes> out;
  for (const auto& o : s.memory.list(prefix)) out[o.name] = s.memory.read(o.name);
  return out;
}

void check_containers(Script& s) {
  const auto& f = test::wal_fixture();
  format::ContainerReader reader;
  const std::size_t segments = f.bytes.size() / kSeg;
  for (std::size_t i = 0; i < segments; ++i) {
    const wal::SegmentNo segno = wal::segment_of(f.start + i * kSeg, kSeg);
    const auto name = format::segment_object_name(wal::TimelineId(1), segno, kSeg);
    INFO(name);
    REQUIRE(s.memory.info(name));
    const auto raw = reader.read(s.memory.read(name));
    REQUIRE(raw);
    CHECK(std::equal(raw->begin(), raw->end(), f.bytes.begin() + static_cast<std::ptrdiff_t>(i * kSeg)));
  }
}

}  // namespace

TEST_CASE("the streamer archives every segment and never acknowledges undurable WAL", "[archive][streamer]") {
  Script s;
  run(s);
  CHECK(s.violations.empty());
  REQUIRE_FALSE(s.flushes.empty());
  CHECK(s.flushes.back() == test::wal_fixture().start + test::wal_fixture().bytes.size());
  check_containers(s);
  CHECK(s.memory.list("tip/").size() == 1);  // only tip/stream.state: the last segment was archived

  // The index has the fixture's events, sealed in runs.
  auto view = storage::open_index(s.memory, wal::TimelineId(1), kSeg);
  const auto events = view.events_by_lsn(wal::Lsn(0), wal::Lsn(~uint64_t{0}));
  REQUIRE(events);
  std::vector<std::string> seen;
  for (const auto& e : *events) seen.push_back(std::string(format::event_kind_name(e.kind)) + " " + std::to_string(e.xid));
  const std::string expected = test::fixture_text("expected_events.txt");
  for (const auto& line : seen) CHECK(expected.find(line) != std::string::npos);
  CHECK(seen.size() == 9);  // the fixture's eight statements and its rewriting ALTER COLUMN ... TYPE
}

TEST_CASE("after a power loss mid-stream the streamer refetches and still acknowledges only durable WAL",
          "[archive][streamer]") {
  Script s;
  s.crash_after = 60;  // about 1.5 MiB in: the first segment is archived, the second is in the tip
  // The crash kills every storage handle, so the streamer fails like the process would; a new one restarts.
  CHECK_THROWS_WITH(run(s), "storage handle lost in a crash");
  run(s);
  CHECK(s.connections >= 2);
  CHECK(s.violations.empty());
  check_containers(s);
}

// Commit 739 of the fixture begins at 0/010FFEC0 and ends in the next segment: a restart exactly at that
// segment boundary must still index it, once.
TEST_CASE("a commit that straddles the segment boundary where streaming restarts is indexed once",
          "[archive][streamer]") {
  const wal::Lsn boundary(0x01100000);
  for (const bool process_restart : {false, true}) {
    DYNAMIC_SECTION((process_restart ? "process restart" : "reconnect")) {
      Script s;
      s.end_at = boundary;
      s.stop_at_end = process_restart;
      run(s);
      if (process_restart) {
        CHECK(s.memory.info(format::segment_object_name(wal::TimelineId(1), wal::SegmentNo(0x10), kSeg)));
        s.stop = false;
        run(s);
      }
      CHECK(s.connections >= 2);
      CHECK(s.violations.empty());
      check_containers(s);
      auto view = storage::open_index(s.memory, wal::TimelineId(1), kSeg);
      const auto commits = view.lookup_xid(739);
      REQUIRE(commits);
      REQUIRE(commits->size() == 1);
      CHECK(commits->front().lsn == wal::Lsn(0x010FFEC0));
      // Segment 0/10's run is sealed, after its last record, and its tip log is gone.
      CHECK_FALSE(s.memory.info(format::tip_log_object_name(wal::TimelineId(1), wal::SegmentNo(0x10), kSeg)));
    }
  }
}

TEST_CASE("a full disk pauses the streamer in-process, and when space returns it resumes with no gap",
          "[archive][streamer]") {
  Script clean;
  run(clean);

  Script s;
  uint64_t stored = 0;
  for (const auto& o : clean.memory.list("")) stored += o.size;
  s.memory.set_capacity(stored * 2 / 3);  // fills while the second or third segment streams
  s.free_space_at = 4;                 // three attempts fail on the full disk, the fourth finds space
  run(s);                              // the full disk never ends run(): it retries
  CHECK(s.connections >= 4);
  CHECK(s.violations.empty());  // never a flush position beyond what the storage holds durably
  CHECK(s.max_flush_while_full < clean.flushes.back());
  check_containers(s);
  // Byte for byte what an undisturbed run stores: the container summaries count each commit once, and nothing
  // is left over (the unfinished containers were discarded, torn index tip logs were truncated and sealed).
  CHECK(objects_under(s, "wal/") == objects_under(clean, "wal/"));
  CHECK(objects_under(s, "index/") == objects_under(clean, "index/"));
  CHECK(s.memory.list("tip/").size() == 1);
}

// The first status update and state record of a restarted streamer report what its tip holds, before the server
// sends the segment again (a server that cannot would otherwise leave the durable position understated).
TEST_CASE("a restarted streamer reports the tip it holds as durable before the segment arrives again",
          "[archive][streamer]") {
  Script s;
  s.end_at = test::wal_fixture().start + kSeg + 100'000;  // inside the second segment, in its tip
  s.stop_at_end = true;
  run(s);
  REQUIRE(s.flushes.back() == *s.end_at);
  // It never held everything the server had: it has never caught up, and a restart does not pretend it has (the
  // lag status reports counts from the last time it really had).
  CHECK(archive::read_stream_state(s.memory)->caught_up.empty());
  const std::size_t first_run = s.flushes.size();
  s.stop = false;
  run(s);
  REQUIRE(s.flushes.size() > first_run);
  CHECK(s.flushes[first_run] == *s.end_at);
  REQUIRE(s.caught_up_at_reconnect);
  CHECK(s.caught_up_at_reconnect->empty());
  CHECK_FALSE(archive::read_stream_state(s.memory)->caught_up.empty());  // then it caught up
  CHECK(s.violations.empty());
  check_containers(s);
}
