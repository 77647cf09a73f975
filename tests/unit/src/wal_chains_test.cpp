#include "repo/wal_chains.hpp"

#include <catch2/catch.hpp>

#include "storage/memory_storage.hpp"

using walvault::ErrorCode;
using walvault::repo::ChainBreak;
using walvault::wal::Lsn;
using walvault::wal::TimelineId;

namespace {

constexpr uint64_t kSeg = 16U << 20;

ChainBreak chain_break(uint64_t start_segment, std::optional<Lsn> previous_end) {
  ChainBreak b;
  b.timeline = TimelineId(1);
  b.start = Lsn(start_segment * kSeg);
  b.previous_timeline = TimelineId(1);
  b.previous_end = previous_end;
  b.slot = "walvault_repo";
  b.created = "2026-12-07T06:00:00.000000Z";
  b.reason = "the replication slot was invalidated";
  return b;
}

}  // namespace

TEST_CASE("chain breaks: written once, read back in LSN order, damage is an error", "[repo][chains]") {
  walvault::storage::MemoryStorage storage;
  CHECK(walvault::repo::read_chain_breaks(storage).empty());
  CHECK_FALSE(walvault::repo::newest_chain_break(storage));
  walvault::repo::write_chain_break(storage, chain_break(9, Lsn(5 * kSeg + 0x80)));
  walvault::repo::write_chain_break(storage, chain_break(4, std::nullopt));
  const auto breaks = walvault::repo::read_chain_breaks(storage);
  REQUIRE(breaks.size() == 2);
  CHECK(breaks[0].start == Lsn(4 * kSeg));
  CHECK_FALSE(breaks[0].previous_end);
  CHECK(breaks[1].previous_end == Lsn(5 * kSeg + 0x80));
  CHECK(breaks[1].reason == "the replication slot was invalidated");
  CHECK(walvault::repo::newest_chain_break(storage)->start == Lsn(9 * kSeg));
  CHECK(breaks[1].declares(Lsn(5 * kSeg + 0x80), Lsn(9 * kSeg)));
  CHECK_FALSE(breaks[1].declares(Lsn(5 * kSeg), Lsn(9 * kSeg)));
  CHECK_FALSE(breaks[1].declares(Lsn(5 * kSeg + 0x80), Lsn(9 * kSeg + 1)));

  // One flipped byte: the break is named, never skipped.
  const std::string name = storage.list("chains/").back().name;
  auto bytes = storage.read(name);
  bytes[bytes.size() / 2] ^= std::byte{1};
  storage.remove(name);
  storage.write_atomic(name, bytes);
  try {
    (void)walvault::repo::read_chain_breaks(storage);
    FAIL("a damaged chain break was read");
  } catch (const walvault::Error& e) {
    CHECK(e.code() == ErrorCode::kCorrupt);
    CHECK(std::string(e.what()).find(name) != std::string::npos);
  }
}

TEST_CASE("chain breaks: the slot's expected position, and the backup the newest break needs", "[repo][chains]") {
  const std::vector<ChainBreak> breaks{chain_break(9, Lsn(5 * kSeg + 0x80))};
  CHECK(walvault::repo::slot_needed_from(Lsn(5 * kSeg + 0x80), breaks) == Lsn(9 * kSeg));
  CHECK(walvault::repo::slot_needed_from(std::nullopt, breaks) == Lsn(9 * kSeg));
  CHECK(walvault::repo::slot_needed_from(Lsn(10 * kSeg), breaks) == Lsn(10 * kSeg));
  CHECK(walvault::repo::slot_needed_from(Lsn(3 * kSeg), {}) == Lsn(3 * kSeg));

  CHECK_FALSE(walvault::repo::chain_without_backup({}, {}));
  const auto unbacked = walvault::repo::chain_without_backup(breaks, {Lsn(2 * kSeg)});
  REQUIRE(unbacked);
  CHECK(unbacked->find("no backup since the WAL chain restarted at 0/9000000") != std::string::npos);
  CHECK_FALSE(walvault::repo::chain_without_backup(breaks, {Lsn(2 * kSeg), Lsn(9 * kSeg + 0x28)}));
}
