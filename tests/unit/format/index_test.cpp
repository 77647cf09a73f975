#include "format/index.hpp"

#include <catch2/catch.hpp>
#include <random>

#include "format/endian.hpp"

namespace {

using namespace walvault::format;
using walvault::wal::Lsn;
using walvault::wal::SegmentNo;
using walvault::wal::TimelineId;

RangeReader reader_over(std::shared_ptr<const std::vector<std::byte>> object) {
  return [object](uint64_t offset, uint64_t length) {
    if (offset >= object->size()) return std::vector<std::byte>();
    const auto n = std::min<uint64_t>(length, object->size() - offset);
    return std::vector<std::byte>(object->begin() + static_cast<std::ptrdiff_t>(offset),
                                  object->begin() + static_cast<std::ptrdiff_t>(offset + n));
  };
}

RunReader open_run(const std::vector<std::byte>& bytes) {
  auto object = std::make_shared<const std::vector<std::byte>>(bytes);
  auto r = RunReader::open(reader_over(object), object->size());
  REQUIRE(r);
  return std::move(*r);
}

// Commits at lsn base + 100·i with the given times; xid = 1000 + i.
std::vector<CommitEntry> commits_with_times(const std::vector<TimestampTz>& times, uint64_t base = 0x1000000) {
  std::vector<CommitEntry> out;
  for (std::size_t i = 0; i < times.size(); ++i) {
    out.push_back(CommitEntry{Lsn(base + 100 * i), Lsn(base + 100 * i + 40), times[i], static_cast<uint32_t>(1000 + i),
                              i % 7 == 3});
  }
  return out;
}

RunContent make_run(std::vector<CommitEntry> commits, Lsn first, Lsn end) {
  RunContent run;
  run.system_identifier = 42;
  run.timeline = TimelineId(1);
  run.first_lsn = first;
  run.end_lsn = end;
  run.commits = std::move(commits);
  return run;
}

EventEntry sample_event(Lsn lsn, TimestampTz t) {
  return EventEntry{EventKind::kDropTable,
                    77,
                    lsn,
                    t,
                    Lsn(lsn.value() - 50),
                    16384,
                    0,
                    {16400, 16403},
                    {"public.orders", "public.orders_pkey"}};
}

// PostgreSQL's rule, by brute force: first entry in LSN order with time > t; the one before it.
TimeLookup reference_lookup(const std::vector<CommitEntry>& all, TimestampTz t) {
  TimeLookup out;
  for (const CommitEntry& c : all) {
    if (c.time > t) {
      out.first_after = c;
      return out;
    }
    out.last_at_or_before = c;
  }
  return out;
}

bool same(const TimeLookup& a, const TimeLookup& b) {
  return a.first_after == b.first_after && a.last_at_or_before == b.last_at_or_before;
}

}  // namespace

TEST_CASE("index run round trip", "[format][index]") {
  auto run = make_run(commits_with_times({10, 20, 30}), Lsn(0x1000000), Lsn(0x2000000));
  run.events = {sample_event(Lsn(0x1000064), 20)};
  run.segments = {SegmentSummary{SegmentNo(1), Lsn(0x1000000), Lsn(0x2000000), 10, 30, 3, 1}};
  auto bytes = encode_run(run);
  REQUIRE(bytes);
  auto back = decode_run(*bytes);
  REQUIRE(back);
  CHECK(*back == run);

  auto empty = make_run({}, Lsn(0x1000000), Lsn(0x2000000));
  auto empty_bytes = encode_run(empty);
  REQUIRE(empty_bytes);
  CHECK(*decode_run(*empty_bytes) == empty);
  auto reader = open_run(*empty_bytes);
  CHECK_FALSE(reader.max_time().has_value());
  CHECK_FALSE(reader.first_after(0)->has_value());
}

