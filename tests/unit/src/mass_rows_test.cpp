// The mass-row threshold a repository records (archive/mass_rows.hpp): the schedule's lookups, the object's codec,
// and the streamer's indexer recording its --mass-rows before the first commit it adds (once, and only when the
// timeline's schedule does not already give that threshold there), on the real PG15 WAL fixture.
#include "archive/mass_rows.hpp"

#include <catch2/catch.hpp>
#include <cstring>

#include "../wal/wal_fixtures.hpp"
#include "archive/wal_indexer.hpp"
#include "format/index.hpp"
#include "storage/memory_storage.hpp"

namespace {

using namespace walvault;
using test::wal_fixture;

repo::RepoConfig fixture_config() {
  repo::RepoConfig c;
  std::memcpy(&c.system_identifier, wal_fixture().bytes.data() + 24, 8);
  c.pg_version = 150000;
  c.segment_size = test::kFixtureSegmentSize;
  c.timeline = wal::TimelineId(1);
  return c;
}

void index_fixture(storage::Storage& storage, uint64_t mass_rows) {
  archive::WalIndexer indexer(storage, fixture_config(), mass_rows);
  const auto& f = wal_fixture();
  indexer.restart(wal::TimelineId(1), f.start);
  indexer.feed(f.start, f.bytes);
  indexer.publish(f.start + f.bytes.size());
}

}  // namespace

TEST_CASE("mass-row schedule: the threshold in effect at each LSN", "[archive][events]") {
  archive::MassRowsSchedule schedule;
  CHECK(schedule.at(wal::Lsn(0x5000)) == wal::kDefaultMassRowsThreshold);
  CHECK(schedule.next_change(wal::Lsn(0)) == wal::Lsn(UINT64_MAX));
  schedule.set(wal::Lsn(0x1000), 5);
  schedule.set(wal::Lsn(0x3000), 2000);
  CHECK(schedule.at(wal::Lsn(0xFFF)) == wal::kDefaultMassRowsThreshold);
  CHECK(schedule.at(wal::Lsn(0x1000)) == 5);
  CHECK(schedule.at(wal::Lsn(0x2FFF)) == 5);
  CHECK(schedule.at(wal::Lsn(0x3000)) == 2000);
  CHECK(schedule.next_change(wal::Lsn(0x1000)) == wal::Lsn(0x3000));
  CHECK(schedule.next_change(wal::Lsn(0x3000)) == wal::Lsn(UINT64_MAX));
  CHECK(archive::MassRowsSchedule(7).at(wal::Lsn(0)) == 7);
  schedule.set(wal::Lsn(0x2000), 9);  // replaces the later change
  CHECK(schedule.at(wal::Lsn(0x1FFF)) == 5);
  CHECK(schedule.at(wal::Lsn(0x3000)) == 9);
}

TEST_CASE("mass-row threshold objects round-trip and damage is named", "[archive][events]") {
  const archive::MassRowsChange change{wal::TimelineId(2), wal::Lsn(0x4019D50), 5};
  const auto back = archive::decode_mass_rows(archive::encode_mass_rows(change), format::SealRule::kRequired);
  REQUIRE(back);
  CHECK(*back == change);

  storage::MemoryStorage storage;
  archive::record_mass_rows(storage, change);
  const auto schedule = archive::read_mass_rows_schedule(storage, wal::TimelineId(2));
  REQUIRE(schedule);
  CHECK(schedule->at(wal::Lsn(0x4019D50)) == 5);
  CHECK(archive::read_mass_rows_schedule(storage, wal::TimelineId(1))->at(wal::Lsn(0x4019D50)) == 1000);

  const std::string name = format::mass_rows_object_name(wal::TimelineId(2), wal::Lsn(0x5000000));
  CHECK(name == "index/00000002/mass-rows-0000000005000000.json");
  const std::string text = "{\"mass_rows\": 5}";
  storage.write_atomic(name, std::as_bytes(std::span(text)));
  const auto damaged = archive::read_mass_rows_schedule(storage, wal::TimelineId(2));
  REQUIRE_FALSE(damaged);
  CHECK(damaged.error().object == name);
  CHECK(damaged.error().message.starts_with(name + " is damaged: it "));
}

TEST_CASE("the indexer records its --mass-rows before the first commit it adds", "[archive][events]") {
  storage::MemoryStorage storage;
  const auto recorded = [&] { return storage.list("index/00000001/mass-rows-"); };

  index_fixture(storage, wal::kDefaultMassRowsThreshold);
  CHECK(recorded().empty());  // the default needs no record

  storage::MemoryStorage changed;
  index_fixture(changed, 5);
  const auto objects = changed.list("index/00000001/mass-rows-");
  REQUIRE(objects.size() == 1);
  const auto schedule = archive::read_mass_rows_schedule(changed, wal::TimelineId(1));
  REQUIRE(schedule);
  CHECK(schedule->at(wal_fixture().start) == wal::kDefaultMassRowsThreshold);  // before the first commit
  CHECK(schedule->at(wal_fixture().start + wal_fixture().bytes.size()) == 5);

  // The same WAL again (a restart): every commit is in the index already, nothing new is recorded.
  index_fixture(changed, 7);
  CHECK(changed.list("index/00000001/mass-rows-").size() == 1);
}
