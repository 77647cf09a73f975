#include "wal/events.hpp"

#include <catch2/catch.hpp>
#include <map>
#include <regex>
#include <sstream>
#include <vector>

#include "wal/decoder.hpp"
#include "wal_fixtures.hpp"

namespace wal = walvault::wal;
using walvault::test::fixture_text;
using walvault::test::kFixtureSegmentSize;
using walvault::test::wal_fixture;

namespace {

struct Tracked {
  std::vector<wal::Commit> commits;
  std::vector<wal::Event> events;
  size_t max_open = 0;
};

Tracked track(wal::EventConfig config = {}) {
  const auto& f = wal_fixture();
  wal::BufferSource source(f.start, f.bytes);
  wal::DecoderConfig dc;
  dc.segment_size = kFixtureSegmentSize;
  wal::Reader reader(source, dc, f.start);
  wal::EventTracker tracker(*wal::wal_format_for_major(15), config);
  Tracked out;
  for (auto step = reader.next(); step.status == wal::Status::kRecord; step = reader.next()) {
    if (tracker.observe(*step.record) == wal::Observed::kFinished) {
      out.commits.push_back(tracker.commit());
      out.events.insert(out.events.end(), tracker.events().begin(), tracker.events().end());
    }
    out.max_open = std::max(out.max_open, tracker.open_transactions());
  }
  return out;
}

// "2026-11-21 05:07:25.191591 UTC" -> "2026-11-21T05:07:25.191591Z"
std::string iso(const std::string& pg) { return pg.substr(0, 10) + "T" + pg.substr(11, 15) + "Z"; }

}  // namespace

TEST_CASE("destructive statements in the fixture yield exactly the expected events", "[wal][events]") {
  const auto tracked = track();
  std::vector<std::string> got;
  for (const auto& e : tracked.events) got.push_back(std::string(wal::event_kind_name(e.kind)) + " " + std::to_string(e.xid));
  std::vector<std::string> expected;
  std::istringstream in(fixture_text("expected_events.txt"));
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) expected.push_back(line);
  }
  // Rolled back statements and rewrites (VACUUM FULL, CLUSTER) are in the fixture too; the rewriting ALTER TABLE ...
  // TYPE is an alter_type.
  CHECK(got == expected);
  for (const auto& e : tracked.events) {
    INFO(wal::event_kind_name(e.kind) << " " << e.xid);
    CHECK(e.first_lsn <= e.commit_lsn);
    CHECK(e.commit_end_lsn > e.commit_lsn);
    switch (e.kind) {
      case wal::EventKind::kMassDelete:
      case wal::EventKind::kMassUpdate:
        CHECK(e.rows >= 1000);
        CHECK(!e.relfilenodes.empty());
        break;
      case wal::EventKind::kDropTable:
      case wal::EventKind::kTruncate:
        CHECK(!e.relfilenodes.empty());
        CHECK(!e.rel_oids.empty());
        break;
      case wal::EventKind::kDropDatabase:
        CHECK(e.db != 0);
        CHECK(e.first_lsn < e.commit_lsn);
        break;
      case wal::EventKind::kAlterType:
        CHECK(!e.relfilenodes.empty());
        CHECK(!e.columns.empty());
        break;
      case wal::EventKind::kDropColumn:
        CHECK(!e.columns.empty());
        break;
    }
  }
  // DROP SCHEMA s CASCADE drops both tables (and their files) in one event.
  const auto schema = std::find_if(tracked.events.begin(), tracked.events.end(), [&](const wal::Event& e) {
    return std::to_string(e.xid) == expected[5].substr(11);
  });
  REQUIRE(schema != tracked.events.end());
  CHECK(schema->relfilenodes.size() >= 2);
}

TEST_CASE("drop_database points at the invalidating INPLACE before the drop", "[wal][events]") {
  const auto tracked = track();
  const auto it = std::find_if(tracked.events.begin(), tracked.events.end(),
                               [](const wal::Event& e) { return e.kind == wal::EventKind::kDropDatabase; });
  REQUIRE(it != tracked.events.end());
  // pg_waldump: the Heap INPLACE on 1664/0/1262 with tx 0 right before the DELETE of the pg_database row.
  const std::string dump = fixture_text("pg_waldump.txt.zst");
  const std::regex inplace(R"(tx:\s+0, lsn: (\S+), prev \S+, desc: INPLACE off \d+, blkref #0: rel 1664/0/1262)");
  wal::Lsn last_before;
  for (std::sregex_iterator m(dump.begin(), dump.end(), inplace), end; m != end; ++m) {
    const auto lsn = *wal::Lsn::parse((*m)[1].str());
    if (lsn < it->commit_lsn) last_before = lsn;
  }
  CHECK(it->first_lsn == last_before);
}

TEST_CASE("commit and abort times and xids match pg_waldump", "[wal][events]") {
  const auto tracked = track();
  const std::string dump = fixture_text("pg_waldump.txt.zst");
  const std::regex line(
      R"(tx:\s+(\d+), lsn: (\S+), prev \S+, desc: (COMMIT|ABORT|COMMIT_PREPARED|ABORT_PREPARED) (?:(\d+): )?(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} UTC))");
  std::map<wal::Lsn, std::pair<uint32_t, std::string>> golden;
  for (std::sregex_iterator m(dump.begin(), dump.end(), line), end; m != end; ++m) {
    const uint32_t xid = static_cast<uint32_t>(std::stoul((*m)[4].matched ? (*m)[4].str() : (*m)[1].str()));
    golden[*wal::Lsn::parse((*m)[2].str())] = {xid, iso((*m)[5].str())};
  }
  REQUIRE(golden.size() == tracked.commits.size());
  bool saw_prepared = false;
  for (const auto& c : tracked.commits) {
    const auto g = golden.find(c.lsn);
    REQUIRE(g != golden.end());
    CHECK(c.xid == g->second.first);
    CHECK(wal::format_timestamp(c.time) == g->second.second);
    saw_prepared = saw_prepared || c.prepared;
  }
  CHECK(saw_prepared);
}

TEST_CASE("the mass threshold is configurable and the tracker stays bounded", "[wal][events]") {
  wal::EventConfig config;
  config.mass_rows_threshold = 5000;
  auto tracked = track(config);
  CHECK(std::none_of(tracked.events.begin(), tracked.events.end(), [](const wal::Event& e) {
    return e.kind == wal::EventKind::kMassDelete || e.kind == wal::EventKind::kMassUpdate;
  }));
  config.max_transactions = 2;
  tracked = track(config);
  CHECK(tracked.max_open <= 2);
}

TEST_CASE("timestamps print as ISO 8601 UTC with microseconds", "[wal][events]") {
  CHECK(wal::format_timestamp(0) == "2000-01-01T00:00:00.000000Z");
  CHECK(wal::format_timestamp(-1) == "1999-12-31T23:59:59.999999Z");
}