TEST_CASE("varints and zigzag keep every u64 and i64 exactly and reject malformed bytes", "[format][index]") {
  const uint64_t values[] = {0, 1, 127, 128, 16383, 16384, UINT32_MAX, uint64_t{1} << 63, UINT64_MAX - 1, UINT64_MAX};
  std::vector<std::byte> bytes;
  Appender a(bytes);
  for (const uint64_t v : values) a.put_varint(v);
  Cursor c(bytes);
  for (const uint64_t v : values) CHECK(c.get_varint() == v);
  CHECK_FALSE(c.failed());
  CHECK(c.remaining() == 0);
  for (const int64_t v : {int64_t{0}, int64_t{-1}, int64_t{1}, INT64_MIN, INT64_MAX}) CHECK(unzigzag(zigzag(v)) == v);
  CHECK(zigzag(-1) == 1);
  CHECK(zigzag(1) == 2);

  const auto rejects = [](std::vector<uint8_t> raw) {
    std::vector<std::byte> in(raw.size());
    std::transform(raw.begin(), raw.end(), in.begin(), [](uint8_t b) { return std::byte{b}; });
    Cursor cur(in);
    (void)cur.get_varint();
    return cur.failed();
  };
  CHECK(rejects({0x80, 0x80}));                                                        // cut short
  CHECK(rejects({0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02}));        // more than 64 bits
  CHECK(rejects({0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}));  // more than 10 bytes
  CHECK_FALSE(rejects({0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}));  // UINT64_MAX
}

TEST_CASE("index runs keep extreme values exactly across blocks", "[format][index]") {
  // xids that wrap around, times at both ends of the range and going backwards, LSN steps from 1 byte to 2^62,
  // commit records of any length, and both values of the aborted flag, over more than two blocks.
  std::mt19937_64 rng(11);
  std::vector<CommitEntry> commits;
  uint64_t lsn = 0x100;
  uint32_t xid = UINT32_MAX - 3000;
  for (uint32_t i = 0; i < 2 * kIndexBlockEntries + 17; ++i) {
    const TimestampTz time = i % 997 == 0   ? INT64_MAX
                             : i % 991 == 0 ? INT64_MIN + 1
                                            : static_cast<TimestampTz>(rng() >> 1) - INT64_MAX / 2;
    const uint64_t length = i % 13 == 0 ? (uint64_t{1} << 40) : 24 + rng() % 4000;
    commits.push_back(CommitEntry{Lsn(lsn), Lsn(lsn + length), time, xid, rng() % 5 == 0});
    lsn += i == 5000 ? (uint64_t{1} << 62) : 1 + rng() % 100000;
    xid += i % 2 == 0 ? 1 : static_cast<uint32_t>(rng() % 70000) - 35000;
  }
  const auto run = make_run(commits, Lsn(0x100), Lsn(lsn + (uint64_t{1} << 41)));
  const auto bytes = encode_run(run);
  REQUIRE(bytes);
  CHECK(*decode_run(*bytes) == run);
  auto reader = open_run(*bytes);
  for (const std::size_t i : {std::size_t{0}, std::size_t{4095}, std::size_t{4096}, commits.size() - 1}) {
    const auto found = reader.find_xid(commits[i].xid);
    REQUIRE(found);
    CHECK(std::find(found->begin(), found->end(), commits[i]) != found->end());
  }
}

TEST_CASE("an index run stores a pgbench-like commit in about 8 bytes", "[format][index]") {
  // Commits about 2.7 KB of WAL apart, 200 us apart with jitter, consecutive xids with some reordering: the
  // shape of pgbench's WAL. Version 1 took 48 bytes per commit.
  std::mt19937_64 rng(3);
  std::vector<CommitEntry> commits;
  uint64_t lsn = 0x1000000;
  TimestampTz time = 800000000000000;
  for (uint32_t i = 0; i < 3 * kIndexBlockEntries; ++i) {
    commits.push_back(CommitEntry{Lsn(lsn), Lsn(lsn + 34), time, 5000 + i + static_cast<uint32_t>(rng() % 3), false});
    lsn += 1000 + rng() % 4000;
    time += 100 + static_cast<TimestampTz>(rng() % 200);
  }
  const auto bytes = encode_run(make_run(commits, Lsn(0x1000000), Lsn(lsn)));
  REQUIRE(bytes);
  CHECK(bytes->size() < commits.size() * 10);
  CHECK(bytes->size() > commits.size() * 6);
}

