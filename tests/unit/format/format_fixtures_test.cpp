// Format fixtures (tests/fixtures/format/v<N>/) must stay readable by every later walvault.
// Each version's files are generated once by its hidden test below and committed:
//   build/tests/walvault_unit_tests "[generate-format-fixtures-v<N>]"
// Never regenerate the files of a released version: add a v<N+1>/ directory and generator instead.
#include <catch2/catch.hpp>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>

#include "format/checksum.hpp"
#include "format/index.hpp"
#include "format/segment_container.hpp"
#include "storage/index_store.hpp"
#include "storage/memory_storage.hpp"

namespace {

using namespace walvault::format;
using walvault::wal::Lsn;
using walvault::wal::SegmentNo;
using walvault::wal::TimelineId;

std::string fixture(int version, const std::string& name) {
  return std::string(WALVAULT_FIXTURE_DIR) + "/format/v" + std::to_string(version) + "/" + name;
}

std::vector<std::byte> load(int version, const std::string& name) {
  std::ifstream in(fixture(version, name), std::ios::binary);
  REQUIRE(in.good());
  const std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> out(chars.size());
  std::memcpy(out.data(), chars.data(), chars.size());
  return out;
}

void save(int version, const std::string& name, std::span<const std::byte> bytes) {
  std::ofstream out(fixture(version, name), std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

// Deterministic content.
std::vector<std::byte> raw_bytes(std::size_t n) {
  std::vector<std::byte> out(n);
  uint32_t x = 2463534242U;
  for (std::size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    out[i] = (i % 16 < 12) ? static_cast<std::byte>(i >> 8) : static_cast<std::byte>(x & 0x3F);
  }
  return out;
}

ContainerHeader segment_header() {
  ContainerHeader h;
  h.kind = ContainerKind::kSegment;
  h.chunk_size = kMinChunkSize;
  h.system_identifier = 7301234567890123456ULL;
  h.pg_version = 150018;
  h.timeline = TimelineId(1);
  h.segment_no = SegmentNo(3);
  h.segment_size = 1U << 20;
  h.start_lsn = Lsn(3ULL << 20);
  return h;
}
const ContainerSummary kSegmentSummary{TimestampTz{817000000000000}, TimestampTz{817000000123456}, 12, 2};
constexpr std::size_t kSegmentRaw = 3 * kMinChunkSize + 1000;  // a partial segment

ContainerHeader stream_header() {
  ContainerHeader h;
  h.kind = ContainerKind::kStream;
  h.chunk_size = kMinChunkSize;
  h.system_identifier = 7301234567890123456ULL;
  h.pg_version = 150018;
  h.timeline = TimelineId(1);
  h.start_lsn = Lsn(0x3000028);
  return h;
}
constexpr std::size_t kStreamRaw = 2 * kMinChunkSize + 17;

RunContent run_content() {
  RunContent run;
  run.system_identifier = 7301234567890123456ULL;
  run.timeline = TimelineId(1);
  run.first_lsn = Lsn(3ULL << 20);
  run.end_lsn = Lsn(4ULL << 20);
  const TimestampTz times[] = {100, 300, 200, 300, 250, 400};
  for (uint32_t i = 0; i < 6; ++i) {
    run.commits.push_back(CommitEntry{Lsn((3ULL << 20) + 1000 * (i + 1)), Lsn((3ULL << 20) + 1000 * (i + 1) + 40),
                                      times[i], 700 + i, i == 2});
  }
  run.events = {EventEntry{EventKind::kDropTable, 702, Lsn((3ULL << 20) + 3000), 200, Lsn((3ULL << 20) + 2500), 5,
                           0, {16384, 16387}, {"public.orders"}},
                EventEntry{EventKind::kMassDelete, 705, Lsn((3ULL << 20) + 6000), 400, Lsn((3ULL << 20) + 5500), 5,
                           12000, {16390}, {}}};
  run.segments = {SegmentSummary{SegmentNo(3), Lsn(3ULL << 20), Lsn(4ULL << 20), 100, 400, 6, 2}};
  return run;
}

// run_content() plus the kinds of run version 3: a drop_column (attrelid known and unknown) and an alter_type with
// its new type.
RunContent run_content_v3() {
  RunContent run = run_content();
  EventEntry dropped{
      EventKind::kDropColumn,     703, Lsn((3ULL << 20) + 4000), 300, Lsn((3ULL << 20) + 3500), 5, 0, {16435},
      {"app.public.scores_score"}};
  dropped.columns = {walvault::wal::EventColumn{16435, 4, false, 0, -1},
                     walvault::wal::EventColumn{0, 2, false, 0, -1}};
  EventEntry altered{EventKind::kAlterType, 704, Lsn((3ULL << 20) + 5000), 250, Lsn((3ULL << 20) + 4500), 5, 0,
                     {16393, 16397},        {}};
  altered.columns = {walvault::wal::EventColumn{0, 1, true, 20, -1}};
  run.events.insert(run.events.begin() + 1, {dropped, altered});
  run.segments.front().event_count = 4;
  return run;
}

std::vector<std::byte> tip_log() {
  auto out = encode_tip_header(7301234567890123456ULL, TimelineId(1));
  const auto run = run_content();
  for (const auto& c : run.commits) {
    const auto r = encode_tip_record(c);
    out.insert(out.end(), r.begin(), r.end());
  }
  const auto e = encode_tip_record(run.events.front());
  out.insert(out.end(), e.begin(), e.end());
  out.insert(out.end(), e.begin(), e.begin() + 10);  // a torn tail
  return out;
}

}  // namespace

TEST_CASE("format v1 fixtures stay readable", "[format][fixtures]") {
  ContainerReader reader;
  {
    const auto object = load(1, "segment.wvs");
    auto info = parse_container(object);
    REQUIRE(info);
    CHECK(info->header == segment_header());
    CHECK(info->summary == kSegmentSummary);
    CHECK(info->partial());
    CHECK(info->end_lsn == Lsn((3ULL << 20) + kSegmentRaw));
    CHECK(*reader.read(object) == raw_bytes(kSegmentRaw));
  }
  {
    const auto object = load(1, "stream.wvt");
    auto info = parse_container(object);
    REQUIRE(info);
    CHECK(info->header.kind == ContainerKind::kStream);
    CHECK(info->end_lsn == Lsn(0x3000100));
    CHECK(*reader.read(object) == raw_bytes(kStreamRaw));
  }
  {
    const auto object = load(1, "run.wvi");  // version 2 replaced this layout: it is read, no longer written
    CHECK(*decode_run(object) == run_content());
    auto run = RunReader::open(object);
    REQUIRE(run);
    CHECK(run->find_xid(702)->front() == run_content().commits[2]);
    CHECK(*run->first_after(250) == std::optional<uint64_t>(1));
  }
  {
    auto log = parse_tip_log(load(1, "tip.wvl"));
    REQUIRE(log);
    CHECK(log->commits == run_content().commits);
    CHECK(log->events.size() == 1);
    CHECK(log->torn_bytes == 10);
  }
}

TEST_CASE("format v2 fixtures stay readable", "[format][fixtures]") {
  const auto object = load(2, "run.wvi");
  CHECK(*decode_run(object) == run_content());
  // The encoding is stable (no compression involved): version 3 changed only the header's version (and so its
  // checksum) for content of kinds 1-5.
  const auto now = *encode_run(run_content());
  CHECK(get_le<uint16_t>(object.data() + 8) == 2);
  REQUIRE(now.size() == object.size());
  CHECK(std::equal(now.begin() + kRunHeaderSize, now.end(), object.begin() + kRunHeaderSize));
  auto reader = RunReader::open(object);
  REQUIRE(reader);
  CHECK(reader->find_xid(702)->front() == run_content().commits[2]);
  CHECK(*reader->first_after(250) == std::optional<uint64_t>(1));
}

TEST_CASE("format v3 event fixtures stay readable: run version 3, tip log version 2", "[format][fixtures]") {
  const auto object = load(3, "run-v3.wvi");
  CHECK(get_le<uint16_t>(object.data() + 8) == 3);
  CHECK(*decode_run(object) == run_content_v3());
  CHECK(*encode_run(run_content_v3()) == object);
  auto log = parse_tip_log(load(3, "tip-v2.wvl"));
  REQUIRE(log);
  CHECK(log->version == 2);
  CHECK(log->events == run_content_v3().events);
  CHECK(newest_event_kind_of_run(2) == EventKind::kMassUpdate);
  CHECK(newest_event_kind_of_run(3) == EventKind::kAlterType);
  CHECK(newest_event_kind_of_tip_log(1) == EventKind::kMassUpdate);
  CHECK(newest_event_kind_of_tip_log(2) == EventKind::kAlterType);
}

TEST_CASE("a version 2 run holding a kind or flag of version 3 is damaged, and an old reader refuses a new tip log",
          "[format][fixtures]") {
  // The v2 fixture's events section, with its first event turned into a drop_column (kind 6), then into one with
  // the has_columns flag: a version 2 reader never accepts either.
  for (const auto& [offset, value] : {std::pair<int, uint8_t>{0, 6}, std::pair<int, uint8_t>{1, 2}}) {
    auto object = load(2, "run.wvi");
    const auto footer = object.size() - kRunFooterSize;
    const auto events_offset = get_le<uint64_t>(object.data() + footer + 64);
    const auto events_size = get_le<uint64_t>(object.data() + footer + 72);
    object[events_offset + static_cast<uint64_t>(offset)] = std::byte{value};
    const auto sum = checksum(std::span(object).subspan(events_offset, events_size));
    put_le<uint64_t>(object.data() + footer + 96, sum);
    put_le<uint64_t>(object.data() + footer + 112, checksum(std::span(object).subspan(footer, 112)));
    auto reader = RunReader::open(object);
    REQUIRE(reader);
    CHECK_FALSE(reader->events());
  }
  // A tip log header of the next version is refused, not cut short.
  auto newer = load(3, "tip-v2.wvl");
  put_le<uint16_t>(newer.data() + 8, kTipLogVersion + 1);
  put_le<uint64_t>(newer.data() + 24, checksum(std::span(newer).first(24)));
  CHECK(parse_tip_log(newer).error().kind == IndexErrorKind::kUnsupportedVersion);
}

TEST_CASE("a repository whose index holds version 1 runs keeps working after the upgrade", "[format][fixtures]") {
  // The v1 fixture run covers segment 3 (1 MiB segments); this walvault seals segment 4 in version 2. Lookups
  // span both, and expire's full compaction merges them into one version 2 run with the same answers.
  constexpr uint32_t kSegmentSize = 1U << 20;
  walvault::storage::MemoryStorage s;
  const RunContent old_run = run_content();
  s.write_atomic(run_object_name(TimelineId(1), old_run.first_lsn, old_run.end_lsn), load(1, "run.wvi"));
  walvault::storage::IndexWriter w(s, old_run.system_identifier, TimelineId(1), kSegmentSize);
  const CommitEntry newer[] = {{Lsn((4ULL << 20) + 100), Lsn((4ULL << 20) + 140), 500, 710, false},
                               {Lsn((4ULL << 20) + 200), Lsn((4ULL << 20) + 240), 450, 702, false}};
  for (const CommitEntry& c : newer) w.append(c);
  w.seal_segment(SegmentNo(4), Lsn(4ULL << 20), Lsn(5ULL << 20));

  const auto check = [&] {
    auto view = walvault::storage::open_index(s, TimelineId(1), kSegmentSize);
    CHECK(view.commit_count() == 8);
    const auto at = *view.lookup_time(420);
    CHECK(at.last_at_or_before == old_run.commits[5]);
    CHECK(at.first_after == newer[0]);
    // One xid twice, as after wraparound.
    CHECK(*view.lookup_xid(702) == std::vector<CommitEntry>{old_run.commits[2], newer[1]});
    CHECK(view.events_by_time(0, 1000)->size() == 2);
    CHECK(view.segments().size() == 2);
  };
  check();
  const auto plans = walvault::storage::plan_full_compaction(s.list("index/"));
  REQUIRE(plans.size() == 1);
  REQUIRE(plans[0].merges.size() == 1);
  walvault::storage::apply_compaction(s, plans[0]);
  const auto runs = s.list("index/");
  REQUIRE(runs.size() == 1);
  CHECK(runs[0].name == run_object_name(TimelineId(1), Lsn(3ULL << 20), Lsn(5ULL << 20)));
  CHECK(get_le<uint16_t>(s.read(runs[0].name).data() + 8) == kRunVersion);
  check();
}

TEST_CASE("generate format v1 fixtures", "[.generate-format-fixtures-v1]") {
  save(1, "segment.wvs", *encode_container(segment_header(), raw_bytes(kSegmentRaw), kSegmentSummary));
  std::vector<std::byte> stream;
  auto w = ContainerWriter::create(stream_header(), [&](auto b) { stream.insert(stream.end(), b.begin(), b.end()); });
  REQUIRE(w);
  REQUIRE(w->append(raw_bytes(kStreamRaw)));
  REQUIRE(w->finish({}, Lsn(0x3000100)));
  save(1, "stream.wvt", stream);
  save(1, "tip.wvl", tip_log());
  // run.wvi of version 1 can no longer be generated: encode_run writes version 2.
}

TEST_CASE("generate format v2 fixtures", "[.generate-format-fixtures-v2]") {
  save(2, "run.wvi", *encode_run(run_content()));  // now writes version 3: never run again
}

TEST_CASE("generate format v3 event fixtures", "[.generate-format-fixtures-v3-events]") {
  save(3, "run-v3.wvi", *encode_run(run_content_v3()));
  auto log = encode_tip_header(7301234567890123456ULL, TimelineId(1));
  for (const auto& e : run_content_v3().events) {
    const auto r = encode_tip_record(e);
    log.insert(log.end(), r.begin(), r.end());
  }
  save(3, "tip-v2.wvl", log);
}
