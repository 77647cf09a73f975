#include <catch2/catch.hpp>

#include "storage/index_store.hpp"
#include "storage/memory_storage.hpp"

namespace {

using namespace walvault;
using format::CommitEntry;
using format::EventEntry;
using format::EventKind;
using storage::IndexWriter;
using storage::MemoryStorage;
using wal::Lsn;
using wal::SegmentNo;
using wal::TimelineId;

constexpr uint32_t kSeg = 16U << 20;
constexpr TimelineId kTli(1);

CommitEntry commit(uint64_t segno, uint64_t offset, format::TimestampTz t, uint32_t xid) {
  const uint64_t lsn = segno * kSeg + offset;
  return CommitEntry{Lsn(lsn), Lsn(lsn + 40), t, xid, false};
}

}  // namespace

TEST_CASE("index writer: tip logs, sealing and lookups", "[storage][index]") {
  for (const bool append : {true, false}) {
    INFO("append files: " << append);
    MemoryStorage s(append);
    IndexWriter w(s, 42, kTli, kSeg);
    w.append(commit(1, 100, 10, 500));
    w.append(commit(1, 200, 30, 501));
    w.append(EventEntry{EventKind::kTruncate, 501, Lsn(kSeg + 200), 30, Lsn(kSeg + 150), 5, 0, {16400}, {"t"}});
    w.append(commit(2, 100, 20, 502));
    w.sync();
    {
      auto view = storage::open_index(s, kTli, kSeg);
      if (append) {
        CHECK(view.commit_count() == 3);  // durable in the tip logs before sealing
        CHECK(view.lookup_time(15)->first_after == commit(1, 200, 30, 501));
      } else {
        CHECK(view.commit_count() == 0);
      }
    }
    const auto summary = w.seal_segment(SegmentNo(1), Lsn(kSeg), Lsn(2 * kSeg));
    CHECK(summary.commit_count == 2);
    CHECK(summary.event_count == 1);
    CHECK(summary.first_commit_time == std::optional<format::TimestampTz>(10));
    CHECK(s.info(format::run_object_name(kTli, Lsn(kSeg), Lsn(2 * kSeg))).has_value());
    CHECK_FALSE(s.info(format::tip_log_object_name(kTli, SegmentNo(1), kSeg)).has_value());
    // Sealing again (a restart) returns the stored summary, with or without replayed entries.
    CHECK(w.seal_segment(SegmentNo(1), Lsn(kSeg), Lsn(2 * kSeg)) == summary);
    w.append(commit(1, 100, 10, 500));
    CHECK(w.seal_segment(SegmentNo(1), Lsn(kSeg), Lsn(2 * kSeg)) == summary);
    w.seal_segment(SegmentNo(2), Lsn(2 * kSeg), Lsn(3 * kSeg));

    auto view = storage::open_index(s, kTli, kSeg);
    CHECK(view.commit_count() == 3);
    const auto at20 = *view.lookup_time(20);
    CHECK(at20.last_at_or_before == commit(1, 100, 10, 500));
    CHECK(at20.first_after == commit(1, 200, 30, 501));
    CHECK(view.lookup_xid(502)->front() == commit(2, 100, 20, 502));
    CHECK(view.events_by_time(0, 100)->size() == 1);
    CHECK(view.segments().size() == 2);
  }
}

TEST_CASE("index writer: restart skips logged entries and truncates a torn tail", "[storage][index]") {
  MemoryStorage s;
  {
    IndexWriter w(s, 42, kTli, kSeg);
    w.append(commit(1, 100, 10, 500));
    w.append(commit(1, 200, 11, 501));
    w.sync();
    w.append(commit(1, 300, 12, 502));  // not synced
    s.crash();
  }
  {
    IndexWriter w(s, 42, kTli, kSeg);
    // The streamer restarts from an earlier LSN and replays entries.
    w.append(commit(1, 100, 10, 500));
    w.append(commit(1, 200, 11, 501));
    w.append(commit(1, 300, 12, 502));
    w.sync();
    // A torn write: records reach the file at sync(), in one write, and half of it lands.
    w.append(commit(1, 400, 13, 503));
    s.fail_operation(1);
    CHECK_THROWS_AS(w.sync(), Error);
    s.crash();
  }
  {
    IndexWriter w(s, 42, kTli, kSeg);
    w.append(commit(1, 400, 13, 503));
    w.sync();
  }
  auto view = storage::open_index(s, kTli, kSeg);
  CHECK(view.commit_count() == 4);
  CHECK(view.lookup_xid(503)->size() == 1);
}

