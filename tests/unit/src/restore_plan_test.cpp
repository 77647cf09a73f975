// Restore planning without a server: target resolution to recovery settings, the restorable window and its
// errors, backup choice, WAL gaps, timelines, event ids, config quoting, and the time parser.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>

#include "common/time_text.hpp"
#include "restore/plan.hpp"

using namespace walvault;
using namespace walvault::restore;

namespace {

constexpr uint32_t kSeg = 16U << 20;

wal::Lsn seg_lsn(uint64_t segno, uint64_t offset = 0) { return wal::Lsn(segno * kSeg + offset); }

BackupEntry backup(std::string id, uint64_t start_seg, uint64_t stop_seg, std::string stop_time) {
  BackupEntry b;
  b.id = std::move(id);
  b.system_identifier = 42;
  b.pg_version = 180004;
  b.timeline = wal::TimelineId(1);
  b.start_lsn = seg_lsn(start_seg, 0x28);
  b.stop_lsn = seg_lsn(stop_seg, 0x100);
  b.stop_time = std::move(stop_time);
  return b;
}

format::CommitEntry commit(uint64_t segno, uint64_t offset, int64_t time, uint32_t xid) {
  return {seg_lsn(segno, offset), seg_lsn(segno, offset + 34), time, xid, false};
}

PlanInputs inputs_with_wal(const std::vector<std::string>& names, std::optional<TipState> tip = {}) {
  PlanInputs in;
  in.system_identifier = 42;
  in.segment_size = kSeg;
  in.backups = {backup("old", 2, 2, "2026-11-21T01:00:00.000000Z"), backup("new", 5, 5, "2026-11-21T02:00:00.000000Z")};
  in.coverage = wal_coverage(names, tip, kSeg);
  return in;
}

std::vector<std::string> segments(uint64_t from, uint64_t to) {
  std::vector<std::string> out;
  for (uint64_t s = from; s <= to; ++s) {
    out.push_back("wal/" + wal::segment_file_name(wal::TimelineId(1), wal::SegmentNo(s), kSeg) + ".wvs");
  }
  return out;
}

TargetFacts facts(TargetKind kind) {
  TargetFacts f;
  f.request.kind = kind;
  f.timeline = wal::TimelineId(1);
  f.branch = make_branch(f.timeline, {});
  f.last_commit = commit(9, 0x500, 9000, 900);
  return f;
}

std::string setting(const RestorePlan& plan, const std::string& name) {
  for (const auto& s : plan.recovery) {
    if (s.name == name) return s.value;
  }
  return "<unset>";
}

}  // namespace

TEST_CASE("a time target picks the newest backup before it and stops before the first later commit", "[restore]") {
  auto f = facts(TargetKind::kTime);
  f.request.time = 7000;
  f.last_at_or_before = commit(7, 0x100, 6990, 700);
  f.first_after = commit(7, 0x200, 7010, 701);
  const auto plan = plan_restore(inputs_with_wal(segments(2, 9)), f);
  REQUIRE(plan);
  CHECK(plan->backup.id == "new");
  CHECK(plan->stop_lsn == f.first_after->lsn);
  CHECK(setting(*plan, "recovery_target_time") == postgres_time_literal(7000));
  CHECK(setting(*plan, "recovery_target_inclusive") == "on");
  CHECK(setting(*plan, "recovery_target_timeline") == "1");
  CHECK(plan->segment_count == 3);  // segments 5, 6, 7
  // After recovery, replay must have ended past the last commit it includes and before the first it skips.
  CHECK(plan->replay_end_min == f.last_at_or_before->end_lsn);
  CHECK(plan->replay_end_max == f.first_after->lsn);
}

