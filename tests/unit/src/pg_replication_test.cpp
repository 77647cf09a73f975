#include <catch2/catch.hpp>
#include <vector>

#include "pg/replication.hpp"
#include "pg/sql_text.hpp"

using namespace walvault;
using walvault::pg::Keepalive;
using walvault::pg::XLogData;

namespace {

std::vector<std::byte> bytes(std::initializer_list<int> values) {
  std::vector<std::byte> out;
  for (const int v : values) out.push_back(static_cast<std::byte>(v));
  return out;
}

}  // namespace

TEST_CASE("XLogData messages parse big-endian positions and keep the WAL bytes", "[pg][replication]") {
  const auto m = bytes({'w', 0, 0, 0, 0, 0x04, 0x01, 0x9D, 0x50,   // dataStart 0/4019D50
                        0, 0, 0, 1, 0, 0, 0, 0,                      // walEnd 1/0
                        0, 0, 0, 0, 0, 0, 0x01, 0x00,                // sendTime 256
                        0xAA, 0xBB});
  const auto parsed = pg::parse_server_message(m);
  REQUIRE(parsed);
  const auto& d = std::get<XLogData>(*parsed);
  CHECK(d.start == wal::Lsn(0x4019D50));
  CHECK(d.server_end.to_string() == "1/0");
  CHECK(d.send_time == 256);
  REQUIRE(d.bytes.size() == 2);
  CHECK(d.bytes[0] == std::byte{0xAA});
  CHECK(d.bytes.data() == m.data() + 25);
}

TEST_CASE("keepalives parse the reply request", "[pg][replication]") {
  auto m = bytes({'k', 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 5, 1});
  auto parsed = pg::parse_server_message(m);
  REQUIRE(parsed);
  CHECK(std::get<Keepalive>(*parsed).server_end == wal::Lsn(0x1000));
  CHECK(std::get<Keepalive>(*parsed).send_time == 5);
  CHECK(std::get<Keepalive>(*parsed).reply_requested);
  m[17] = std::byte{0};
  CHECK_FALSE(std::get<Keepalive>(*pg::parse_server_message(m)).reply_requested);
}

TEST_CASE("truncated and unknown messages are rejected", "[pg][replication]") {
  CHECK_FALSE(pg::parse_server_message({}));
  CHECK_FALSE(pg::parse_server_message(bytes({'w', 0, 0})));
  CHECK_FALSE(pg::parse_server_message(bytes({'k', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})));
  CHECK_FALSE(pg::parse_server_message(bytes({'x', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})));
}

TEST_CASE("status updates encode write, flush, apply 0, time and the reply flag", "[pg][replication]") {
  const auto m = pg::encode_status_update(wal::Lsn(0x0102030405060708), wal::Lsn(0x4019D50), 0x1122, true);
  REQUIRE(m.size() == 34);
  CHECK(m[0] == std::byte{'r'});
  CHECK(m[1] == std::byte{0x01});
  CHECK(m[8] == std::byte{0x08});
  CHECK(m[13] == std::byte{0x04});
  CHECK(m[16] == std::byte{0x50});
  for (int i = 17; i < 25; ++i) CHECK(m[static_cast<std::size_t>(i)] == std::byte{0});
  CHECK(m[31] == std::byte{0x11});
  CHECK(m[32] == std::byte{0x22});
  CHECK(m[33] == std::byte{1});
  CHECK(pg::encode_status_update(wal::Lsn(1), wal::Lsn(1), 0, false)[33] == std::byte{0});
}

TEST_CASE("slot names are checked", "[pg][replication]") {
  CHECK(pg::valid_slot_name("walvault"));
  CHECK(pg::valid_slot_name("slot_2"));
  CHECK_FALSE(pg::valid_slot_name(""));
  CHECK_FALSE(pg::valid_slot_name("Walvault"));
  CHECK_FALSE(pg::valid_slot_name("a-b"));
  CHECK_FALSE(pg::valid_slot_name(std::string(64, 'a')));
}

TEST_CASE("SQL and conninfo quoting: identifiers, literals, conninfo values", "[pg]") {
  CHECK(pg::quote_identifier("walvault") == "\"walvault\"");
  CHECK(pg::quote_identifier("a\"b") == "\"a\"\"b\"");
  CHECK(pg::quote_qualified("public", "Users") == "\"public\".\"Users\"");
  CHECK(pg::quote_literal("it's") == "'it''s'");
  CHECK(pg::quote_literal("a\\b") == "'a\\b'");
  CHECK(pg::quote_conninfo_value("/tmp/o'k\\x") == "'/tmp/o\\'k\\\\x'");
}

TEST_CASE("idle_replication_slot_timeout: a warning only on PostgreSQL 18+ when it is not 0", "[pg][replication]") {
  using walvault::pg::idle_slot_timeout_warning;
  CHECK_FALSE(idle_slot_timeout_warning(180004, "0"));
  CHECK_FALSE(idle_slot_timeout_warning(180004, "0s"));
  CHECK_FALSE(idle_slot_timeout_warning(170010, "1d"));  // no such setting before 18
  CHECK_FALSE(idle_slot_timeout_warning(150018, "90min"));
  const auto warning = idle_slot_timeout_warning(180004, "90min");
  REQUIRE(warning);
  CHECK(warning->starts_with("the server's idle_replication_slot_timeout is 90min: PostgreSQL invalidates walvault's "
                             "slot once the streamer has been down that long"));
  CHECK(warning->find('\n') == std::string::npos);
  CHECK(idle_slot_timeout_warning(180004, "1d"));
  CHECK(idle_slot_timeout_warning(190000, "10s"));
  CHECK(idle_slot_timeout_warning(180004, ""));  // unreadable: warn rather than assume it is off
}

TEST_CASE("slot problems: gone, invalidated, or ahead of the repository by a segment or more", "[pg][slot]") {
  constexpr uint32_t kSeg = 16U << 20;
  const auto at = [](uint64_t segno, uint64_t offset) { return wal::Lsn(segno * kSeg + offset); };
  const pg::SlotInfo sound{at(5, 0x100), wal::TimelineId(1)};
  CHECK_FALSE(pg::slot_problem("s", sound, at(5, 0x80), kSeg));  // within the segment the streamer resumes in
  CHECK_FALSE(pg::slot_problem("s", sound, std::nullopt, kSeg));
  CHECK_FALSE(pg::slot_problem("s", sound, at(6, 0), kSeg));
  const auto ahead = pg::slot_problem("s", sound, at(4, 0xFFFF), kSeg);
  REQUIRE(ahead);
  CHECK(ahead->find("ahead of the repository's durable 0/400FFFF") != std::string::npos);
  const auto gone = pg::slot_problem("s", std::nullopt, at(5, 0), kSeg);
  REQUIRE(gone);
  CHECK(gone->find("does not exist") != std::string::npos);
  const auto invalidated = pg::slot_problem("s", pg::SlotInfo{}, at(5, 0), kSeg);
  REQUIRE(invalidated);
  CHECK(invalidated->find("reserves no WAL: it was invalidated") != std::string::npos);
}
