#include <catch2/catch.hpp>

#include <algorithm>
#include <string>

#include "archive/stream_state.hpp"
#include "archive/tip.hpp"
#include "archive/verifier.hpp"
#include "archive/verify_state.hpp"
#include "format/index.hpp"
#include "format/sealed_object.hpp"
#include "format/segment_container.hpp"
#include "storage/memory_storage.hpp"

namespace {

using namespace walvault;
using archive::ProblemKind;
using wal::Lsn;
using wal::SegmentNo;
using wal::TimelineId;

constexpr uint32_t kSeg = 1U << 20;
constexpr uint32_t kChunk = 64U << 10;
constexpr uint64_t kSystem = 42;

repo::RepoConfig config() {
  repo::RepoConfig c;
  c.system_identifier = kSystem;
  c.pg_version = 150000;
  c.segment_size = kSeg;
  c.timeline = TimelineId(1);
  return c;
}

std::string segment_name(uint32_t tli, uint64_t segno) {
  return format::segment_object_name(TimelineId(tli), SegmentNo(segno), kSeg);
}

// Stores segment segno of timeline tli (raw bytes [start, start + length)) with `commits` commits and
// `events` events in its summary, and the index run of that segment with `indexed` commits and an event on each
// commit that event_commits lists (by position).
void store_segment(storage::Storage& storage, uint32_t tli, uint64_t segno, uint64_t commits = 2,
                   uint64_t indexed = 2, uint32_t length = kSeg, bool last_crosses_end = false, uint64_t events = 0,
                   const std::vector<std::size_t>& event_commits = {}) {
  const Lsn start = wal::segment_start(SegmentNo(segno), kSeg);
  std::vector<std::byte> raw(length);
  for (uint32_t i = 0; i < length; ++i) raw[i] = std::byte(static_cast<uint8_t>((i * 7 + segno) % 251 / 3));
  format::ContainerHeader header;
  header.kind = format::ContainerKind::kSegment;
  header.chunk_size = kChunk;
  header.system_identifier = kSystem;
  header.pg_version = 150000;
  header.timeline = TimelineId(tli);
  header.segment_no = SegmentNo(segno);
  header.segment_size = kSeg;
  header.start_lsn = start;
  format::ContainerSummary summary;
  summary.commit_count = commits;
  summary.event_count = events;
  const auto object = format::encode_container(header, raw, summary);
  REQUIRE(object);
  storage.write_atomic(segment_name(tli, segno), *object);

  format::RunContent run;
  run.system_identifier = kSystem;
  run.timeline = TimelineId(tli);
  run.first_lsn = start;
  run.end_lsn = start + length;
  for (uint64_t i = 0; i < indexed; ++i) {
    // With last_crosses_end, the last commit record starts 16 bytes before the segment's end and ends in the next.
    const Lsn lsn = last_crosses_end && i + 1 == indexed ? start + (length - 16) : start + 1000 * (i + 1);
    run.commits.push_back(format::CommitEntry{lsn, lsn + 40, static_cast<format::TimestampTz>(segno * 100 + i),
                                              static_cast<uint32_t>(segno * 10 + i), false});
  }
  for (const std::size_t i : event_commits) {
    format::EventEntry event;
    event.xid = run.commits[i].xid;
    event.commit_lsn = run.commits[i].lsn;
    event.commit_time = run.commits[i].time;
    event.first_lsn = start + 500 * (i + 1);
    event.relations = {16384};
    run.events.push_back(event);
  }
  run.segments.push_back(format::SegmentSummary{SegmentNo(segno), start, start + length, std::nullopt, std::nullopt,
                                                indexed, event_commits.size()});
  const auto encoded = format::encode_run(run);
  REQUIRE(encoded);
  storage.write_atomic(format::run_object_name(TimelineId(tli), run.first_lsn, run.end_lsn), *encoded);
}

void replace(storage::Storage& storage, const std::string& name, const std::function<void(storage::Bytes&)>& edit) {
  auto bytes = storage.read(name);
  edit(bytes);
  storage.remove(name);
  storage.write_atomic(name, bytes);
}

void put_text(storage::Storage& storage, const std::string& name, const std::string& text) {
  storage.write_atomic(name, std::as_bytes(std::span(text.data(), text.size())));
}

archive::VerifyReport verify(const storage::Storage& storage, const archive::VerifyState& previous = {},
                             bool full = false) {
  return archive::verify_repository(storage, config(), previous, archive::VerifyOptions{full, {}, nullptr});
}

std::string describe(const archive::VerifyReport& report) {
  std::string text;
  for (const auto& p : report.problems) text += std::string(archive::problem_kind_name(p.kind)) + " " + p.object + ": " + p.message + "\n";
  return text;
}

}  // namespace