TEST_CASE("a time after the last archived commit or before the oldest backup names the window", "[restore]") {
  auto f = facts(TargetKind::kTime);
  f.request.time = 99999;
  auto late = plan_restore(inputs_with_wal(segments(2, 9)), f);
  REQUIRE_FALSE(late);
  CHECK(late.error().kind == PlanErrorKind::kNotRestorable);
  CHECK(late.error().message.find("is after the last archived commit") != std::string::npos);
  CHECK(late.error().message.find("2026-11-21T01:00:00.000000Z .. ") != std::string::npos);

  f.request.time = 10;
  f.first_after = commit(1, 0x200, 11, 100);  // before the oldest backup's stop LSN
  auto early = plan_restore(inputs_with_wal(segments(2, 9)), f);
  REQUIRE_FALSE(early);
  CHECK(early.error().message.find("is before the restorable window") != std::string::npos);
}

TEST_CASE("a WAL gap makes the planner fall back to an older backup only if that one reaches", "[restore]") {
  auto f = facts(TargetKind::kTime);
  f.request.time = 7000;
  f.first_after = commit(7, 0x200, 7010, 701);
  auto names = segments(2, 9);
  names.erase(names.begin() + 4);  // segment 6 missing
  auto gap = plan_restore(inputs_with_wal(names), f);
  REQUIRE_FALSE(gap);
  CHECK(gap.error().message.find("lacks WAL segment 000000010000000000000006") != std::string::npos);

  auto only_old = segments(2, 9);
  only_old.erase(only_old.begin() + 1);  // segment 3: only the old backup needs it
  const auto plan = plan_restore(inputs_with_wal(only_old), f);
  REQUIRE(plan);
  CHECK(plan->backup.id == "new");
}

TEST_CASE("before-event stops before the commit, or before the first record of a database drop or a prepared "
          "transaction", "[restore]") {
  auto f = facts(TargetKind::kBeforeEvent);
  format::EventEntry e;
  e.kind = format::EventKind::kDropTable;
  e.xid = 745;
  e.commit_lsn = seg_lsn(8, 0x1000);
  e.first_lsn = seg_lsn(8, 0x800);
  f.event = e;
  f.request.event_id = event_id(wal::TimelineId(1), e);
  auto plan = plan_restore(inputs_with_wal(segments(2, 9)), f);
  REQUIRE(plan);
  CHECK(setting(*plan, "recovery_target_lsn") == e.commit_lsn.to_string());
  CHECK(setting(*plan, "recovery_target_inclusive") == "off");
  CHECK(plan->replay_end_min == plan->backup.stop_lsn);
  CHECK(plan->replay_end_max == e.commit_lsn);

  f.event->kind = format::EventKind::kDropDatabase;
  plan = plan_restore(inputs_with_wal(segments(2, 9)), f);
  REQUIRE(plan);
  CHECK(setting(*plan, "recovery_target_lsn") == e.first_lsn.to_string());

  // Stopped before COMMIT PREPARED, the transaction would stay prepared, holding its locks on the dropped tables.
  f.event->kind = format::EventKind::kDropTable;
  f.event->two_phase = true;
  plan = plan_restore(inputs_with_wal(segments(2, 9)), f);
  REQUIRE(plan);
  CHECK(setting(*plan, "recovery_target_lsn") == e.first_lsn.to_string());
  CHECK(plan->description.find("prepared transaction 745") != std::string::npos);

  f.event.reset();
  const auto missing = plan_restore(inputs_with_wal(segments(2, 9)), f);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().kind == PlanErrorKind::kNotFound);
}

TEST_CASE("a backup of a PostgreSQL version walvault does not support is refused by name", "[restore]") {
  auto in = inputs_with_wal(segments(2, 9));
  in.backups[0].pg_version = 140010;
  const auto plan = plan_restore(in, facts(TargetKind::kLatest));
  REQUIRE_FALSE(plan);
  CHECK(plan.error().message == "backup old is of PostgreSQL 14, and this walvault restores PostgreSQL 15 to 18");
}