TEST_CASE("index writer: an event decoded again after a restart is logged once, even when its names differ",
          "[storage][index]") {
  MemoryStorage s;
  EventEntry drop{.kind = EventKind::kDropTable, .xid = 736, .commit_lsn = Lsn(kSeg + 500), .commit_time = 20,
                  .first_lsn = Lsn(kSeg + 450), .database_oid = 5, .rows = 0, .relations = {16384},
                  .names = {"public.keep"}, .two_phase = false};
  {
    IndexWriter w(s, 42, kTli, kSeg);
    w.append(drop);
    w.sync();
  }
  // The restarted streamer no longer finds the dropped table's name in the catalog.
  EventEntry again = drop;
  again.names.clear();
  EventEntry truncate = drop;  // another kind at the same commit is another event
  truncate.kind = EventKind::kTruncate;
  {
    IndexWriter w(s, 42, kTli, kSeg);
    w.append(again);
    w.append(truncate);
    w.sync();
  }
  auto view = storage::open_index(s, kTli, kSeg);
  const auto events = view.events_by_lsn(Lsn(0), Lsn(4 * kSeg));
  REQUIRE(events);
  REQUIRE(events->size() == 2);
  CHECK((*events)[0].names == std::vector<std::string>{"public.keep"});
  CHECK((*events)[1].kind == EventKind::kTruncate);
}

TEST_CASE("index writer: compaction merges runs and lookups still agree", "[storage][index]") {
  MemoryStorage s;
  IndexWriter w(s, 42, kTli, kSeg);
  uint32_t xid = 100;
  for (uint64_t seg = 1; seg <= 20; ++seg) {
    for (uint64_t i = 0; i < 10; ++i) {
      w.append(commit(seg, 100 + i * 100, static_cast<format::TimestampTz>(seg * 100 + i), xid++));
    }
    w.seal_segment(SegmentNo(seg), Lsn(seg * kSeg), Lsn((seg + 1) * kSeg));
  }
  const auto before = *storage::open_index(s, kTli, kSeg).lookup_time(1505);
  CHECK(w.compact(4) == 18);  // 20 runs → 5 runs of 4 segments → 1 run of 16 + 1 of 4
  CHECK(s.list("index/").size() == 2);
  auto view = storage::open_index(s, kTli, kSeg);
  CHECK(view.commit_count() == 200);
  const auto after = *view.lookup_time(1505);
  CHECK(after.first_after == before.first_after);
  CHECK(after.last_at_or_before == before.last_at_or_before);
  CHECK(view.segments().size() == 20);
}

TEST_CASE("index reader ignores runs covered by a merged run", "[storage][index]") {
  MemoryStorage s;
  IndexWriter w(s, 42, kTli, kSeg);
  w.append(commit(1, 100, 10, 1));
  w.seal_segment(SegmentNo(1), Lsn(kSeg), Lsn(2 * kSeg));
  w.append(commit(2, 100, 20, 2));
  w.seal_segment(SegmentNo(2), Lsn(2 * kSeg), Lsn(3 * kSeg));
  // A compaction that wrote the merged run and crashed before removing the parts.
  auto a = *format::decode_run(s.read(format::run_object_name(kTli, Lsn(kSeg), Lsn(2 * kSeg))));
  auto b = *format::decode_run(s.read(format::run_object_name(kTli, Lsn(2 * kSeg), Lsn(3 * kSeg))));
  s.write_atomic(format::run_object_name(kTli, Lsn(kSeg), Lsn(3 * kSeg)), *format::encode_run(*format::merge_runs({a, b})));
  CHECK(storage::open_index(s, kTli, kSeg).commit_count() == 2);
  // A corrupt run is reported with its name.
  s.remove(format::run_object_name(kTli, Lsn(kSeg), Lsn(3 * kSeg)));
  auto bytes = s.read(format::run_object_name(kTli, Lsn(kSeg), Lsn(2 * kSeg)));
  bytes[bytes.size() - 20] ^= std::byte{1};
  s.remove(format::run_object_name(kTli, Lsn(kSeg), Lsn(2 * kSeg)));
  s.write_atomic(format::run_object_name(kTli, Lsn(kSeg), Lsn(2 * kSeg)), bytes);
  try {
    (void)storage::open_index(s, kTli, kSeg);
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::kCorrupt);
    CHECK_THAT(e.what(), Catch::Contains("run-0000000001000000-0000000002000000.wvi"));
  }
}