TEST_CASE("verifier: a clean repository, then an incremental run that reads nothing again", "[verify]") {
  storage::MemoryStorage storage;
  for (uint64_t s = 1; s <= 4; ++s) store_segment(storage, 1, s);
  const auto first = verify(storage);
  INFO(describe(first));
  CHECK(first.problems.empty());
  CHECK(first.counts.segments == 4);
  CHECK(first.counts.segments_checked == 4);
  CHECK(first.counts.index_runs_checked == 4);
  CHECK(first.counts.raw_bytes == 4 * kSeg);
  CHECK(first.state.objects.size() == 8);

  const auto second = verify(storage, first.state);
  CHECK(second.problems.empty());
  CHECK(second.counts.segments_checked == 0);
  CHECK(second.counts.index_runs_checked == 0);
  CHECK(second.state == first.state);

  SECTION("a new segment is the only one read") {
    store_segment(storage, 1, 5);
    const auto third = verify(storage, second.state);
    CHECK(third.problems.empty());
    CHECK(third.counts.segments_checked == 1);
    CHECK(third.counts.index_runs_checked == 1);
  }
  SECTION("--full reads everything again") {
    CHECK(verify(storage, second.state, true).counts.segments_checked == 4);
  }
  SECTION("the state survives its codec and storage") {
    archive::write_verify_state(storage, second.state);
    archive::write_verify_state(storage, second.state);
    CHECK(storage.list("verify/").size() == 1);
    CHECK(archive::read_verify_state(storage) == second.state);
    constexpr auto kLegacy = format::SealRule::kLegacyAccepted;
    CHECK(archive::decode_verify_state(archive::encode_verify_state(second.state), format::SealRule::kRequired)
              .value() == second.state);
    CHECK_FALSE(archive::decode_verify_state("{\"version\": 2, \"objects\": {}}", kLegacy));
    CHECK_FALSE(archive::decode_verify_state("not json", kLegacy));
  }
}

TEST_CASE("verifier: a flipped byte in a chunk names the segment and the chunk's LSN range", "[verify]") {
  storage::MemoryStorage storage;
  for (uint64_t s = 1; s <= 3; ++s) store_segment(storage, 1, s);
  const auto clean = verify(storage);
  REQUIRE(clean.problems.empty());
  const std::string name = segment_name(1, 2);
  replace(storage, name, [](storage::Bytes& b) {
    // Inside the second chunk's zstd frame.
    const auto info = format::parse_container(b);
    REQUIRE(info);
    b[info->chunks[1].offset + format::kChunkFrameHeaderSize + 5] ^= std::byte{0x10};
  });
  const auto report = verify(storage, clean.state, /*full=*/true);
  INFO(describe(report));
  REQUIRE(report.problems.size() == 1);
  const auto& p = report.problems.front();
  CHECK(p.kind == ProblemKind::kSegment);
  CHECK(p.object == name);
  CHECK(p.message.find("chunk 1 of 16") != std::string::npos);
  CHECK(p.from == wal::segment_start(SegmentNo(2), kSeg) + kChunk);
  CHECK(p.to == wal::segment_start(SegmentNo(2), kSeg) + 2 * kChunk);
  CHECK_FALSE(report.state.objects.contains(name));
}

TEST_CASE("verifier: a damaged trailer is found by an incremental run", "[verify]") {
  storage::MemoryStorage storage;
  for (uint64_t s = 1; s <= 2; ++s) store_segment(storage, 1, s);
  const auto clean = verify(storage);
  REQUIRE(clean.problems.empty());
  replace(storage, segment_name(1, 1), [](storage::Bytes& b) { b[b.size() - 40] ^= std::byte{1}; });
  const auto report = verify(storage, clean.state);
  REQUIRE(report.problems.size() == 1);
  CHECK(report.problems.front().object == segment_name(1, 1));
  CHECK(report.problems.front().kind == ProblemKind::kSegment);
}