TEST_CASE("latest replays to the tip's durable end as an explicit target, and a foreign backup is refused",
          "[restore]") {
  auto f = facts(TargetKind::kLatest);
  const TipState tip{wal::TimelineId(1), wal::SegmentNo(10), seg_lsn(10, 0x4000)};
  auto in = inputs_with_wal(segments(2, 9), tip);
  REQUIRE_FALSE(plan_restore(in, f));  // no whole record found in the WAL held: nothing to aim at
  f.last_record = RecordSpan{seg_lsn(10, 0x3F00), seg_lsn(10, 0x3FF8)};
  auto plan = plan_restore(in, f);
  REQUIRE(plan);
  CHECK(plan->stop_lsn == tip.durable_lsn);
  CHECK(setting(*plan, "recovery_target_timeline") == "1");
  // PostgreSQL must replay the last whole record held, or fail instead of promoting early.
  CHECK(setting(*plan, "recovery_target_lsn") == f.last_record->lsn.to_string());
  CHECK(setting(*plan, "recovery_target_inclusive") == "on");
  CHECK(plan->replay_end_min == f.last_record->end_lsn);
  CHECK_FALSE(plan->replay_end_max);

  // The last record before the newest backup's end: an LSN target would lie before consistency.
  f.last_record = RecordSpan{seg_lsn(5, 0x80), seg_lsn(5, 0x100)};
  plan = plan_restore(in, f);
  REQUIRE(plan);
  CHECK(plan->backup.id == "new");
  CHECK(setting(*plan, "recovery_target") == "immediate");
  CHECK(setting(*plan, "recovery_target_lsn") == "<unset>");
  CHECK(plan->replay_end_min == plan->backup.stop_lsn);

  in.backups.back().system_identifier = 7;
  const auto foreign = plan_restore(in, f);
  REQUIRE_FALSE(foreign);
  CHECK(foreign.error().kind == PlanErrorKind::kRepository);
}

TEST_CASE("a history file whose switch point moved by a segment disagrees with the WAL held", "[restore][timeline]") {
  // Timeline 1 holds segments 2..7 (7 ends at the switch at 0/7003000), timeline 2 holds 7..9.
  auto names = segments(2, 7);
  for (uint64_t s = 7; s <= 9; ++s) {
    names.push_back("wal/" + wal::segment_file_name(wal::TimelineId(2), wal::SegmentNo(s), kSeg) + ".wvs");
  }
  const WalCoverage coverage = wal_coverage(names, std::nullopt, kSeg);
  const auto check = [&](wal::Lsn switch_lsn) {
    return history_disagreement(wal::TimelineId(2), {{wal::TimelineId(1), switch_lsn}}, coverage, kSeg);
  };
  CHECK_FALSE(check(seg_lsn(7, 0x3000)));
  CHECK_FALSE(check(seg_lsn(7, 0x100)));  // within the segment: timeline 2's copy of it serves either way
  const auto earlier = check(seg_lsn(6, 0x3000));
  REQUIRE(earlier);
  CHECK(*earlier == "the history of timeline 2 says timeline 2 left timeline 1 at 0/6003000, but the repository holds "
                    "timeline 1's segment there and not 000000020000000000000006");
  const auto later = check(seg_lsn(8, 0x3000));
  REQUIRE(later);
  CHECK(*later == "the history of timeline 2 says timeline 2 left timeline 1 at 0/8003000, but timeline 2 holds WAL "
                  "in the earlier segment 000000020000000000000007");
  // A repository that began on timeline 2 after the switch holds none of timeline 1 there: nothing to disagree.
  const WalCoverage later_start = wal_coverage(
      {"wal/" + wal::segment_file_name(wal::TimelineId(2), wal::SegmentNo(9), kSeg) + ".wvs"}, std::nullopt, kSeg);
  CHECK_FALSE(history_disagreement(wal::TimelineId(2), {{wal::TimelineId(1), seg_lsn(7, 0x3000)}}, later_start, kSeg));
}