TEST_CASE("encode_run rejects unsorted or out-of-range commits", "[format][index]") {
  auto unsorted = make_run(commits_with_times({1, 2}), Lsn(0x1000000), Lsn(0x2000000));
  std::swap(unsorted.commits[0], unsorted.commits[1]);
  CHECK(encode_run(unsorted).error().kind == IndexErrorKind::kInvalidArgument);
  auto outside = make_run(commits_with_times({1}), Lsn(0x1000001), Lsn(0x2000000));
  CHECK(encode_run(outside).error().kind == IndexErrorKind::kInvalidArgument);
}

TEST_CASE("lookup by time follows recovery_target_time with non-monotonic times and ties", "[format][index]") {
  //                                    0   1   2   3   4   5   6   7
  const auto commits = commits_with_times({10, 30, 20, 30, 25, 40, 35, 50});
  IndexView view({open_run(*encode_run(make_run(commits, Lsn(0x1000000), Lsn(0x2000000))))}, {}, {});
  const auto at = [&](TimestampTz t) { return *view.lookup_time(t); };

  CHECK_FALSE(at(5).last_at_or_before.has_value());
  CHECK(at(5).first_after == commits[0]);
  CHECK(at(10).last_at_or_before == commits[0]);  // a tie is "at or before"
  CHECK(at(10).first_after == commits[1]);
  // T = 25: commit 1 (30) is the first in LSN order after T, even though 2 (20) and 4 (25) are ≤ T later on.
  CHECK(at(25).last_at_or_before == commits[0]);
  CHECK(at(25).first_after == commits[1]);
  // T = 30: both 30s are at-or-before; recovery stops before 5 (40); 4 (25) and 2 (20) are replayed.
  CHECK(at(30).last_at_or_before == commits[4]);
  CHECK(at(30).first_after == commits[5]);
  // T = 45: stops before 7 (50); 6 (35) is replayed.
  CHECK(at(45).last_at_or_before == commits[6]);
  CHECK(at(45).first_after == commits[7]);
  CHECK(at(50).last_at_or_before == commits[7]);
  CHECK_FALSE(at(50).first_after.has_value());
}

TEST_CASE("lookups across many runs, blocks and the tip match the brute-force rule", "[format][index]") {
  std::mt19937_64 rng(7);
  std::vector<CommitEntry> all;
  std::vector<RunReader> runs;
  TimestampTz clock = 1000;
  uint64_t lsn = 0x10000000;
  std::vector<EventEntry> events;
  for (int r = 0; r < 4; ++r) {
    const Lsn first(lsn);
    std::vector<CommitEntry> commits;
    const int n = r == 1 ? 0 : 5000 + r * 3000;  // one empty run; others span several blocks
    for (int i = 0; i < n; ++i) {
      clock += static_cast<TimestampTz>(rng() % 50);
      // Backends race: times jitter backwards by up to 200 µs; some are exact duplicates.
      const TimestampTz t = clock - static_cast<TimestampTz>(rng() % 200);
      lsn += 64 + rng() % 512;
      commits.push_back(CommitEntry{Lsn(lsn), Lsn(lsn + 40), t, static_cast<uint32_t>(rng() % 3000), rng() % 9 == 0});
    }
    lsn += 4096;
    auto run = make_run(commits, first, Lsn(lsn));
    if (n > 0) {
      run.events = {sample_event(commits[10].lsn, commits[10].time)};
      events.push_back(run.events.front());
    }
    runs.push_back(open_run(*encode_run(run)));
    all.insert(all.end(), commits.begin(), commits.end());
  }
  std::vector<CommitEntry> tip;
  for (int i = 0; i < 50; ++i) {
    clock += 10;
    lsn += 100;
    tip.push_back(CommitEntry{Lsn(lsn), Lsn(lsn + 40), clock - static_cast<TimestampTz>(rng() % 30),
                              static_cast<uint32_t>(5000 + i), false});
  }
  all.insert(all.end(), tip.begin(), tip.end());
  // A stale tip entry below the last run's end is ignored (already sealed).
  tip.insert(tip.begin(), CommitEntry{Lsn(0x10000001), Lsn(0x10000002), 1, 1, false});
  IndexView view(std::move(runs), tip, {});
  CHECK(view.commit_count() == all.size());

  for (int i = 0; i < 2000; ++i) {
    const TimestampTz t = 900 + static_cast<TimestampTz>(rng() % static_cast<uint64_t>(clock - 800));
    INFO("t = " << t);
    REQUIRE(same(*view.lookup_time(t), reference_lookup(all, t)));
  }
  for (const TimestampTz t : {TimestampTz{0}, all.front().time, clock, clock + 1000}) {
    REQUIRE(same(*view.lookup_time(t), reference_lookup(all, t)));
  }
  // xid lookups: every match, in LSN order.
  for (const uint32_t xid : {0U, 17U, 2999U, 5049U, 4000U}) {
    std::vector<CommitEntry> expected;
    for (const CommitEntry& c : all) {
      if (c.xid == xid) expected.push_back(c);
    }
    CHECK(*view.lookup_xid(xid) == expected);
  }
  CHECK(*view.events_by_lsn(Lsn(0), Lsn(UINT64_MAX)) == events);
  CHECK(view.events_by_lsn(events[1].commit_lsn, Lsn(events[1].commit_lsn.value() + 1))->size() == 1);
  CHECK(view.events_by_time(events[0].commit_time, events[0].commit_time)->front() == events[0]);
}