TEST_CASE("an index run of a newer format version is refused as such, not as damage", "[storage][index]") {
  MemoryStorage s;
  IndexWriter w(s, 42, kTli, kSeg);
  w.append(commit(1, 100, 10, 1));
  w.seal_segment(SegmentNo(1), Lsn(kSeg), Lsn(2 * kSeg));
  const std::string name = format::run_object_name(kTli, Lsn(kSeg), Lsn(2 * kSeg));
  auto bytes = s.read(name);
  bytes[8] = std::byte{format::kRunVersion + 1};  // the u16 format version, little-endian
  s.remove(name);
  s.write_atomic(name, bytes);
  try {
    (void)storage::open_index(s, kTli, kSeg);
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::kRepository);
    CHECK_THAT(e.what(),
               Catch::Contains(name) &&
                   Catch::Contains("format version " + std::to_string(format::kRunVersion + 1) + " is not supported"));
    CHECK_THAT(e.hint(), Catch::Contains("newer walvault"));
  }
}

TEST_CASE("index writer: bounded compaction skips big merges and survives a crash mid-way", "[storage][index]") {
  MemoryStorage s;
  IndexWriter w(s, 42, kTli, kSeg);
  uint32_t xid = 100;
  for (uint64_t seg = 1; seg <= 16; ++seg) {
    for (uint64_t i = 0; i < 10; ++i) {
      w.append(commit(seg, 100 + i * 100, static_cast<format::TimestampTz>(seg * 100 + i), xid++));
    }
    w.seal_segment(SegmentNo(seg), Lsn(seg * kSeg), Lsn((seg + 1) * kSeg));
  }
  uint64_t total = 0;
  for (const auto& o : s.list("index/")) total += o.size;
  CHECK(w.compact(16, total - 1) == 0);  // over the cap: nothing merged
  CHECK(s.list("index/").size() == 16);

  const auto before = *storage::open_index(s, kTli, kSeg).lookup_time(905);
  // Fail every storage operation of the compaction in turn (the merged run is written, then the parts removed):
  // each failure point, a crash mid-compaction, must leave an index with the same answers.
  std::size_t merged = 0;
  for (uint64_t n = 1; n < 80; ++n) {
    MemoryStorage copy;
    for (const auto& o : s.list("index/")) copy.write_atomic(o.name, s.read(o.name));
    IndexWriter cw(copy, 42, kTli, kSeg);
    copy.fail_operation(n);
    try {
      merged = cw.compact(16, total);
    } catch (const Error&) {
      // Whatever the failure left behind is a readable index with the same answers.
      auto view = storage::open_index(copy, kTli, kSeg);
      CHECK(view.commit_count() == 160);
      const auto after = *view.lookup_time(905);
      CHECK(after.first_after == before.first_after);
      CHECK(after.last_at_or_before == before.last_at_or_before);
      CHECK(view.lookup_xid(150)->size() == 1);
      continue;
    }
    break;
  }
  CHECK(merged == 15);
}