TEST_CASE("verifier: a deleted segment is a gap with its LSN range", "[verify]") {
  storage::MemoryStorage storage;
  for (uint64_t s = 1; s <= 5; ++s) store_segment(storage, 1, s);
  storage.remove(segment_name(1, 3));
  const auto report = verify(storage);
  INFO(describe(report));
  const auto gap = std::find_if(report.problems.begin(), report.problems.end(),
                                [](const archive::Problem& p) { return p.kind == ProblemKind::kWalGap; });
  REQUIRE(gap != report.problems.end());
  CHECK(gap->timeline == TimelineId(1));
  CHECK(gap->from == wal::segment_start(SegmentNo(3), kSeg));
  CHECK(gap->to == wal::segment_start(SegmentNo(4), kSeg));
  CHECK(gap->message == "WAL missing on timeline 1 from 0/300000 to 0/400000 (segment 000000010000000000000003)");
  // The index still names the removed segment's commits.
  const auto index = std::find_if(report.problems.begin(), report.problems.end(),
                                  [](const archive::Problem& p) { return p.kind == ProblemKind::kIndex; });
  REQUIRE(index != report.problems.end());
  CHECK(index->message.find("000000010000000000000003 that the repository does not hold") != std::string::npos);
  CHECK(report.problems.size() == 2);
}

TEST_CASE("verifier: a partial segment in the middle of a timeline leaves a gap", "[verify]") {
  storage::MemoryStorage storage;
  store_segment(storage, 1, 1);
  store_segment(storage, 1, 2, 2, 2, kSeg / 2);
  store_segment(storage, 1, 3);
  const auto report = verify(storage);
  REQUIRE(report.problems.size() == 1);
  CHECK(report.problems.front().kind == ProblemKind::kWalGap);
  CHECK(report.problems.front().from == wal::segment_start(SegmentNo(2), kSeg) + kSeg / 2);
  CHECK(report.problems.front().to == wal::segment_start(SegmentNo(3), kSeg));
}

TEST_CASE("verifier: index summaries must match the containers", "[verify]") {
  storage::MemoryStorage storage;
  store_segment(storage, 1, 1);
  store_segment(storage, 1, 2, /*commits=*/5, /*indexed=*/2);
  const auto report = verify(storage);
  INFO(describe(report));
  REQUIRE(report.problems.size() == 1);
  const auto& p = report.problems.front();
  CHECK(p.kind == ProblemKind::kIndex);
  CHECK(p.message ==
        "segment 000000010000000000000002: the index holds 2 commits and 0 events wholly inside the segment, the "
        "container 5 and 0");
  CHECK(p.from == wal::segment_start(SegmentNo(2), kSeg));
}

TEST_CASE("verifier: a commit record crossing into the next segment is in the index, not the container summary",
          "[verify]") {
  storage::MemoryStorage storage;
  // The container counts the 2 commits wholly inside; the index holds those and the one that crosses the end.
  store_segment(storage, 1, 1, /*commits=*/2, /*indexed=*/3, kSeg, /*last_crosses_end=*/true);
  store_segment(storage, 1, 2);
  const auto report = verify(storage);
  INFO(describe(report));
  CHECK(report.problems.empty());

  storage::MemoryStorage wrong;  // the same crossing commit counted by the container too is a mismatch
  store_segment(wrong, 1, 1, /*commits=*/3, /*indexed=*/3, kSeg, /*last_crosses_end=*/true);
  store_segment(wrong, 1, 2);
  CHECK(verify(wrong).problems.size() == 1);
}

TEST_CASE("verifier: events count as wholly inside a segment when their commit record is", "[verify]") {
  // Events on the first commit and on the last, whose commit record crosses into the next segment: the container
  // counts only the first.
  storage::MemoryStorage storage;
  store_segment(storage, 1, 1, /*commits=*/2, /*indexed=*/3, kSeg, /*last_crosses_end=*/true, /*events=*/1, {0, 2});
  store_segment(storage, 1, 2);
  const auto report = verify(storage);
  INFO(describe(report));
  CHECK(report.problems.empty());

  storage::MemoryStorage wrong;
  store_segment(wrong, 1, 1, /*commits=*/2, /*indexed=*/3, kSeg, /*last_crosses_end=*/true, /*events=*/2, {0, 2});
  store_segment(wrong, 1, 2);
  const auto mismatch = verify(wrong);
  INFO(describe(mismatch));
  REQUIRE(mismatch.problems.size() == 1);
  CHECK(mismatch.problems.front().message ==
        "segment 000000010000000000000001: the index holds 2 commits and 1 events wholly inside the segment, the "
        "container 2 and 2");
}

