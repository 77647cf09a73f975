#include "repo/wal_gaps.hpp"

#include <catch2/catch.hpp>

using walvault::archive::TimelineTree;
using walvault::repo::BackupStart;
using walvault::repo::DurableEnd;
using walvault::repo::find_wal_gaps;
using walvault::repo::HeldWal;
using walvault::repo::LsnRange;
using walvault::wal::Lsn;
using walvault::wal::TimelineId;

namespace {

constexpr uint32_t kSeg = 16U << 20;

Lsn at(uint64_t segno, uint64_t offset = 0) { return Lsn(segno * kSeg + offset); }

// Whole segments [first, last] of timeline 1.
HeldWal held(uint64_t first, uint64_t last) {
  HeldWal h;
  for (uint64_t s = first; s <= last; ++s) h[1][s] = LsnRange{at(s), at(s + 1)};
  return h;
}

}  // namespace

TEST_CASE("WAL gaps: a backup whose first segment is gone", "[repo][gaps]") {
  const auto gaps =
      find_wal_gaps(held(3, 6), {BackupStart{"B1", TimelineId(1), at(2, 0x28)}}, TimelineTree{}, std::nullopt, kSeg);
  REQUIRE(gaps.size() == 1);
  CHECK(gaps[0].from == at(2, 0x28));
  CHECK(gaps[0].to == at(3));
  CHECK(gaps[0].backup == "B1");
  CHECK(
      gaps[0].message(kSeg) ==
      "WAL missing on timeline 1 from 0/2000028 to 0/3000000 (segment 000000010000000000000002), needed by backup B1");
}

TEST_CASE("WAL gaps: everything up to the durable LSN must be held", "[repo][gaps]") {
  SECTION("held up to it: no gap") {
    HeldWal h = held(3, 6);
    h[1][7] = LsnRange{at(7), at(7, 0x100)};
    CHECK(find_wal_gaps(h, {}, TimelineTree{}, DurableEnd{TimelineId(1), at(7, 0x100)}, kSeg).empty());
  }
  SECTION("the newest segments and the tip deleted: the WAL acknowledged is lost") {
    const auto gaps = find_wal_gaps(held(3, 5), {}, TimelineTree{}, DurableEnd{TimelineId(1), at(7, 0x100)}, kSeg);
    REQUIRE(gaps.size() == 1);
    CHECK(gaps[0].from == at(6));
    CHECK(gaps[0].to == at(7, 0x100));
    CHECK(gaps[0].below_durable);
    CHECK(gaps[0].message(kSeg).find("segments 000000010000000000000006 to 000000010000000000000007") !=
          std::string::npos);
    CHECK(gaps[0].message(kSeg).find("acknowledged it as durable") != std::string::npos);
  }
  SECTION("nothing held on the streamer's timeline") {
    const auto gaps = find_wal_gaps(HeldWal{}, {}, TimelineTree{}, DurableEnd{TimelineId(1), at(7, 0x100)}, kSeg);
    REQUIRE(gaps.size() == 1);
    CHECK(gaps[0].from == at(7));
    CHECK(gaps[0].to == at(7, 0x100));
  }
  SECTION("a child timeline's durable end does not extend its parent past the switch") {
    TimelineTree tree;
    tree.add(TimelineId(2), {{TimelineId(1), at(6, 0x80)}});
    HeldWal h = held(3, 6);
    h[2][6] = LsnRange{at(6), at(7)};
    h[2][7] = LsnRange{at(7), at(7, 0x200)};
    CHECK(find_wal_gaps(h, {BackupStart{"B1", TimelineId(1), at(3, 0x28)}}, tree,
                        DurableEnd{TimelineId(2), at(7, 0x200)}, kSeg)
              .empty());
    h[2].erase(7);
    const auto gaps = find_wal_gaps(h, {BackupStart{"B1", TimelineId(1), at(3, 0x28)}}, tree,
                                    DurableEnd{TimelineId(2), at(7, 0x200)}, kSeg);
    REQUIRE(gaps.size() == 1);
    CHECK(gaps[0].timeline == TimelineId(2));
    CHECK(gaps[0].from == at(7));
  }
}