TEST_CASE("merge_runs concatenates adjacent runs", "[format][index]") {
  auto a = make_run(commits_with_times({1, 2}, 0x1000000), Lsn(0x1000000), Lsn(0x2000000));
  auto b = make_run(commits_with_times({3}, 0x2000000), Lsn(0x2000000), Lsn(0x3000000));
  auto merged = merge_runs({a, b});
  REQUIRE(merged);
  CHECK(merged->first_lsn == Lsn(0x1000000));
  CHECK(merged->end_lsn == Lsn(0x3000000));
  CHECK(merged->commits.size() == 3);
  CHECK_FALSE(merge_runs({b, a}));
}

TEST_CASE("every single-byte flip in a small run is detected", "[format][index]") {
  auto run = make_run(commits_with_times({10, 30, 20}), Lsn(0x1000000), Lsn(0x2000000));
  run.events = {sample_event(Lsn(0x1000064), 20)};
  run.segments = {SegmentSummary{SegmentNo(1), Lsn(0x1000000), Lsn(0x2000000), 10, 30, 3, 1}};
  const auto bytes = *encode_run(run);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    auto bad = bytes;
    bad[i] ^= std::byte{0x20};
    INFO("offset " << i);
    REQUIRE_FALSE(decode_run(bad));
  }
  for (std::size_t len = 0; len < bytes.size(); ++len) {
    REQUIRE_FALSE(decode_run(std::span(bytes).first(len)));
  }
}

TEST_CASE("tip logs keep the valid prefix and report a torn tail", "[format][index]") {
  std::vector<std::byte> log = encode_tip_header(42, TimelineId(2));
  const auto commits = commits_with_times({5, 3, 9});
  auto event = sample_event(Lsn(0x1000064), 3);
  event.two_phase = true;
  for (const auto& c : commits) {
    const auto rec = encode_tip_record(c);
    log.insert(log.end(), rec.begin(), rec.end());
  }
  const auto ev = encode_tip_record(event);
  log.insert(log.end(), ev.begin(), ev.end());

  auto parsed = parse_tip_log(log);
  REQUIRE(parsed);
  CHECK(parsed->system_identifier == 42);
  CHECK(parsed->timeline == TimelineId(2));
  CHECK(parsed->commits == commits);
  CHECK(parsed->events == std::vector<EventEntry>{event});
  CHECK(parsed->valid_length == log.size());
  CHECK(parsed->torn_bytes == 0);

  // Every cut inside the records keeps exactly the whole records before it.
  for (std::size_t len = kTipHeaderSize; len < log.size(); ++len) {
    auto torn = parse_tip_log(std::span(log).first(len));
    REQUIRE(torn);
    CHECK(torn->valid_length + torn->torn_bytes == len);
    CHECK(torn->commits.size() + torn->events.size() < 4);
  }
  // A flipped byte in the last record drops it.
  auto bad = log;
  bad[bad.size() - 20] ^= std::byte{1};
  auto flipped = parse_tip_log(bad);
  REQUIRE(flipped);
  CHECK(flipped->commits.size() == 3);
  CHECK(flipped->events.empty());
  CHECK(flipped->torn_bytes == ev.size());
  // Header damage is an error, not a torn tail.
  auto bad_header = log;
  bad_header[13] ^= std::byte{1};
  CHECK_FALSE(parse_tip_log(bad_header));
}