TEST_CASE("verifier: a damaged index run is named", "[verify]") {
  storage::MemoryStorage storage;
  store_segment(storage, 1, 1);
  const std::string run = storage.list("index/").front().name;
  replace(storage, run, [](storage::Bytes& b) { b[70] ^= std::byte{4}; });
  const auto report = verify(storage);
  REQUIRE(report.problems.size() == 1);
  CHECK(report.problems.front().kind == ProblemKind::kIndex);
  CHECK(report.problems.front().object == run);
}

TEST_CASE("verifier: an index tip log cut short before its header is whole holds nothing, a bad header is damage",
          "[verify]") {
  storage::MemoryStorage storage;
  store_segment(storage, 1, 1);
  const std::string log = format::tip_log_object_name(TimelineId(1), SegmentNo(2), kSeg);
  const auto header = format::encode_tip_header(kSystem, TimelineId(1));
  // A full disk let only part of the header through (FORMAT.md: such a log reads as empty).
  storage.write_atomic(log, std::span(header).first(format::kTipHeaderSize - 5));
  CHECK(describe(verify(storage)).empty());
  storage.remove(log);
  auto damaged = header;
  damaged[20] ^= std::byte{1};
  storage.write_atomic(log, damaged);
  const auto report = verify(storage);
  REQUIRE(report.problems.size() == 1);
  CHECK(report.problems.front().kind == ProblemKind::kIndex);
  CHECK(report.problems.front().object == log);
  CHECK(report.problems.front().message.find("checksum") != std::string::npos);
}

TEST_CASE("verifier: history files", "[verify]") {
  storage::MemoryStorage storage;
  store_segment(storage, 1, 1);
  store_segment(storage, 1, 2, 2, 2, kSeg / 4);
  store_segment(storage, 2, 2);
  store_segment(storage, 2, 3);
  SECTION("a timeline without its history file") {
    const auto report = verify(storage);
    REQUIRE(report.problems.size() == 1);
    CHECK(report.problems.front().kind == ProblemKind::kHistory);
    CHECK(report.problems.front().message == "timeline 2 holds WAL but its history file is missing");
  }
  SECTION("a good history joins the timelines without gaps") {
    put_text(storage, "wal/00000002.history", format::seal_text("1\t0/240000\tno recovery target specified\n"));
    const auto report = verify(storage);
    INFO(describe(report));
    CHECK(report.problems.empty());
    CHECK(report.counts.history_files == 1);
  }
  SECTION("a switch point past the parent's WAL is a gap") {
    put_text(storage, "wal/00000002.history", format::seal_text("1\t0/280000\tno recovery target specified\n"));
    const auto report = verify(storage);
    INFO(describe(report));
    REQUIRE(report.problems.size() == 1);
    CHECK(report.problems.front().kind == ProblemKind::kWalGap);
    CHECK(report.problems.front().from == Lsn(0x240000));
    CHECK(report.problems.front().to == Lsn(0x280000));
  }
  SECTION("a history that does not parse") {
    put_text(storage, "wal/00000002.history", format::seal_text("3\t0/280000\tbad\n"));
    const auto report = verify(storage);
    REQUIRE(report.problems.size() == 2);  // the bad file, and so timeline 2 has no usable history
    CHECK(report.problems.front().object == "wal/00000002.history");
    CHECK(report.problems.front().message == "history file does not parse: timeline 3 is not below 2");
  }
}

