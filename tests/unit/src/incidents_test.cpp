// Incident grouping (restore/incidents.hpp) on the timelines measured for issue 22: Django's migrate-to-zero
// (a drop_column, 8 ms later a drop_table), peewee's five drops in 7 ms, interleaved databases, the gap's edge,
// commit times out of LSN order, a two-phase event whose stop point precedes an earlier commit, and timelines.
#include "restore/incidents.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace {

using walvault::format::EventEntry;
using walvault::format::EventKind;
using walvault::restore::group_incidents;
using walvault::restore::TimelineEvent;
using walvault::wal::Lsn;
using walvault::wal::TimelineId;

constexpr int64_t kSecond = 1'000'000;

TimelineEvent event(uint32_t tli, uint64_t lsn, int64_t time, uint32_t db, EventKind kind = EventKind::kDropTable) {
  EventEntry e;
  e.kind = kind;
  e.xid = static_cast<uint32_t>(lsn);
  e.commit_lsn = Lsn(lsn);
  e.first_lsn = Lsn(lsn - 10);
  e.commit_time = time;
  e.database_oid = db;
  return TimelineEvent{TimelineId(tli), e};
}

std::vector<size_t> sizes(const std::vector<walvault::restore::Incident>& incidents) {
  std::vector<size_t> out;
  for (const auto& i : incidents) out.push_back(i.events.size());
  return out;
}

}  // namespace

TEST_CASE("a Django migrate-to-zero is one incident named by its drop_column", "[restore][incidents]") {
  const auto incidents =
      group_incidents({event(1, 0x2518948, 957953, 16417), event(1, 0x2516EA0, 949919, 16417, EventKind::kDropColumn)},
                      walvault::restore::kDefaultIncidentGapUs);
  REQUIRE(incidents.size() == 1);
  const auto& i = incidents.front();
  CHECK(i.id == "1-0000000002516EA0-drop_column");
  CHECK(i.events.front().kind == EventKind::kDropColumn);
  CHECK(i.stop_lsn() == Lsn(0x2516EA0));
  CHECK(i.holds("1-0000000002518948-drop_table"));
  CHECK_FALSE(i.holds("1-0000000002518948-truncate"));
}

TEST_CASE("the gap bounds an incident, and other databases and timelines do not break or join it", "[restore][incidents]") {
  // peewee: five drops 2 ms apart, interleaved with another database's event; then one 10 s after the last (joins),
  // then one more than 10 s after that (a new incident).
  std::vector<TimelineEvent> events;
  for (int k = 0; k < 5; ++k) events.push_back(event(1, 1000 + 100 * static_cast<uint64_t>(k), 2000 * k, 5));
  events.push_back(event(1, 1250, 3000, 6));
  events.push_back(event(1, 2000, 8000 + 10 * kSecond, 5));
  events.push_back(event(1, 3000, 8001 + 20 * kSecond, 5));
  events.push_back(event(2, 1300, 4000, 5));  // another timeline
  const auto incidents = group_incidents(events, 10 * kSecond);
  CHECK(sizes(incidents) == std::vector<size_t>{6, 1, 1, 1});
  CHECK(incidents[0].database_oid == 5);
  CHECK(incidents[1].database_oid == 6);
  CHECK(incidents[3].timeline == TimelineId(2));
  // A gap of 0 keeps only events committed at the same instant (or earlier: times are clamped) together.
  CHECK(group_incidents(events, 0).size() == 9);
}

TEST_CASE("commit times out of LSN order are clamped, and the stop point is the lowest of the incident's",
          "[restore][incidents]") {
  auto prepared = event(1, 3000, 100, 5);
  prepared.event.two_phase = true;
  prepared.event.first_lsn = Lsn(500);  // prepared before the first event committed
  const auto incidents = group_incidents({event(1, 1000, 200, 5), prepared}, 0);
  REQUIRE(incidents.size() == 1);  // 100 - 200 < 0: clamped to 0
  CHECK(incidents[0].id == "1-00000000000003E8-drop_table");
  CHECK(incidents[0].first.commit_lsn == Lsn(3000));
  CHECK(incidents[0].stop_lsn() == Lsn(500));
}
