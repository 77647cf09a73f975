#include <catch2/catch.hpp>

#include "archive/retention.hpp"
#include "format/index.hpp"

namespace {

using namespace walvault::archive;
using walvault::wal::Lsn;
using walvault::wal::SegmentNo;
using walvault::wal::TimelineId;
using std::chrono::hours;

constexpr uint32_t kSeg = 16U << 20;
const auto kNow = std::chrono::system_clock::time_point(std::chrono::hours(24 * 365 * 50));

std::string seg(uint32_t tli, uint64_t segno) {
  return "wal/" + walvault::wal::segment_file_name(TimelineId(tli), SegmentNo(segno), kSeg) + ".wvs";
}
Lsn at(uint64_t segno, uint64_t offset = 0x28) { return Lsn(segno * kSeg + offset); }
std::string run(uint32_t tli, uint64_t first_seg, uint64_t end_seg) {
  return walvault::format::run_object_name(TimelineId(tli), at(first_seg, 0), at(end_seg, 0));
}

RetentionBackup backup(const std::string& id, uint32_t tli, uint64_t start_seg, int age_hours) {
  return RetentionBackup{id, TimelineId(tli), at(start_seg), kNow - hours(age_hours)};
}

std::vector<std::string> segments(uint32_t tli, uint64_t first, uint64_t last) {
  std::vector<std::string> out;
  for (uint64_t s = first; s <= last; ++s) out.push_back(seg(tli, s));
  return out;
}

RetentionPolicy keep_backups(uint32_t n) { return RetentionPolicy{n, std::nullopt, kNow, {}}; }

}  // namespace

TEST_CASE("retention: keep N backups removes older backups and the WAL below the oldest kept start",
          "[retention]") {
  const std::vector<RetentionBackup> backups = {backup("b1", 1, 2, 72), backup("b2", 1, 5, 48),
                                                backup("b3", 1, 8, 24)};
  auto names = segments(1, 1, 10);
  names.push_back("wal/00000002.history");
  names.push_back(run(1, 1, 2));
  names.push_back(run(1, 2, 5));   // ends exactly at the cut: covers only removed WAL
  names.push_back(run(1, 4, 6));   // straddles the cut: stays
  names.push_back(run(1, 6, 7));
  // Recorded index problems go with the WAL they describe.
  const std::string old_problem = walvault::format::problem_object_name(TimelineId(1), at(3, 0x100));
  names.push_back(old_problem);
  names.push_back(walvault::format::problem_object_name(TimelineId(1), at(5, 0x100)));
  const auto plan = plan_expire(backups, keep_backups(2), TimelineTree{}, names, kSeg);
  CHECK(plan.expired_backups == std::vector<std::string>{"b1"});
  CHECK(plan.kept_backups == std::vector<std::string>{"b2", "b3"});
  CHECK(plan.wal_objects == segments(1, 1, 4));
  CHECK(plan.index_objects == std::vector<std::string>{old_problem, run(1, 1, 2), run(1, 2, 5)});
  REQUIRE(plan.wal_cut.count(1) == 1);
  CHECK(plan.wal_cut.at(1) == SegmentNo(5));
}

TEST_CASE("retention: the newest backup always stays", "[retention]") {
  const std::vector<RetentionBackup> backups = {backup("b2", 1, 5, 500), backup("b1", 1, 2, 600)};
  const auto by_days = plan_expire(backups, RetentionPolicy{std::nullopt, hours(24), kNow, {}}, TimelineTree{},
                                   segments(1, 1, 6), kSeg);
  CHECK(by_days.kept_backups == std::vector<std::string>{"b2"});
  CHECK(by_days.expired_backups == std::vector<std::string>{"b1"});
  CHECK(by_days.wal_objects == segments(1, 1, 4));
  const auto keep_one = plan_expire(backups, keep_backups(1), TimelineTree{}, segments(1, 1, 6), kSeg);
  CHECK(keep_one.kept_backups == std::vector<std::string>{"b2"});
}

