#include "restore/wal_coverage.hpp"

#include <catch2/catch.hpp>

using walvault::restore::TipState;
using walvault::restore::wal_coverage;
using walvault::wal::Lsn;
using walvault::wal::SegmentNo;
using walvault::wal::TimelineId;

namespace {
constexpr uint32_t kSeg = 16U << 20;
}

TEST_CASE("WAL coverage: runs, gaps and the durable tip", "[restore][coverage]") {
  const std::vector<std::string> names = {"wal/000000010000000000000003.wvs", "wal/000000010000000000000004.wvs",
                                          "wal/000000010000000000000006.wvs", "wal/00000002.history",
                                          "wal/000000020000000000000006.wvs", "wal/junk"};
  const TipState tip{TimelineId(2), SegmentNo(7), Lsn(7ULL * kSeg + 0x1234)};
  const auto coverage = wal_coverage(names, tip, kSeg);
  REQUIRE(coverage.runs.size() == 3);
  CHECK(coverage.runs[0].first.value() == 3);
  CHECK(coverage.runs[0].last.value() == 4);
  CHECK(coverage.runs[0].end_lsn == Lsn(5ULL * kSeg));
  CHECK(coverage.runs[1].first.value() == 6);
  CHECK_FALSE(coverage.runs[1].ends_at_tip);
  CHECK(coverage.runs[2].timeline == TimelineId(2));
  CHECK(coverage.runs[2].last.value() == 7);
  CHECK(coverage.runs[2].ends_at_tip);
  CHECK(coverage.runs[2].end_lsn == tip.durable_lsn);

  CHECK(coverage.holds(TimelineId(1), Lsn(3ULL * kSeg + 40), Lsn(5ULL * kSeg), kSeg));
  CHECK_FALSE(coverage.holds(TimelineId(1), Lsn(3ULL * kSeg + 40), Lsn(5ULL * kSeg + 1), kSeg));  // gap at 5
  CHECK(coverage.holds(TimelineId(2), Lsn(6ULL * kSeg), tip.durable_lsn, kSeg));
  CHECK_FALSE(coverage.holds(TimelineId(2), Lsn(6ULL * kSeg), tip.durable_lsn + 1, kSeg));
  CHECK_FALSE(coverage.holds(TimelineId(3), Lsn(6ULL * kSeg), Lsn(6ULL * kSeg + 1), kSeg));
}

TEST_CASE("WAL coverage: a tip with nothing durable holds nothing", "[restore][coverage]") {
  const TipState tip{TimelineId(1), SegmentNo(4), Lsn(4ULL * kSeg)};
  const auto coverage = wal_coverage({"wal/000000010000000000000003.wvs"}, tip, kSeg);
  REQUIRE(coverage.runs.size() == 1);
  CHECK(coverage.runs[0].last.value() == 3);
  CHECK(coverage.run_at(TimelineId(1), Lsn(4ULL * kSeg), kSeg) == nullptr);
}

TEST_CASE("WAL coverage: a chain break's cut ends its run inside the cut segment", "[restore][coverage]") {
  // The old chain ended at 3/0x80 (segment 3 is a partial container); the new chain holds 4 and 5.
  const std::vector<std::string> names = {"wal/000000010000000000000002.wvs", "wal/000000010000000000000003.wvs",
                                          "wal/000000010000000000000004.wvs", "wal/000000010000000000000005.wvs"};
  const Lsn cut(3ULL * kSeg + 0x80);
  const auto coverage = wal_coverage(names, std::nullopt, kSeg, {{TimelineId(1), cut}});
  REQUIRE(coverage.runs.size() == 2);
  CHECK(coverage.runs[0].first.value() == 2);
  CHECK(coverage.runs[0].last.value() == 3);
  CHECK(coverage.runs[0].end_lsn == cut);
  CHECK(coverage.runs[1].first.value() == 4);
  CHECK(coverage.runs[1].start_lsn == Lsn(4ULL * kSeg));
  CHECK(coverage.runs[1].end_lsn == Lsn(6ULL * kSeg));
  CHECK(coverage.holds(TimelineId(1), Lsn(2ULL * kSeg), cut, kSeg));
  CHECK_FALSE(coverage.holds(TimelineId(1), Lsn(2ULL * kSeg), cut + 1, kSeg));
  CHECK_FALSE(coverage.holds(TimelineId(1), Lsn(2ULL * kSeg), Lsn(5ULL * kSeg), kSeg));
  // A cut on another timeline, or outside what is held, changes nothing.
  CHECK(wal_coverage(names, std::nullopt, kSeg, {{TimelineId(2), cut}}).runs.size() == 1);
  CHECK(wal_coverage(names, std::nullopt, kSeg, {{TimelineId(1), Lsn(9ULL * kSeg)}}).runs.size() == 1);
}
