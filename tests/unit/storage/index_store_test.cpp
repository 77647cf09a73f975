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
    // A torn append: half the record lands.
    s.fail_operation(1);
    CHECK_THROWS_AS(w.append(commit(1, 400, 13, 503)), Error);
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