TEST_CASE("verifier: the tip must hold, intact, every byte the streamer acknowledged", "[verify]") {
  storage::MemoryStorage storage;
  for (uint64_t s = 1; s <= 2; ++s) store_segment(storage, 1, s);
  // Segment 3 is in progress: 600 000 bytes written and synced, all of them acknowledged.
  const SegmentNo segno(3);
  std::vector<std::byte> wal(600000);
  for (std::size_t i = 0; i < wal.size(); ++i) wal[i] = std::byte(static_cast<uint8_t>((i * 13) % 241 / 5));
  {
    archive::Tip tip(storage, archive::SegmentIdentity{kSystem, 150000, TimelineId(1), segno, kSeg}, 1);
    tip.write(0, wal);
    tip.sync();
  }
  archive::StreamState state;
  state.timeline = TimelineId(1);
  state.segment = wal::segment_file_name(TimelineId(1), segno, kSeg);
  state.durable_lsn = wal::segment_start(segno, kSeg) + wal.size();
  put_text(storage, std::string(archive::kStreamStateObject), archive::encode_stream_state(state));
  const std::string tip_name = archive::tip_object_name(TimelineId(1), segno, kSeg);

  const auto clean = verify(storage);
  INFO(describe(clean));
  CHECK(clean.problems.empty());

  // A flipped byte in the second whole chunk's compressed bytes: the tip holds intact WAL only up to that chunk.
  replace(storage, tip_name, [](storage::Bytes& b) {
    const auto first = format::parse_frame_header(std::span(b).subspan(format::kContainerHeaderSize), 0,
                                                  format::kSegmentChunkSize);
    REQUIRE(first);
    b[format::kContainerHeaderSize + format::kChunkFrameHeaderSize + first->stored_size +
      format::kChunkFrameHeaderSize + 10] ^= std::byte{0x40};
  });
  const auto damaged = verify(storage);
  INFO(describe(damaged));
  REQUIRE(damaged.problems.size() == 1);
  const auto& p = damaged.problems.front();
  CHECK(p.kind == ProblemKind::kSegment);
  CHECK(p.object == tip_name);
  CHECK(p.from == wal::segment_start(segno, kSeg) + format::kSegmentChunkSize);
  CHECK(p.to == state.durable_lsn);
  CHECK(p.message.find("short of") != std::string::npos);
}

namespace {

// Segments 1-2 archived and segment 3 in progress, 600 000 bytes durable; returns the tip's state.
archive::StreamState store_tip(storage::Storage& storage) {
  const SegmentNo segno(3);
  std::vector<std::byte> wal(600000);
  for (std::size_t i = 0; i < wal.size(); ++i) wal[i] = std::byte(static_cast<uint8_t>((i * 13) % 241 / 5));
  {
    archive::Tip tip(storage, archive::SegmentIdentity{kSystem, 150000, TimelineId(1), segno, kSeg}, 1);
    tip.write(0, wal);
    tip.sync();
  }
  archive::StreamState state;
  state.timeline = TimelineId(1);
  state.segment = wal::segment_file_name(TimelineId(1), segno, kSeg);
  state.durable_lsn = wal::segment_start(segno, kSeg) + wal.size();
  put_text(storage, std::string(archive::kStreamStateObject), archive::encode_stream_state(state));
  return state;
}

bool has_problem(const archive::VerifyReport& report, ProblemKind kind, const std::string& object,
                 const std::string& text) {
  return std::any_of(report.problems.begin(), report.problems.end(), [&](const archive::Problem& p) {
    return p.kind == kind && p.object == object && p.message.find(text) != std::string::npos;
  });
}

}  // namespace

TEST_CASE("verifier: WAL the streamer acknowledged must be held: a lost tip, tail log or last container", "[verify]") {
  storage::MemoryStorage storage;
  for (uint64_t s = 1; s <= 2; ++s) store_segment(storage, 1, s);
  const auto state = store_tip(storage);
  const std::string partial = archive::tip_object_name(TimelineId(1), SegmentNo(3), kSeg);
  const std::string tail = archive::tail_object_name(TimelineId(1), SegmentNo(3), kSeg);
  REQUIRE(storage.info(tail));
  REQUIRE(describe(verify(storage)).empty());

  SECTION("the tip deleted") {
    storage.remove(partial);
    const auto report = verify(storage);
    INFO(describe(report));
    CHECK(has_problem(report, ProblemKind::kSegment, partial, "is lost"));
  }
  SECTION("the tip zeroed") {
    replace(storage, partial, [](storage::Bytes& b) { std::fill(b.begin(), b.end(), std::byte{0}); });
    CHECK(has_problem(verify(storage), ProblemKind::kSegment, partial, "is lost"));
  }
  SECTION("the tail log deleted: named, not the .partial file") {
    storage.remove(tail);
    const auto report = verify(storage);
    INFO(describe(report));
    REQUIRE(report.problems.size() == 1);
    CHECK(has_problem(report, ProblemKind::kSegment, tail, "short of"));
    CHECK(report.problems.front().to == state.durable_lsn);
  }
  SECTION("the .partial file cut to its header: named, though the tail log is intact") {
    replace(storage, partial, [](storage::Bytes& b) { b.resize(format::kContainerHeaderSize); });
    CHECK(has_problem(verify(storage), ProblemKind::kSegment, partial, "short of"));
  }
  SECTION("the last archived segment and the tip deleted: a gap up to the durable LSN") {
    storage.remove(segment_name(1, 2));
    storage.remove(partial);
    storage.remove(tail);
    const auto report = verify(storage);
    INFO(describe(report));
    CHECK(has_problem(report, ProblemKind::kWalGap, segment_name(1, 2), "acknowledged it as durable"));
    CHECK(has_problem(report, ProblemKind::kSegment, partial, "is lost"));
  }
  SECTION("the state deleted or damaged while a tip exists") {
    storage.remove(std::string(archive::kStreamStateObject));
    CHECK(has_problem(verify(storage), ProblemKind::kMetadata, "tip/stream.state",
                      "is missing while the streamer's in-progress segment"));
    put_text(storage, std::string(archive::kStreamStateObject), std::string(1024, '\0'));
    CHECK(has_problem(verify(storage), ProblemKind::kMetadata, "tip/stream.state", "is damaged"));
  }
}

