#include "wal/xact.hpp"

#include <catch2/catch.hpp>
#include <cstring>
#include <vector>

#include "wal/events.hpp"
#include "wal/page.hpp"
#include "wal/rmgr.hpp"

namespace wal = walvault::wal;

namespace {

// The main data of a COMMIT record as PostgreSQL's XactLogCommitRecord writes it: xl_xact_commit, xinfo, dbinfo,
// the dropped relation files, then `nstats` dropped-statistics items of `item_size` bytes, then invalidations.
std::vector<std::byte> commit_main_data(int32_t nstats, size_t item_size) {
  std::vector<std::byte> out;
  const auto put = [&](const auto& value) {
    const auto* p = reinterpret_cast<const std::byte*>(&value);
    out.insert(out.end(), p, p + sizeof value);
  };
  put(int64_t{849312000000000});                                   // xact_time
  put(uint32_t{0x01 | 0x04 | 0x08 | 0x100});                       // DBINFO | RELFILENODES | INVALS | DROPPED_STATS
  put(uint32_t{5});                                                // dbId
  put(uint32_t{1663});                                             // tsId
  put(int32_t{1});                                                 // nrels
  for (const uint32_t v : {1663U, 5U, 16384U}) put(v);             // RelFileLocator
  put(int32_t{nstats});
  for (int32_t i = 0; i < nstats; ++i) {
    std::vector<std::byte> item(item_size, std::byte{0});
    item[0] = std::byte{2};  // kind
    out.insert(out.end(), item.begin(), item.end());
  }
  put(int32_t{1});                                                 // ninvalmsgs
  for (int i = 0; i < 16; ++i) out.push_back(std::byte{0x7F});     // one SharedInvalidationMessage
  return out;
}

wal::Record commit_record(const std::vector<std::byte>& main_data) {
  wal::Record r;
  r.rmid = static_cast<uint8_t>(wal::Rmgr::kTransaction);
  r.info = static_cast<uint8_t>(wal::XactOp::kCommit) | wal::kXactHasInfo;
  r.xid = 740;
  r.main_data = main_data;
  return r;
}

}  // namespace

TEST_CASE("dropped-statistics items are 12 bytes up to PG17 and 16 from PG18 (0 to 6 items)", "[wal][xact]") {
  const auto pg17 = *wal::wal_format_for_major(17);
  const auto pg18 = *wal::wal_format_for_major(18);
  for (int32_t n = 0; n <= 6; ++n) {
    INFO(n << " items");
    const auto data17 = commit_main_data(n, 12);
    const auto data18 = commit_main_data(n, 16);
    const auto r17 = commit_record(data17);
    const auto r18 = commit_record(data18);
    const auto f17 = wal::parse_xact_finish(r17, pg17);
    const auto f18 = wal::parse_xact_finish(r18, pg18);
    REQUIRE(f17.has_value());
    REQUIRE(f18.has_value());
    for (const auto& f : {*f17, *f18}) {
      CHECK(f.ndropped_stats == static_cast<uint32_t>(n));
      CHECK(f.db == 5);
      REQUIRE(f.rels.size() == 1);
      CHECK(f.rels[0].rel == 16384);
      CHECK(f.ninvals == 1);
    }
  }
}

TEST_CASE("a commit record that does not parse is reported by the event tracker and never dropped", "[wal][xact]") {
  const auto pg18 = *wal::wal_format_for_major(18);
  const auto data = commit_main_data(2, 12);  // PG17's layout read as PG18's
  const auto record = commit_record(data);
  wal::EventTracker tracker(pg18);
  CHECK(tracker.observe(record) == wal::Observed::kMalformedFinish);
  CHECK(wal::describe(record, pg18).find("COMMIT (unparsable: ") == 0);
  const auto good = commit_main_data(2, 16);
  CHECK(tracker.observe(commit_record(good)) == wal::Observed::kFinished);
  CHECK(tracker.commit().xid == 740);
  CHECK(tracker.commit().dropped_rels.size() == 1);
}