TEST_CASE("a tip log fed in pieces of any size parses as it does whole", "[format][index]") {
  std::vector<std::byte> log = encode_tip_header(7, TimelineId(1));
  const auto commits = commits_with_times({4, 8, 6, 1, 9});
  for (std::size_t i = 0; i < commits.size(); ++i) {
    const auto rec = i == 2 ? encode_tip_record(sample_event(Lsn(0x1000100), 2)) : encode_tip_record(commits[i]);
    log.insert(log.end(), rec.begin(), rec.end());
  }
  auto flipped = log;
  flipped[flipped.size() - 30] ^= std::byte{4};  // damages the last record
  auto torn = log;
  torn.resize(torn.size() - 5);
  auto bad_header = log;
  bad_header[20] ^= std::byte{1};

  const auto fed = [](std::span<const std::byte> bytes, std::size_t piece) {
    TipLogParser parser(bytes.size());
    for (std::size_t at = 0; at < bytes.size(); at += piece)
      parser.feed(bytes.subspan(at, std::min(piece, bytes.size() - at)));
    return std::move(parser).finish();
  };
  for (const auto* input : {&log, &flipped, &torn, &bad_header}) {
    const auto whole = parse_tip_log(*input);
    for (const std::size_t piece : {std::size_t{1}, std::size_t{7}, std::size_t{33}, std::size_t{64}, input->size()}) {
      INFO("piece " << piece);
      const auto parsed = fed(*input, piece);
      REQUIRE(parsed.has_value() == whole.has_value());
      if (!whole) continue;
      CHECK(parsed->commits == whole->commits);
      CHECK(parsed->events == whole->events);
      CHECK(parsed->valid_length == whole->valid_length);
      CHECK(parsed->torn_bytes == whole->torn_bytes);
    }
  }
  CHECK(parse_tip_log(flipped)->commits.size() == 3);
  CHECK(parse_tip_log(torn)->torn_bytes > 0);
  CHECK_FALSE(parse_tip_log(bad_header));
}

TEST_CASE("index object names", "[format][index]") {
  CHECK(run_object_name(TimelineId(1), Lsn(0x3000000), Lsn(0x4000000)) ==
        "index/00000001/run-0000000003000000-0000000004000000.wvi");
  auto parsed = parse_run_object_name("index/00000001/run-0000000003000000-0000000004000000.wvi");
  REQUIRE(parsed);
  CHECK(parsed->timeline == TimelineId(1));
  CHECK(parsed->end == Lsn(0x4000000));
  CHECK_FALSE(parse_run_object_name("index/00000001/run-0000000004000000-0000000003000000.wvi"));
  CHECK_FALSE(parse_run_object_name("index/00000001/tip-000000010000000000000003.wvl"));
  const auto tip = tip_log_object_name(TimelineId(1), SegmentNo(3), 16U << 20);
  CHECK(tip == "index/00000001/tip-000000010000000000000003.wvl");
  CHECK(parse_tip_log_object_name(tip, 16U << 20)->segno == SegmentNo(3));
  CHECK(event_kind_name(EventKind::kMassDelete) == "mass_delete");
}