TEST_CASE("history files make branches, and event ids round-trip", "[restore]") {
  const auto h = parse_history("1\t0/4019D50\tbefore transaction 745\n\n2\t0/9000000\tno recovery target specified\n");
  REQUIRE(h);
  const Branch b = make_branch(wal::TimelineId(3), *h);
  REQUIRE(b.size() == 3);
  CHECK(timeline_at(b, wal::Lsn(0x4019D4F)) == wal::TimelineId(1));
  CHECK(timeline_at(b, wal::Lsn(0x4019D50)) == wal::TimelineId(2));
  CHECK(timeline_at(b, wal::Lsn(0x9000000)) == wal::TimelineId(3));
  CHECK_FALSE(parse_history("x\t0/1\n"));

  format::EventEntry e;
  e.kind = format::EventKind::kMassDelete;
  e.commit_lsn = wal::Lsn(0x4019D50);
  const std::string id = event_id(wal::TimelineId(2), e);
  CHECK(id == "2-0000000004019D50-mass_delete");
  const auto parsed = parse_event_id(id);
  REQUIRE(parsed);
  CHECK(parsed->timeline == wal::TimelineId(2));
  CHECK(parsed->commit_lsn == e.commit_lsn);
  CHECK(parsed->kind == format::EventKind::kMassDelete);
  CHECK_FALSE(parse_event_id("2-4019D50-mass_delete"));
  CHECK_FALSE(parse_event_id("2-0000000004019D50-nope"));
}

TEST_CASE("a timeline-1 backup reaches a target on timeline 2 and one on timeline 1 before the switch",
          "[restore][timeline]") {
  // Timeline 2 forked from 1 at 0/7003000: timeline 1 holds segments 2..7 (7 ends at the switch), 2 holds 7..9.
  const wal::Lsn switch_lsn = seg_lsn(7, 0x3000);
  auto names = segments(2, 7);
  for (uint64_t s = 7; s <= 9; ++s) {
    names.push_back("wal/" + wal::segment_file_name(wal::TimelineId(2), wal::SegmentNo(s), kSeg) + ".wvs");
  }
  const auto wal_of = [](const RestorePlan& plan) {
    std::string out;
    for (const auto& need : plan.wal) {
      out += std::to_string(need.timeline.value()) + ":" + std::to_string(need.first.value()) + ".." +
             std::to_string(need.last.value()) + " ";
    }
    return out;
  };
  auto f = facts(TargetKind::kTime);
  f.timeline = wal::TimelineId(2);
  f.branch = make_branch(f.timeline, {{wal::TimelineId(1), switch_lsn}});
  f.last_commit = commit(9, 0x500, 9000, 900);

  // On timeline 2: timeline 1 up to the segment before the switch, then timeline 2 from the switch segment on.
  f.request.time = 8000;
  f.last_at_or_before = commit(7, 0x4000, 7990, 799);
  f.first_after = commit(8, 0x200, 8010, 801);
  const auto on2 = plan_restore(inputs_with_wal(names), f);
  REQUIRE(on2);
  CHECK(on2->backup.id == "new");
  CHECK(setting(*on2, "recovery_target_timeline") == "2");
  CHECK(wal_of(*on2) == "1:5..6 2:7..8 ");

  // On timeline 1, in the switch segment before the switch: recovery stays on timeline 1 and reads timeline 1's
  // copy of that segment (recovery_target_timeline = 1 knows nothing of timeline 2).
  f.request.time = 7000;
  f.last_at_or_before = commit(7, 0x100, 6990, 700);
  f.first_after = commit(7, 0x200, 7010, 701);
  const auto on1 = plan_restore(inputs_with_wal(names), f);
  REQUIRE(on1);
  CHECK(setting(*on1, "recovery_target_timeline") == "1");
  CHECK(wal_of(*on1) == "1:5..7 ");
  CHECK(on1->segment_count == 3);

  // Without timeline 1's copy of the switch segment that target is out of reach, whatever timeline 2 holds.
  names.erase(std::find(names.begin(), names.end(),
                        "wal/" + wal::segment_file_name(wal::TimelineId(1), wal::SegmentNo(7), kSeg) + ".wvs"));
  const auto missing = plan_restore(inputs_with_wal(names), f);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().message.find("lacks WAL segment 000000010000000000000007") != std::string::npos);
}