namespace {

storage::ObjectInfo run_info(uint32_t tli, uint64_t first_seg, uint64_t end_seg, uint64_t size) {
  return {format::run_object_name(TimelineId(tli), Lsn(first_seg * kSeg), Lsn(end_seg * kSeg)), size};
}

// Seals one run per segment in [first, end), ten commits each, and a truncate event in every fifth segment.
void seal_runs(IndexWriter& w, uint64_t first, uint64_t end) {
  for (uint64_t seg = first; seg < end; ++seg) {
    for (uint64_t i = 0; i < 10; ++i) {
      w.append(commit(seg, 100 + i * 100, static_cast<format::TimestampTz>(seg * 100 + i),
                      static_cast<uint32_t>(seg * 10 + i)));
    }
    if (seg % 5 == 0) {
      const Lsn at(seg * kSeg + 1000);
      w.append(EventEntry{EventKind::kTruncate, static_cast<uint32_t>(seg * 10 + 9), at,
                          static_cast<format::TimestampTz>(seg * 100 + 9), at, 5, 0, {16400}, {"t"}});
    }
    w.seal_segment(SegmentNo(seg), Lsn(seg * kSeg), Lsn((seg + 1) * kSeg));
  }
}

// What an interrupted compaction leaves: the merged run of [first, end) written, its parts not yet removed.
void leave_merged_run(MemoryStorage& s, uint64_t first, uint64_t end) {
  std::vector<format::RunContent> parts;
  for (uint64_t seg = first; seg < end; ++seg) {
    parts.push_back(*format::decode_run(s.read(format::run_object_name(kTli, Lsn(seg * kSeg), Lsn((seg + 1) * kSeg)))));
  }
  s.write_atomic(format::run_object_name(kTli, Lsn(first * kSeg), Lsn(end * kSeg)),
                 *format::encode_run(*format::merge_runs(std::move(parts))));
}

// Every answer the index gives for a few questions, as text.
std::string answers(const MemoryStorage& s) {
  auto view = storage::open_index(s, kTli, kSeg);
  std::string out = std::to_string(view.commit_count()) + " commits, " + std::to_string(view.segments().size()) +
                    " segments;";
  for (const format::TimestampTz t : {0, 505, 1505, 2999, 99999}) {
    const auto found = *view.lookup_time(t);
    out += " " + std::to_string(t) + ":" + (found.last_at_or_before ? found.last_at_or_before->lsn.to_string() : "-") +
           "/" + (found.first_after ? found.first_after->lsn.to_string() : "-");
  }
  for (const uint32_t xid : {15U, 159U, 293U}) {
    out += " xid" + std::to_string(xid) + "x" + std::to_string(view.lookup_xid(xid)->size());
  }
  const auto events = view.events_by_time(0, 99999);
  for (const auto& e : *events) out += " event@" + e.commit_lsn.to_string();
  return out;
}

}  // namespace

TEST_CASE("full compaction plan: contiguous groups under the cap, big runs final, covered runs removed",
          "[storage][index]") {
  const std::vector<storage::ObjectInfo> objects{
      run_info(1, 1, 2, 100), run_info(1, 1, 3, 200), run_info(1, 2, 3, 100),  // [1,3) covers an unfinished merge
      run_info(1, 3, 4, 100), run_info(1, 4, 5, 100), run_info(1, 5, 6, 100), run_info(1, 6, 7, 100),
      // a gap: segment 7 has no run (yet); nothing is merged across it
      run_info(1, 8, 9, 100), run_info(1, 9, 10, 100),
      run_info(1, 10, 20, 600),  // more than half the cap: final
      run_info(1, 20, 21, 100),  // alone after a final run: nothing to merge with
      {format::tip_log_object_name(kTli, SegmentNo(21), kSeg), 50},  // not a run
      run_info(2, 30, 31, 400), run_info(2, 31, 32, 400), run_info(2, 32, 33, 400),  // the cap splits them
  };
  const auto plans = storage::plan_full_compaction(objects, 1000);
  REQUIRE(plans.size() == 2);
  CHECK(plans[0].timeline == TimelineId(1));
  CHECK(plans[0].runs_before == 9);
  CHECK(plans[0].merges == std::vector<std::vector<std::string>>{
                               {objects[1].name, objects[3].name, objects[4].name, objects[5].name, objects[6].name},
                               {objects[7].name, objects[8].name}});
  CHECK(plans[0].covered == std::vector<std::string>{objects[0].name, objects[2].name});
  CHECK(plans[0].runs_after() == 4);
  CHECK(plans[1].timeline == TimelineId(2));
  CHECK(plans[1].merges == std::vector<std::vector<std::string>>{{objects[12].name, objects[13].name}});
  CHECK(plans[1].covered.empty());
  CHECK(plans[1].runs_after() == 2);
}

