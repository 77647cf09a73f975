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
      find_wal_gaps(held(3, 6), {BackupStart{"B1", TimelineId(1), at(2, 0x28)}}, TimelineTree{}, std::nullopt, {}, kSeg);
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
    CHECK(find_wal_gaps(h, {}, TimelineTree{}, DurableEnd{TimelineId(1), at(7, 0x100)}, {}, kSeg).empty());
  }
  SECTION("the newest segments and the tip deleted: the WAL acknowledged is lost") {
    const auto gaps = find_wal_gaps(held(3, 5), {}, TimelineTree{}, DurableEnd{TimelineId(1), at(7, 0x100)}, {}, kSeg);
    REQUIRE(gaps.size() == 1);
    CHECK(gaps[0].from == at(6));
    CHECK(gaps[0].to == at(7, 0x100));
    CHECK(gaps[0].below_durable);
    CHECK(gaps[0].message(kSeg).find("segments 000000010000000000000006 to 000000010000000000000007") !=
          std::string::npos);
    CHECK(gaps[0].message(kSeg).find("acknowledged it as durable") != std::string::npos);
  }
  SECTION("nothing held on the streamer's timeline") {
    const auto gaps = find_wal_gaps(HeldWal{}, {}, TimelineTree{}, DurableEnd{TimelineId(1), at(7, 0x100)}, {}, kSeg);
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
                        DurableEnd{TimelineId(2), at(7, 0x200)}, {}, kSeg)
              .empty());
    h[2].erase(7);
    const auto gaps = find_wal_gaps(h, {BackupStart{"B1", TimelineId(1), at(3, 0x28)}}, tree,
                                    DurableEnd{TimelineId(2), at(7, 0x200)}, {}, kSeg);
    REQUIRE(gaps.size() == 1);
    CHECK(gaps[0].timeline == TimelineId(2));
    CHECK(gaps[0].from == at(7));
  }
}

TEST_CASE("WAL gaps: a gap inside a declared chain break is declared, one outside it is not", "[repo][gaps]") {
  // The old chain ended at 4/0x80 (a partial segment 4); the new chain starts at segment 8.
  HeldWal h = held(3, 3);
  h[1][4] = LsnRange{at(4), at(4, 0x80)};
  for (uint64_t s = 8; s <= 9; ++s) h[1][s] = LsnRange{at(s), at(s + 1)};
  walvault::repo::ChainBreak declared;
  declared.timeline = TimelineId(1);
  declared.start = at(8);
  declared.previous_timeline = TimelineId(1);
  declared.previous_end = at(4, 0x80);
  declared.slot = "walvault_repo";
  declared.created = "2026-12-07T06:00:00.000000Z";
  declared.reason = "the replication slot was invalidated";
  const std::vector<BackupStart> backups{BackupStart{"B1", TimelineId(1), at(3, 0x28)}};
  const DurableEnd durable{TimelineId(1), at(10)};

  const auto undeclared = find_wal_gaps(h, backups, TimelineTree{}, durable, {}, kSeg);
  REQUIRE(undeclared.size() == 1);
  CHECK_FALSE(undeclared[0].declared);
  CHECK(undeclared[0].below_durable);

  const auto gaps = find_wal_gaps(h, backups, TimelineTree{}, durable, {declared}, kSeg);
  REQUIRE(gaps.size() == 1);
  CHECK(gaps[0].from == at(4, 0x80));
  CHECK(gaps[0].to == at(8));
  REQUIRE(gaps[0].declared);
  CHECK_FALSE(gaps[0].below_durable);
  CHECK(gaps[0].message(kSeg).find("removed by the server before walvault received it") != std::string::npos);
  CHECK(gaps[0].message(kSeg).find("the replication slot was invalidated") != std::string::npos);

  // Segment 9 lost as well: that gap is not the declared one.
  h[1].erase(9);
  const auto more = find_wal_gaps(h, backups, TimelineTree{}, durable, {declared}, kSeg);
  REQUIRE(more.size() == 2);
  CHECK(more[0].declared);
  CHECK_FALSE(more[1].declared);
  CHECK(more[1].below_durable);
}