TEST_CASE("retention: a pinned backup stays, with every newer one and the WAL it needs", "[retention]") {
  const std::vector<RetentionBackup> backups = {backup("b1", 1, 2, 72), backup("b2", 1, 5, 48),
                                                backup("b3", 1, 8, 24)};
  auto policy = keep_backups(1);
  policy.pinned = {"b1"};
  const auto plan = plan_expire(backups, policy, TimelineTree{}, segments(1, 1, 10), kSeg);
  CHECK(plan.expired_backups.empty());
  CHECK(plan.kept_backups == std::vector<std::string>{"b1", "b2", "b3"});
  CHECK(plan.wal_objects == segments(1, 1, 1));
  policy.pinned = {"b2"};
  CHECK(plan_expire(backups, policy, TimelineTree{}, segments(1, 1, 10), kSeg).expired_backups ==
        std::vector<std::string>{"b1"});
}

TEST_CASE("retention: keep days keeps the newest backup from before the window", "[retention]") {
  const std::vector<RetentionBackup> backups = {backup("b1", 1, 2, 24 * 10), backup("b2", 1, 5, 24 * 8),
                                                backup("b3", 1, 8, 24 * 2), backup("b4", 1, 9, 1)};
  const auto plan = plan_expire(backups, RetentionPolicy{std::nullopt, hours(24 * 7), kNow, {}}, TimelineTree{},
                                segments(1, 1, 10), kSeg);
  CHECK(plan.expired_backups == std::vector<std::string>{"b1"});
  CHECK(plan.kept_backups == std::vector<std::string>{"b2", "b3", "b4"});
  CHECK(plan.wal_objects == segments(1, 1, 4));
}

TEST_CASE("retention: a bad policy keeps everything", "[retention]") {
  const std::vector<RetentionBackup> backups = {backup("b1", 1, 2, 72), backup("b2", 1, 5, 48)};
  for (const auto& policy : {RetentionPolicy{std::nullopt, std::nullopt, kNow, {}}, keep_backups(0),
                             RetentionPolicy{1, hours(1), kNow, {}}}) {
    const auto plan = plan_expire(backups, policy, TimelineTree{}, segments(1, 1, 6), kSeg);
    CHECK(plan.expired_backups.empty());
    CHECK(plan.kept_backups.size() == 2);
    CHECK(plan.wal_objects.size() == 1);  // segment 1 is below the oldest backup: no backup needs it
  }
  CHECK(plan_expire({}, keep_backups(1), TimelineTree{}, segments(1, 1, 6), kSeg).wal_objects.empty());
}

TEST_CASE("retention: timelines", "[retention]") {
  // Timeline 2 left timeline 1 in segment 6; timeline 3 left timeline 1 in segment 3 (an abandoned branch).
  TimelineTree tree;
  tree.add(TimelineId(2), {HistoryEntry{TimelineId(1), at(6, 0x100)}});
  tree.add(TimelineId(3), {HistoryEntry{TimelineId(1), at(3, 0x100)}});
  auto names = segments(1, 1, 6);
  for (const auto& n : segments(2, 6, 12)) names.push_back(n);
  for (const auto& n : segments(3, 3, 4)) names.push_back(n);

  SECTION("a kept backup on the parent keeps every descendant's WAL") {
    const std::vector<RetentionBackup> backups = {backup("b1", 1, 2, 72), backup("b2", 1, 4, 48)};
    const auto plan = plan_expire(backups, keep_backups(1), tree, names, kSeg);
    CHECK(plan.expired_backups == std::vector<std::string>{"b1"});
    CHECK(plan.wal_objects == segments(1, 1, 3));  // timeline 3 (a descendant of 1) stays
  }
  SECTION("only backups on the child kept: the parent's WAL below the cut goes, unrelated branches stay") {
    const std::vector<RetentionBackup> backups = {backup("b1", 1, 2, 72), backup("b2", 2, 9, 48)};
    const auto plan = plan_expire(backups, keep_backups(1), tree, names, kSeg);
    std::vector<std::string> expected;
    for (uint64_t s = 1; s <= 8; ++s) {
      if (s <= 6) expected.push_back(seg(1, s));
      if (s >= 6) expected.push_back(seg(2, s));
    }
    CHECK(plan.wal_objects == expected);
    for (const auto& n : plan.wal_objects) CHECK(n.find("wal/00000003") == std::string::npos);
  }
  SECTION("without the history files a later timeline is never touched") {
    const std::vector<RetentionBackup> backups = {backup("b1", 1, 2, 72), backup("b2", 1, 4, 48)};
    const auto plan = plan_expire(backups, keep_backups(1), TimelineTree{}, names, kSeg);
    CHECK(plan.wal_objects == segments(1, 1, 3));
  }
}