TEST_CASE("verifier: an archived segment no index run or tip log covers", "[verify]") {
  storage::MemoryStorage storage;
  for (uint64_t s = 1; s <= 4; ++s) store_segment(storage, 1, s);
  const std::string run = format::run_object_name(TimelineId(1), wal::segment_start(SegmentNo(2), kSeg),
                                                  wal::segment_start(SegmentNo(3), kSeg));
  REQUIRE(storage.info(run));
  storage.remove(run);
  const auto report = verify(storage);
  INFO(describe(report));
  REQUIRE(report.problems.size() == 1);
  CHECK(
      has_problem(report, ProblemKind::kIndex, run, "no index run or tip log covers segment 000000010000000000000002"));
  // The newest archived segment may wait for its run (its last record may continue into the next segment).
  storage::MemoryStorage newest;
  for (uint64_t s = 1; s <= 2; ++s) store_segment(newest, 1, s);
  newest.remove(format::run_object_name(TimelineId(1), wal::segment_start(SegmentNo(2), kSeg),
                                        wal::segment_start(SegmentNo(3), kSeg)));
  CHECK(describe(verify(newest)).empty());
}

TEST_CASE("verifier: a backup directory without its backup.json", "[verify]") {
  storage::MemoryStorage storage;
  store_segment(storage, 1, 1);
  put_text(storage, "backup/20261207T000000Z/base.wvt", "stream");
  auto report = verify(storage);
  REQUIRE(report.problems.size() == 1);
  CHECK(has_problem(report, ProblemKind::kBackup, "backup/20261207T000000Z/backup.json", "interrupted backup"));
  put_text(storage, "backup/20261207T000000Z/backup_manifest", "{}");
  report = verify(storage);
  REQUIRE(report.problems.size() == 1);
  CHECK(has_problem(report, ProblemKind::kBackup, "backup/20261207T000000Z/backup.json", "restores cannot use it"));
}

TEST_CASE("verify state: an unchanged object is read again at least every recheck days, a share of them each day",
          "[verify]") {
  archive::VerifyState state;
  constexpr int64_t kDay = 24 * 3600;
  const int64_t now = 20000 * kDay + 3600;
  for (int i = 0; i < 700; ++i) {
    state.objects["wal/object-" + std::to_string(i)] = archive::VerifiedObject{10, 7, now - 2 * kDay};
  }
  const archive::Recheck recheck{now, 7};
  std::size_t due_today = 0;
  for (const auto& [name, object] : state.objects) {
    due_today += state.verified(name, object, recheck) ? 0U : 1U;
    // Another size or key is never verified; older than the period always due.
    CHECK_FALSE(state.verified(name, archive::VerifiedObject{11, 7, 0}, recheck));
    CHECK_FALSE(state.verified(name, archive::VerifiedObject{10, 8, 0}, recheck));
    CHECK_FALSE(state.verified(name, object, archive::Recheck{now + 6 * kDay, 7}));
  }
  CHECK(due_today > 50);  // about a seventh of 700
  CHECK(due_today < 150);
  // Read within the last day: not due, whatever the share.
  for (auto& [name, object] : state.objects) object.checked = now - 3600;
  for (const auto& [name, object] : state.objects) CHECK(state.verified(name, object, recheck));
  // Over the period, every object falls in some day's share.
  for (const auto& [name, object] : state.objects) {
    bool picked = false;
    for (int d = 1; d <= 7; ++d) {
      picked = picked || !state.verified(name, archive::VerifiedObject{10, 7, 0}, archive::Recheck{now + d * kDay, 7});
    }
    CHECK(picked);
  }
}