TEST_CASE("full compaction: one run with the same answers, covered leftovers gone, a crash at any step harmless",
          "[storage][index]") {
  MemoryStorage s;
  IndexWriter w(s, 42, kTli, kSeg);
  seal_runs(w, 1, 31);
  leave_merged_run(s, 1, 3);
  const std::string before = answers(s);
  CHECK(s.list("index/").size() == 31);

  const auto plans = storage::plan_full_compaction(s.list("index/"));
  REQUIRE(plans.size() == 1);
  CHECK(plans[0].runs_before == 29);
  CHECK(plans[0].covered.size() == 2);
  CHECK(plans[0].runs_after() == 1);

  // Fail every storage operation of the compaction in turn: whatever a crash there leaves answers the same.
  bool completed = false;
  for (uint64_t n = 1; n < 200 && !completed; ++n) {
    MemoryStorage copy;
    for (const auto& o : s.list("index/")) copy.write_atomic(o.name, s.read(o.name));
    copy.fail_operation(n);
    try {
      storage::apply_compaction(copy, plans[0]);
      completed = true;
    } catch (const Error&) {
    }
    copy.fail_operation(0);  // disarmed: a compaction that finished early leaves it pending
    CHECK(answers(copy) == before);
  }
  CHECK(completed);

  const auto lock = s.lock(storage::kIndexLockName, storage::LockWait::kTry);
  storage::apply_compaction(s, plans[0]);
  CHECK(s.list("index/") ==
        std::vector<storage::ObjectInfo>{{format::run_object_name(kTli, Lsn(kSeg), Lsn(31 * kSeg)),
                                          s.info(format::run_object_name(kTli, Lsn(kSeg), Lsn(31 * kSeg))).value()}});
  CHECK(answers(s) == before);
  CHECK(storage::plan_full_compaction(s.list("index/"))[0].runs_after() == 1);  // nothing left to do
  CHECK(storage::plan_full_compaction(s.list("index/"))[0].merges.empty());
}

TEST_CASE("streamer compaction removes covered leftovers, merges only contiguous runs, and yields to expire",
          "[storage][index]") {
  MemoryStorage s;
  IndexWriter w(s, 42, kTli, kSeg);
  seal_runs(w, 1, 5);
  leave_merged_run(s, 1, 3);
  const std::string before = answers(s);
  {
    const auto held = s.lock(storage::kIndexLockName, storage::LockWait::kTry);
    CHECK(w.compact(16) == 0);  // another process compacts: skipped, nothing touched
    CHECK(s.list("index/").size() == 5);
  }
  CHECK(w.compact(16) == 0);            // no 16 runs to merge...
  CHECK(s.list("index/").size() == 3);  // ...but the covered [1,2) and [2,3) are gone
  CHECK(answers(s) == before);
  CHECK(w.compact(2) == 2);  // [3,4)+[4,5), then [1,3)+[3,5)
  CHECK(s.list("index/").size() == 1);
  CHECK(answers(s) == before);

  MemoryStorage gap;
  IndexWriter g(gap, 42, kTli, kSeg);
  seal_runs(g, 4, 5);
  seal_runs(g, 6, 7);  // segment 5 has no run (yet): a merge across it would hide that run once sealed
  CHECK(g.compact(2) == 0);
  CHECK(gap.list("index/").size() == 2);
}

TEST_CASE("readers take a tip log cut short before its header as empty, and other damage as corrupt",
          "[storage][index]") {
  MemoryStorage s;
  IndexWriter w(s, 42, kTli, kSeg);
  w.append(commit(1, 100, 10, 500));
  w.sync();
  REQUIRE(storage::open_index(s, kTli, kSeg).commit_count() == 1);

  // The next segment's log, its creation cut short by a full disk: a few bytes of header.
  const std::string torn = format::tip_log_object_name(kTli, SegmentNo(2), kSeg);
  const auto header = format::encode_tip_header(42, kTli);
  s.write_atomic(torn, std::span(header).first(format::kTipHeaderSize - 5));
  CHECK(storage::read_tip_log(s, torn).commits.empty());
  CHECK(storage::open_index(s, kTli, kSeg).commit_count() == 1);

  // A whole header that fails its checksum is damage, not a torn creation.
  auto damaged = header;
  damaged[13] ^= std::byte{1};
  s.remove(torn);
  s.write_atomic(torn, damaged);
  CHECK_THROWS_AS(storage::open_index(s, kTli, kSeg), Error);
  CHECK_THROWS_AS(storage::read_tip_log(s, torn), Error);
}