TEST_CASE("timeline history: parse", "[retention][history]") {
  const auto ok = parse_timeline_history(TimelineId(3), "# comment\n1\t0/3000100\tno recovery target specified\n\n"
                                                        "2\t0/6000000\tbefore 2026-11-21\n");
  REQUIRE(ok);
  REQUIRE(ok->size() == 2);
  CHECK((*ok)[0].parent == TimelineId(1));
  CHECK((*ok)[0].switch_lsn == Lsn(0x3000100));
  CHECK((*ok)[1].parent == TimelineId(2));
  CHECK((*ok)[1].switch_lsn == Lsn(0x6000000));
  CHECK(parse_timeline_history(TimelineId(2), "").value().empty());
  const auto bad_order = parse_timeline_history(TimelineId(3), "2\t0/3000000\tx\n1\t0/4000000\ty\n");
  REQUIRE_FALSE(bad_order);
  CHECK(bad_order.error() == "history lines are not in timeline order");
  const auto not_below = parse_timeline_history(TimelineId(2), "2\t0/3000000\tx\n");
  REQUIRE_FALSE(not_below);
  CHECK(not_below.error() == "timeline 2 is not below 2");
  CHECK_FALSE(parse_timeline_history(TimelineId(2), "1\tnot-an-lsn\tx\n"));
  CHECK_FALSE(parse_timeline_history(TimelineId(2), "x\t0/1\n"));
  CHECK_FALSE(parse_timeline_history(TimelineId(4), "1\t0/5000000\tx\n2\t0/4000000\ty\n"));
}

TEST_CASE("timeline history: tree", "[retention][history]") {
  TimelineTree tree;
  tree.add(TimelineId(2), {{TimelineId(1), Lsn(0x3000100)}});
  tree.add(TimelineId(3), {{TimelineId(1), Lsn(0x3000100)}, {TimelineId(2), Lsn(0x6000000)}});
  CHECK(tree.ancestor_or_self(TimelineId(1), TimelineId(3)));
  CHECK(tree.ancestor_or_self(TimelineId(3), TimelineId(3)));
  CHECK_FALSE(tree.ancestor_or_self(TimelineId(3), TimelineId(1)));
  CHECK(tree.switch_point(TimelineId(2), TimelineId(3)) == Lsn(0x6000000));
  const auto path = tree.path(TimelineId(1), TimelineId(3));
  REQUIRE(path.size() == 3);
  CHECK(path[0].timeline == TimelineId(1));
  CHECK(path[0].end == Lsn(0x3000100));
  CHECK(path[1].end == Lsn(0x6000000));
  CHECK_FALSE(path[2].end.has_value());
  CHECK(tree.path(TimelineId(3), TimelineId(1)).empty());
  CHECK(tree.inconsistencies().empty());

  tree.add(TimelineId(5), {{TimelineId(1), Lsn(0x3000100)}, {TimelineId(4), Lsn(0x7000000)}});
  tree.add(TimelineId(6), {{TimelineId(1), Lsn(0x3000200)}, {TimelineId(2), Lsn(0x6000000)}});
  const auto problems = tree.inconsistencies();
  REQUIRE(problems.size() == 2);
  CHECK(problems[0] == "history of timeline 4 (parent of 5) is missing");
  CHECK(problems[1] == "history of timeline 6 does not continue the history of its parent 2");
}
