// The streamer's tip (src/archive/tip.hpp) over MemoryStorage: what read_tip sees while a segment is written and
// synced, the container archive() publishes, and what a Tip opened on an existing tip adopts (after a clean stop,
// after a power loss, with damaged or foreign objects) and how it treats bytes that arrive again, same or different.
#include <algorithm>
#include <catch2/catch.hpp>
#include <random>
#include <string>

#include "../sample_bytes.hpp"
#include "archive/tip.hpp"
#include "common/error.hpp"
#include "format/segment_container.hpp"
#include "format/tail_log.hpp"
#include "storage/memory_storage.hpp"

using namespace walvault;

namespace {

using walvault::test::sample;

using Bytes = std::vector<std::byte>;

constexpr uint32_t kSeg = wal::kMinSegmentSize;  // 1 MiB: four 256 KiB chunks
constexpr uint32_t kChunk = format::kSegmentChunkSize;
constexpr int kLevel = format::kDefaultZstdLevel;
const wal::TimelineId kTli(1);
const wal::SegmentNo kSegNo(3);
const archive::SegmentIdentity kSegment{7301234567890123456ULL, 150000, kTli, kSegNo, kSeg};
const format::ContainerSummary kSummary{format::TimestampTz{100}, format::TimestampTz{200}, 3, 1};

const std::string kTipName = archive::tip_object_name(kTli, kSegNo, kSeg);
const std::string kTailName = archive::tail_object_name(kTli, kSegNo, kSeg);
const std::string kArchived = format::segment_object_name(kTli, kSegNo, kSeg);

// `a` up to `n`, then `b`: a server whose history left `a` at offset n.
Bytes diverging(const Bytes& a, std::size_t n, uint32_t seed) {
  Bytes out(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(n));
  const auto rest = sample(a.size() - n, seed);
  out.insert(out.end(), rest.begin(), rest.end());
  REQUIRE(out[n] != a[n]);
  return out;
}

Bytes first(const Bytes& bytes, std::size_t n) {
  return Bytes(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
}

std::span<const std::byte> piece(const Bytes& bytes, std::size_t at, std::size_t n) {
  return std::span(bytes).subspan(at, std::min(n, bytes.size() - at));
}

// The container a fresh encode of `wal` gives with the header a Tip uses.
Bytes reference_container(const Bytes& wal) {
  format::ContainerHeader h;
  h.kind = format::ContainerKind::kSegment;
  h.chunk_size = kChunk;
  h.system_identifier = kSegment.system_identifier;
  h.pg_version = static_cast<uint32_t>(kSegment.pg_version);
  h.timeline = kTli;
  h.segment_no = kSegNo;
  h.segment_size = kSeg;
  h.start_lsn = wal::segment_start(kSegNo, kSeg);
  auto object = format::encode_container(h, wal, kSummary, {kLevel});
  REQUIRE(object);
  return *object;
}

std::optional<Bytes> held(const storage::Storage& s) { return archive::read_tip(s, kTli, kSegNo, kSeg); }

Bytes held_bytes(const storage::Storage& s) {
  auto tip = held(s);
  REQUIRE(tip);
  return *tip;
}

Bytes decode(const Bytes& object) {
  auto raw = format::ContainerReader().read(object);
  REQUIRE(raw);
  return *raw;
}

// read_tip holds at least the synced bytes, and they are `wal`'s.
void check_durable(const storage::Storage& s, const Bytes& wal, std::size_t synced) {
  const auto tip = held(s);
  REQUIRE(tip);
  CHECK(tip->size() >= synced);
  const std::size_t n = std::min(tip->size(), synced);
  CHECK(std::equal(tip->begin(), tip->begin() + static_cast<std::ptrdiff_t>(n), wal.begin()));
}

// Writes wal[0, end) in pieces of `step` into a new Tip, syncing after every piece, and drops it (a clean stop).
void write_and_drop(storage::MemoryStorage& s, const Bytes& wal, std::size_t end, std::size_t step) {
  archive::Tip tip(s, kSegment, kLevel);
  for (std::size_t at = 0; at < end; at += step) {
    REQUIRE(tip.write(static_cast<uint32_t>(at), piece(wal, at, std::min(step, end - at))));
    tip.sync();
  }
  REQUIRE(tip.synced() == end);
}

// The synced() a reopened Tip may report at `written` when it adopted `adopted` whole chunks: chunk boundaries
// while they are being checked again, everything after.
std::size_t expected_synced(std::size_t written, std::size_t adopted) {
  return written < adopted * kChunk ? written / kChunk * kChunk : written;
}

// Writes all of wal into `tip` in pieces of `step` with a sync after each; checks every write returns true and
// synced() follows expected_synced().
void rewrite_same(archive::Tip& tip, const Bytes& wal, std::size_t step, std::size_t adopted) {
  for (std::size_t at = 0; at < wal.size(); at += step) {
    const auto p = piece(wal, at, step);
    INFO("write at " << at);
    CHECK(tip.write(static_cast<uint32_t>(at), p));
    CHECK(tip.written() == at + p.size());
    tip.sync();
    CHECK(tip.synced() == expected_synced(at + p.size(), adopted));
  }
}

Bytes read_object(const storage::Storage& s, const std::string& name) { return s.read(name); }

// Archives the tip and checks that the container is the one a fresh encode of `wal` gives; returns it.
Bytes archive_and_check(const storage::Storage& s, archive::Tip& tip, const Bytes& wal) {
  tip.archive(kSummary);
  auto object = read_object(s, kArchived);
  CHECK_SAME_BYTES(object, reference_container(wal));
  return object;
}

// Replaces an append object's content (as a damaged disk would).
void overwrite(storage::MemoryStorage& s, const std::string& name, const Bytes& content) {
  s.remove(name);
  auto f = s.open_append(name);
  f->append(content);
  f->sync();
}

}  // namespace

TEST_CASE("tip: object names follow XLogFileName", "[tip]") {
  CHECK(kTipName == "tip/000000010000000000000003.partial");
  CHECK(kTailName == "tip/000000010000000000000003.tail");
  CHECK(archive::tip_object_name(wal::TimelineId(0x1A), wal::SegmentNo(0x341), 16U << 20) ==
        "tip/0000001A0000000300000041.partial");
  CHECK(archive::tail_object_name(wal::TimelineId(0x1A), wal::SegmentNo(0x341), 16U << 20) ==
        "tip/0000001A0000000300000041.tail");
}

TEST_CASE("tip: read_tip without a tip is nullopt", "[tip]") {
  storage::MemoryStorage s;
  CHECK_FALSE(held(s).has_value());
  s.write_atomic("wal/other", Bytes(10));
  CHECK_FALSE(held(s).has_value());
}

TEST_CASE("tip: written and synced bytes are what read_tip returns, and archive publishes the container", "[tip]") {
  const auto wal = sample(kSeg, 1);
  storage::MemoryStorage s;
  archive::Tip tip(s, kSegment, kLevel);
  CHECK(tip.name() == kTipName);
  CHECK(tip.segno() == kSegNo);
  CHECK(tip.written() == 0);
  CHECK(tip.synced() == 0);
  CHECK_FALSE(tip.complete());
  {
    const auto empty = held(s);
    REQUIRE(empty);
    CHECK(empty->empty());
  }

  const std::vector<std::size_t> steps{1, 8192, 100000, 3, kChunk, 77777, 5, 262143, 2, 40000};
  std::size_t at = 0;
  for (std::size_t i = 0; at < wal.size(); ++i) {
    const auto p = piece(wal, at, steps[i % steps.size()]);
    INFO("write " << i << " at " << at << " of " << p.size());
    CHECK(tip.write(static_cast<uint32_t>(at), p));
    at += p.size();
    CHECK(tip.written() == at);
    const auto before = tip.synced();
    if (i % 3 != 1) {
      tip.sync();
      CHECK(tip.synced() == at);
      const auto tip_bytes = held(s);
      REQUIRE(tip_bytes);
      CHECK_SAME_BYTES(*tip_bytes, first(wal, at));
    } else {
      // Not synced: synced() does not move, read_tip holds a prefix of the WAL.
      CHECK(tip.synced() == before);
      check_durable(s, wal, before);
      const auto tip_bytes = held(s);
      REQUIRE(tip_bytes);
      CHECK(tip_bytes->size() <= at);
    }
  }
  CHECK(tip.complete());
  tip.sync();
  CHECK(tip.synced() == kSeg);

  CHECK(tip.archive(kSummary) == kArchived);
  const auto object = read_object(s, kArchived);
  CHECK_SAME_BYTES(object, reference_container(wal));
  auto decoded = format::ContainerReader().read(object);
  REQUIRE(decoded);
  CHECK_SAME_BYTES(*decoded, wal);
  auto info = format::parse_container(object);
  REQUIRE(info);
  CHECK(info->header.system_identifier == kSegment.system_identifier);
  CHECK(info->header.segment_no == kSegNo);
  CHECK(info->summary == kSummary);
  CHECK_FALSE(info->partial());
  CHECK(s.list("tip/").empty());
  CHECK_FALSE(held(s).has_value());
}

TEST_CASE("tip: a partial tip archives as a partial container", "[tip]") {
  const auto wal = sample(300000, 2);
  storage::MemoryStorage s;
  archive::Tip tip(s, kSegment, kLevel);
  REQUIRE(tip.write(0, piece(wal, 0, 123456)));
  REQUIRE(tip.write(123456, piece(wal, 123456, wal.size())));
  tip.sync();
  CHECK_FALSE(tip.complete());
  CHECK(tip.archive(kSummary) == kArchived);
  const auto object = read_object(s, kArchived);
  CHECK_SAME_BYTES(object, reference_container(wal));
  CHECK_SAME_BYTES(decode(object), wal);
  CHECK(format::parse_container(object)->partial());
  CHECK(s.list("tip/").empty());
}

TEST_CASE("tip: a write that leaves a hole or overflows the segment is a bug", "[tip]") {
  const auto wal = sample(1000, 3);
  storage::MemoryStorage s;
  archive::Tip tip(s, kSegment, kLevel);
  REQUIRE(tip.write(0, piece(wal, 0, 100)));
  const auto code_of = [](const auto& fn) {
    try {
      fn();
    } catch (const Error& e) {
      return e.code();
    }
    return ErrorCode::kUsage;  // nothing thrown
  };
  CHECK(code_of([&] { tip.write(101, piece(wal, 101, 10)); }) == ErrorCode::kInternal);
  CHECK(code_of([&] { tip.write(0, piece(wal, 0, 10)); }) == ErrorCode::kInternal);
  const Bytes too_much(kSeg, std::byte{1});
  CHECK(code_of([&] { tip.write(100, too_much); }) == ErrorCode::kInternal);
  CHECK(tip.written() == 100);
  CHECK(tip.write(100, piece(wal, 100, 900)));
}

TEST_CASE("tip: a reopened tip checks the same bytes again and archives the undisturbed container", "[tip]") {
  const auto wal = sample(kSeg, 4);
  const auto expected = reference_container(wal);
  storage::MemoryStorage s;
  const std::size_t stop = 2 * kChunk + 70000;  // two whole chunks and a tail

  SECTION("after a clean stop") {
    write_and_drop(s, wal, stop, 30001);
    CHECK_SAME_BYTES(held_bytes(s), first(wal, stop));
  }
  SECTION("after a power loss with unsynced bytes past the last sync") {
    {
      archive::Tip tip(s, kSegment, kLevel);
      for (std::size_t at = 0; at < stop; at += 30001) {
        REQUIRE(tip.write(static_cast<uint32_t>(at), piece(wal, at, std::min<std::size_t>(30001, stop - at))));
        tip.sync();
      }
      // Past a chunk boundary, never synced: the third chunk's frame and more tail bytes.
      REQUIRE(tip.write(static_cast<uint32_t>(stop), piece(wal, stop, 250000)));
      s.crash();
    }
    const auto after = held(s);
    REQUIRE(after);
    CHECK_SAME_BYTES(*after, first(wal, stop));
  }

  const std::size_t step = GENERATE(std::size_t{4096}, std::size_t{50000}, std::size_t{kChunk});
  INFO("rewrite step " << step);
  archive::Tip tip(s, kSegment, kLevel);
  CHECK(tip.written() == 0);
  CHECK(tip.synced() == 0);
  rewrite_same(tip, wal, step, 2);
  CHECK(tip.complete());
  CHECK(tip.archive(kSummary) == kArchived);
  CHECK_SAME_BYTES(read_object(s, kArchived), expected);
  CHECK(s.list("tip/").empty());
}

TEST_CASE("tip: a tip reopened twice before the bytes arrived again keeps what it adopted", "[tip]") {
  const auto wal = sample(kSeg, 5);
  storage::MemoryStorage s;
  write_and_drop(s, wal, 3 * kChunk + 1000, 65536);
  {
    // Only part of the adopted bytes come back before this one stops too.
    archive::Tip tip(s, kSegment, kLevel);
    CHECK(tip.write(0, piece(wal, 0, kChunk + 5)));
    tip.sync();
    CHECK(tip.synced() == kChunk);
  }
  CHECK_SAME_BYTES(held_bytes(s), first(wal, 3 * kChunk + 1000));
  archive::Tip tip(s, kSegment, kLevel);
  rewrite_same(tip, wal, 65536, 3);
  archive_and_check(s, tip, wal);
}

TEST_CASE("tip: different bytes inside an adopted chunk are reported and replace the tip's", "[tip]") {
  const auto wal = sample(kSeg, 6);
  storage::MemoryStorage s;
  write_and_drop(s, wal, 3 * kChunk + 10000, 40000);  // three whole chunks and a tail

  // The server's WAL leaves the tip's in chunk 1: the mismatch shows when chunk 1 is complete.
  const auto changed = diverging(wal, kChunk + 5000, 66);
  archive::Tip tip(s, kSegment, kLevel);
  constexpr std::size_t kStep = 65536;  // four writes a chunk: the 8th completes chunk 1
  bool reported = false;
  for (std::size_t at = 0, i = 0; at < changed.size(); at += kStep, ++i) {
    INFO("write " << i << " at " << at);
    const bool same = tip.write(static_cast<uint32_t>(at), piece(changed, at, kStep));
    CHECK(same == (i != 7));
    reported = reported || !same;
    tip.sync();
    if (!reported) {
      // Still checking chunk 1: only chunk 0 is known to be the server's.
      CHECK(tip.synced() == at + kStep - (at + kStep) % kChunk);
      CHECK(tip.synced() <= kChunk);
    } else {
      CHECK(tip.synced() == tip.written());
    }
    check_durable(s, changed, tip.synced());
  }
  CHECK(reported);
  CHECK_SAME_BYTES(decode(archive_and_check(s, tip, changed)), changed);
}

TEST_CASE("tip: different bytes inside the adopted tail log are reported and replace the tip's", "[tip]") {
  const auto wal = sample(kSeg, 7);
  storage::MemoryStorage s;
  const std::size_t stop = 2 * kChunk + 100000;
  write_and_drop(s, wal, stop, 25000);

  const std::size_t differ = 2 * kChunk + 50000;
  const auto changed = diverging(wal, differ, 77);
  archive::Tip tip(s, kSegment, kLevel);
  constexpr std::size_t kStep = 30000;
  const std::size_t mismatch_write = differ / kStep;
  for (std::size_t at = 0, i = 0; at < changed.size(); at += kStep, ++i) {
    INFO("write " << i << " at " << at);
    const bool same = tip.write(static_cast<uint32_t>(at), piece(changed, at, kStep));
    CHECK(same == (i != mismatch_write));
    tip.sync();
    CHECK(tip.synced() == expected_synced(tip.written(), 2));
    check_durable(s, changed, tip.synced());
  }
  CHECK_SAME_BYTES(decode(archive_and_check(s, tip, changed)), changed);
}

TEST_CASE("tip: after a mismatch the tip holds none of the replaced bytes", "[tip]") {
  // The old tail log continued the chunks that were cut off. Rewritten up to exactly its base (a chunk boundary),
  // the new chunks must not appear to be continued by it.
  const auto wal = sample(kSeg, 8);
  storage::MemoryStorage s;
  write_and_drop(s, wal, 2 * kChunk + 100000, 50000);
  const auto changed = diverging(wal, 1000, 88);
  archive::Tip tip(s, kSegment, kLevel);
  CHECK_FALSE(tip.write(0, piece(changed, 0, kChunk)));
  tip.sync();
  CHECK_SAME_BYTES(held_bytes(s), first(changed, kChunk));
  CHECK(tip.write(kChunk, piece(changed, kChunk, kChunk)));
  tip.sync();
  CHECK(tip.synced() == 2 * kChunk);
  const auto tip_bytes = held(s);
  REQUIRE(tip_bytes);
  CHECK(tip_bytes->size() == 2 * kChunk);
  CHECK_SAME_BYTES(*tip_bytes, first(changed, std::min<std::size_t>(tip_bytes->size(), changed.size())));

  // A restart now: the server's bytes are checked against nothing stale.
  s.crash();
  archive::Tip again(s, kSegment, kLevel);
  for (std::size_t at = 0; at < changed.size(); at += 50000) {
    INFO("write at " << at);
    CHECK(again.write(static_cast<uint32_t>(at), piece(changed, at, 50000)));
    again.sync();
  }
  archive_and_check(s, again, changed);
}

TEST_CASE("tip: a mismatch that leaves the container the same size is still made durable", "[tip]") {
  const auto wal = sample(kSeg, 9);
  storage::MemoryStorage s;
  write_and_drop(s, wal, 2 * kChunk, 65536);  // exactly two whole chunks

  // Change one byte of chunk 1 so that its frame keeps its compressed size: the container file is as long as
  // before once the new frame replaces the old one.
  format::FrameEncoder encoder(kLevel);
  const auto old_frame = encoder.encode(std::span(wal).subspan(kChunk, kChunk));
  REQUIRE(old_frame);
  const uint32_t old_size = old_frame->entry.stored_size;
  Bytes changed;
  for (std::size_t at = kChunk + 1064; at < 2 * kChunk && changed.empty(); at += 64) {
    auto candidate = wal;
    candidate[at] ^= std::byte{0x01};
    const auto frame = encoder.encode(std::span(candidate).subspan(kChunk, kChunk));
    REQUIRE(frame);
    if (frame->entry.stored_size == old_size) changed = std::move(candidate);
  }
  REQUIRE_FALSE(changed.empty());

  archive::Tip tip(s, kSegment, kLevel);
  const auto size_before = s.info(kTipName);
  CHECK(tip.write(0, piece(changed, 0, kChunk)));
  CHECK_FALSE(tip.write(kChunk, piece(changed, kChunk, kChunk)));
  CHECK(s.info(kTipName) == size_before);
  tip.sync();
  CHECK(tip.synced() == 2 * kChunk);
  s.crash();  // what sync() promised must survive
  check_durable(s, changed, 2 * kChunk);
}

TEST_CASE("tip: a container damaged in chunk k is adopted up to k", "[tip]") {
  const auto wal = sample(kSeg, 10);
  storage::MemoryStorage s;
  write_and_drop(s, wal, 3 * kChunk + 50000, 60000);
  const auto prefix = format::parse_container_prefix(
      [&](uint64_t offset, uint64_t length) { return s.read_range(kTipName, offset, length); });
  REQUIRE(prefix);
  REQUIRE(prefix->chunks.size() == 3);

  const std::size_t k = GENERATE(std::size_t{0}, std::size_t{1}, std::size_t{2});
  const auto& e = prefix->chunks[k];
  // In the zstd bytes, the stored size, the stored checksum, or the raw checksum (bytes 8..15 of the frame
  // header, which the stored checksum does not cover).
  const uint64_t at = GENERATE_COPY(e.offset + format::kChunkFrameHeaderSize + e.stored_size / 2, e.offset + 1,
                                    e.offset + 20, e.offset + 10);
  INFO("damaged chunk " << k << " at offset " << at - e.offset << " of its frame");
  auto object = read_object(s, kTipName);
  object[at] ^= std::byte{0x10};
  overwrite(s, kTipName, object);

  // Only the chunks before k; the tail log no longer continues them.
  CHECK_SAME_BYTES(held_bytes(s), first(wal, k * kChunk));

  archive::Tip tip(s, kSegment, kLevel);
  CHECK(s.info(kTipName) == std::optional<uint64_t>(e.offset));  // the damaged frame and all after it are gone
  CHECK_FALSE(s.info(kTailName).has_value());
  rewrite_same(tip, wal, 60000, k);
  archive_and_check(s, tip, wal);
}

TEST_CASE("tip: a tail log that does not continue the container is ignored and removed", "[tip]") {
  const auto wal = sample(kSeg, 11);
  storage::MemoryStorage s;
  write_and_drop(s, wal, 2 * kChunk + 50000, 20000);
  const auto tail = read_object(s, kTailName);
  REQUIRE(format::parse_tail_log(tail, kChunk)->base_offset == 2 * kChunk);

  SECTION("wrong base") {
    auto moved = format::encode_tail_log_header(kChunk);
    moved.insert(moved.end(), tail.begin() + format::kTailLogHeaderSize, tail.end());
    overwrite(s, kTailName, moved);
  }
  SECTION("base past the container's end") {
    auto moved = format::encode_tail_log_header(3 * kChunk);
    moved.insert(moved.end(), tail.begin() + format::kTailLogHeaderSize, tail.end());
    overwrite(s, kTailName, moved);
  }
  SECTION("damaged header") {
    auto bad = tail;
    bad[18] ^= std::byte{0x01};
    overwrite(s, kTailName, bad);
  }
  SECTION("shorter than its header") { overwrite(s, kTailName, first(tail, 10)); }
  CHECK_SAME_BYTES(held_bytes(s), first(wal, 2 * kChunk));

  archive::Tip tip(s, kSegment, kLevel);
  CHECK_FALSE(s.info(kTailName).has_value());
  rewrite_same(tip, wal, 20000, 2);
  archive_and_check(s, tip, wal);
}

TEST_CASE("tip: a torn tail log is adopted up to its last intact frame", "[tip]") {
  const auto wal = sample(kSeg, 12);
  storage::MemoryStorage s;
  write_and_drop(s, wal, 2 * kChunk + 50000, 10000);  // a tail frame per sync
  auto tail = read_object(s, kTailName);
  const auto log = format::parse_tail_log(tail, kChunk);
  REQUIRE(log);
  REQUIRE(log->base_offset == 2 * kChunk);
  REQUIRE(log->raw_length == 50000);
  REQUIRE(log->frames.size() >= 3);
  const auto& last = log->frames.back();
  tail.resize(last.offset + 10);
  overwrite(s, kTailName, tail);
  CHECK_SAME_BYTES(held_bytes(s), first(wal, 2 * kChunk + 50000 - last.raw_size));

  archive::Tip tip(s, kSegment, kLevel);
  CHECK(s.info(kTailName) == std::optional<uint64_t>(last.offset));  // the torn frame was cut off
  rewrite_same(tip, wal, 10000, 2);
  archive_and_check(s, tip, wal);
}

TEST_CASE("tip: a tip of another system or segment is not adopted", "[tip]") {
  const auto wal = sample(kSeg, 13);
  storage::MemoryStorage s;
  write_and_drop(s, wal, 2 * kChunk + 1000, 50000);

  auto other = kSegment;
  other.system_identifier += 1;
  const auto changed = sample(kSeg, 14);
  archive::Tip tip(s, other, kLevel);
  // Nothing adopted: nothing is compared, everything synced is the new bytes.
  for (std::size_t at = 0; at < changed.size(); at += 50000) {
    CHECK(tip.write(static_cast<uint32_t>(at), piece(changed, at, 50000)));
    tip.sync();
    CHECK(tip.synced() == tip.written());
    check_durable(s, changed, tip.synced());
  }
  tip.archive(kSummary);
  const auto object = read_object(s, kArchived);
  CHECK_SAME_BYTES(decode(object), changed);
  CHECK(format::parse_container(object)->header.system_identifier == other.system_identifier);
}
