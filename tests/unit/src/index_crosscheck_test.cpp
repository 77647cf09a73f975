// The index against the WAL (archive/index_crosscheck.hpp), on the real PostgreSQL 15 fixture: an index built from
// what the decoder finds agrees with the WAL; a missing object, a missing entry and an entry the WAL does not hold
// are each named.
#include "archive/index_crosscheck.hpp"

#include <catch2/catch.hpp>
#include <cstring>
#include <map>

#include "../wal/wal_fixtures.hpp"
#include "format/checksum.hpp"
#include "storage/memory_storage.hpp"

namespace {

using namespace walvault;
using test::kFixtureSegmentSize;
using test::wal_fixture;

repo::RepoConfig fixture_config() {
  repo::RepoConfig c;
  std::memcpy(&c.system_identifier, wal_fixture().bytes.data() + 24, 8);
  c.pg_version = 150000;
  c.segment_size = kFixtureSegmentSize;
  c.timeline = wal::TimelineId(1);
  return c;
}

struct Decoded {
  std::vector<format::CommitEntry> commits;
  std::vector<format::EventEntry> events;
};

// What the indexer's decoder finds in the fixture.
Decoded decode_fixture() {
  Decoded out;
  archive::IndexDecoder decoder(
      fixture_config(), archive::MassRowsSchedule(),
      archive::IndexDecoder::Callbacks{nullptr,
                                       [&](const wal::Commit& c, std::span<const wal::Event> events) {
                                         out.commits.push_back(archive::index_commit(c));
                                         for (const auto& e : events) out.events.push_back(archive::index_event(e));
                                       },
                                       [](const archive::IndexDecoder::Problem&) { FAIL("a problem"); }});
  decoder.start(wal_fixture().start);
  decoder.feed(wal_fixture().start, wal_fixture().bytes);
  return out;
}

wal::SegmentNo segment_of(wal::Lsn lsn) { return wal::segment_of(lsn, kFixtureSegmentSize); }

// One tip log per fixture segment holding `d`'s entries of that segment, with a header of tip_version; the units
// that name them.
std::vector<archive::IndexUnit> store_index(storage::Storage& storage, const Decoded& d,
                                            uint16_t tip_version = format::kTipLogVersion) {
  const wal::TimelineId tli(1);
  const auto system = fixture_config().system_identifier;
  std::map<uint64_t, std::vector<std::byte>> logs;
  const uint64_t first = segment_of(wal_fixture().start).value();
  const uint64_t count = wal_fixture().bytes.size() / kFixtureSegmentSize;
  for (uint64_t s = first; s < first + count; ++s) {
    auto header = format::encode_tip_header(system, tli);
    format::put_le<uint16_t>(header.data() + 8, tip_version);
    format::put_le<uint64_t>(header.data() + 24, format::checksum(std::span(header).first(24)));
    logs[s] = std::move(header);
  }
  const auto append = [&](wal::Lsn lsn, const std::vector<std::byte>& record) {
    auto& log = logs[segment_of(lsn).value()];
    log.insert(log.end(), record.begin(), record.end());
  };
  std::size_t e = 0;
  for (const auto& c : d.commits) {
    append(c.lsn, format::encode_tip_record(c));
    for (; e < d.events.size() && d.events[e].commit_lsn == c.lsn; ++e)
      append(c.lsn, format::encode_tip_record(d.events[e]));
  }
  std::vector<archive::IndexUnit> units;
  for (const auto& [s, bytes] : logs) {
    const wal::SegmentNo segno(s);
    const std::string name = format::tip_log_object_name(tli, segno, kFixtureSegmentSize);
    storage.write_atomic(name, bytes);
    units.push_back(archive::IndexUnit{archive::IndexUnit::Kind::kTipLog, name,
                                       wal::segment_start(segno, kFixtureSegmentSize),
                                       wal::segment_start(segno.next(), kFixtureSegmentSize)});
  }
  return units;
}

std::vector<archive::IndexMismatch> cross_check(const storage::Storage& storage,
                                                std::vector<archive::IndexUnit> units) {
  archive::IndexCrossCheck check(storage, fixture_config(), wal::TimelineId(1), std::move(units),
                                 archive::MassRowsSchedule());
  // Fed a segment at a time, as verify feeds containers.
  const auto& f = wal_fixture();
  for (std::size_t at = 0; at < f.bytes.size(); at += kFixtureSegmentSize) {
    check.feed(f.start + at, std::span(f.bytes).subspan(at, kFixtureSegmentSize));
  }
  return check.finish();
}

}  // namespace

TEST_CASE("index cross-check: the index against the WAL it was built from", "[archive][verify]") {
  const Decoded decoded = decode_fixture();
  REQUIRE(decoded.commits.size() > 20);
  REQUIRE_FALSE(decoded.events.empty());

  SECTION("everything in both") {
    storage::MemoryStorage storage;
    CHECK(cross_check(storage, store_index(storage, decoded)).empty());
  }
  SECTION("an index object missing") {
    storage::MemoryStorage storage;
    auto units = store_index(storage, decoded);
    const std::string gone = units[1].object;
    storage.remove(gone);
    units[1].kind = archive::IndexUnit::Kind::kAbsent;
    const auto found = cross_check(storage, units);
    REQUIRE(found.size() == 1);
    CHECK(found[0].object == gone);
    CHECK(found[0].message.find("the index object for segment 000000010000000000000010 is missing") == 0);
  }
  SECTION("an event missing from the index") {
    Decoded partial = decoded;
    partial.events.pop_back();
    storage::MemoryStorage storage;
    const auto found = cross_check(storage, store_index(storage, partial));
    REQUIRE(found.size() == 1);
    CHECK(found[0].message == "0 commits and 1 event of the WAL (the first at " +
                                  decoded.events.back().commit_lsn.to_string() + ") are missing from the index");
  }
  SECTION("an index written before alter_type existed does not miss the fixture's alter_type; a newer one does") {
    Decoded old = decoded;
    std::erase_if(old.events, [](const format::EventEntry& e) { return e.kind == format::EventKind::kAlterType; });
    REQUIRE(old.events.size() + 1 == decoded.events.size());
    storage::MemoryStorage before;
    CHECK(cross_check(before, store_index(before, old, 1)).empty());
    storage::MemoryStorage after;
    const auto found = cross_check(after, store_index(after, old));
    REQUIRE(found.size() == 1);
    CHECK(found[0].message.find("0 commits and 1 event of the WAL") == 0);
  }
  SECTION("a commit missing from the index") {
    Decoded partial = decoded;
    partial.commits.erase(partial.commits.begin() + 3);
    storage::MemoryStorage storage;
    const auto found = cross_check(storage, store_index(storage, partial));
    REQUIRE(found.size() == 1);
    CHECK(found[0].message.find("1 commit and 0 events of the WAL (the first at " +
                                decoded.commits[3].lsn.to_string()) == 0);
  }
  SECTION("a commit the WAL does not hold") {
    Decoded extra = decoded;
    format::CommitEntry ghost = extra.commits[10];
    ghost.xid += 1000000;
    extra.commits[10] = ghost;
    storage::MemoryStorage storage;
    const auto found = cross_check(storage, store_index(storage, extra));
    REQUIRE(found.size() == 2);  // the real one is missing, the ghost is not in the WAL
    CHECK(found[0].message.find("1 commit and 0 events of the WAL (the first at " + ghost.lsn.to_string()) == 0);
    CHECK(found[1].message ==
          "1 commit and 0 events in the index are not in the WAL (the first at " + ghost.lsn.to_string() + ")");
  }
}