TEST_CASE("recovery settings: unused targets emptied first, quoting, safety", "[restore]") {
  auto f = facts(TargetKind::kXid);
  f.request.xid = 700;
  f.xid_commit = commit(7, 0x100, 6990, 700);
  const auto plan = plan_restore(inputs_with_wal(segments(2, 9)), f);
  REQUIRE(plan);
  RecoveryConfig c;
  c.restore_command = "/usr/bin/walvault wal-fetch --repo '/r it''s' %f %p";
  const std::string text = recovery_conf_text(*plan, c);
  CHECK(text.find("restore_command = '/usr/bin/walvault wal-fetch --repo ''/r it''''s'' %f %p'") != std::string::npos);
  CHECK(text.find("recovery_target_lsn = ''") < text.find("recovery_target_xid = '700'"));
  CHECK(text.find("recovery_target_time = ''") < text.find("recovery_target_xid = '700'"));
  CHECK(text.find("archive_mode = 'off'") != std::string::npos);
  CHECK(text.find("primary_conninfo = ''") != std::string::npos);
  CHECK(text.find("recovery_target_action = 'promote'") != std::string::npos);
  CHECK(text.find("hot_standby") == std::string::npos);
  // PostgreSQL turns pause into shutdown when hot standby is off (as the backup's configuration may say).
  c.action = TargetAction::kPause;
  const std::string paused = recovery_conf_text(*plan, c);
  CHECK(paused.find("recovery_target_action = 'pause'\nhot_standby = 'on'\n") != std::string::npos);
  CHECK(shell_quote("/a/b-c.d") == "/a/b-c.d");
  CHECK(shell_quote("/a b/it's") == "'/a b/it'\\''s'");
  CHECK(conf_quote("a\\b") == "'a\\\\b'");
}

TEST_CASE("user times: ISO 8601, timestamptz text, offsets, local time", "[restore][time]") {
  const auto z = parse_user_time("2026-11-21T04:15:59.705207Z");
  REQUIRE(z);
  CHECK(print_time(*z) == "2026-11-21T04:15:59.705207Z");
  CHECK(postgres_time_literal(*z) == "2026-11-21 04:15:59.705207+00");
  CHECK(*parse_user_time("2026-11-21 04:15:59.705207+00") == *z);
  CHECK(*parse_user_time("2026-11-21 04:15:59.705207 UTC") == *z);
  CHECK(*parse_user_time("2026-11-21 06:15:59.705207+02:00") == *z);
  CHECK(*parse_user_time("2026-11-20T20:15:59.705207-0800") == *z);
  CHECK(print_time(*parse_user_time("2026-11-21 04:15Z")) == "2026-11-21T04:15:00.000000Z");
  CHECK_FALSE(parse_user_time("2026-11-21"));
  CHECK_FALSE(parse_user_time("2026-02-30 00:00Z"));
  CHECK_FALSE(parse_user_time("2026-11-21 04:15:59.1234567Z"));
  CHECK_FALSE(parse_user_time("2026-11-21 04:15:59 CEST"));
  ::setenv("TZ", "Europe/Paris", 1);
  CHECK(print_time(*parse_user_time("2026-11-21 05:15:59.705207")) == "2026-11-21T04:15:59.705207Z");
  CHECK_FALSE(parse_user_time("2026-03-29 02:30:00"));  // skipped by the daylight-saving change
  ::unsetenv("TZ");
}
