#include <catch2/catch.hpp>

#include "archive/backoff.hpp"
#include "archive/relation_names.hpp"
#include "archive/stream_state.hpp"
#include "common/clock.hpp"

using namespace walvault;
using namespace std::chrono_literals;

TEST_CASE("backoff doubles from 1 s up to 30 s and resets", "[archive]") {
  archive::Backoff b;
  std::vector<long> seen;
  for (int i = 0; i < 8; ++i) seen.push_back(static_cast<long>(b.next().count()));
  CHECK(seen == std::vector<long>{1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000});
  b.reset();
  CHECK(b.next() == 1000ms);
}

TEST_CASE("the stream state record has a fixed size and round-trips", "[archive]") {
  archive::StreamState s;
  s.pid = 4242;
  s.timeline = wal::TimelineId(2);
  s.segment = "000000020000000000000004";
  s.durable_lsn = wal::Lsn(0x4019D50);
  s.received_lsn = wal::Lsn(0x401A000);
  s.server_lsn = wal::Lsn(0x5000000);
  s.updated = "2026-11-21T04:15:59.705207Z";
  s.caught_up = "2026-11-21T04:15:58.000000Z";
  s.last_commit_time = "2026-11-21T04:15:57.000001Z";
  s.last_commit_lsn = wal::Lsn(0x4019000);
  const std::string text = archive::encode_stream_state(s);
  CHECK(text.size() == archive::kStreamStateSize);
  CHECK(text.back() == '\n');
  constexpr auto kRequired = format::SealRule::kRequired;
  CHECK(archive::decode_stream_state(text, kRequired).value() == s);
  CHECK(archive::decode_stream_state(text.substr(0, 1000), kRequired).error() == "is 1000 bytes long, not 1024");
  CHECK(archive::decode_stream_state("", kRequired).error() == "is 0 bytes long, not 1024");
  CHECK(archive::decode_stream_state(std::string(1024, '\0'), kRequired).error() ==
        "has damaged padding after its JSON object");
  // Every single-bit flip anywhere in the record is damage, the padding's included (a JSON parser stops at NUL).
  for (std::size_t at = 0; at < text.size(); ++at) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string damaged = text;
      damaged[at] = static_cast<char>(damaged[at] ^ (1 << bit));
      INFO("byte " << at << " bit " << bit);
      CHECK_FALSE(archive::decode_stream_state(damaged, kRequired));
    }
  }
  std::string flipped = text;
  flipped[flipped.find("0/4019D50")] = '1';
  CHECK(archive::decode_stream_state(flipped, kRequired).error().starts_with("fails its checksum"));
}

TEST_CASE("a durable end counts for the slot only once the streamer has a tip", "[archive]") {
  CHECK_FALSE(archive::positioned_durable_lsn(std::nullopt));
  archive::StreamState state;
  state.durable_lsn = wal::Lsn(0x3000000);
  CHECK_FALSE(archive::positioned_durable_lsn(state));  // written before the first segment was opened
  state.segment = "000000010000000000000003";
  CHECK(archive::positioned_durable_lsn(state) == wal::Lsn(0x3000000));
}

TEST_CASE("times print and parse as ISO 8601 UTC with microseconds", "[common]") {
  const auto t = from_pg_timestamp(817013759705207);
  const std::string text = format_time(t);
  CHECK(parse_time(text) == t);
  CHECK(format_time(from_pg_timestamp(0)) == "2000-01-01T00:00:00.000000Z");
  CHECK(to_pg_timestamp(*parse_time("2000-01-01T00:00:01.5Z")) == 1500000);
  CHECK_FALSE(parse_time("2000-01-01 00:00:00Z"));
  CHECK_FALSE(parse_time("2000-13-01T00:00:00Z"));
  CHECK_FALSE(parse_time("2000-01-01T00:00:00"));
}

TEST_CASE("relation name snapshots round-trip and name the relations of events", "[archive]") {
  archive::NameSnapshot s;
  s.lsn = wal::Lsn(0x9D17540);
  s.databases = {{5, "postgres"}, {16418, "shop"}};
  s.relations = {{{5, 16396}, "public.accounts"}, {{5, 16400}, "app.orders"}};
  CHECK(archive::decode_name_snapshot(archive::encode_name_snapshot(s), format::SealRule::kRequired).value() == s);
  CHECK(archive::decode_name_snapshot("{\"lsn\":\"x\"}", format::SealRule::kLegacyAccepted).error() ==
        "does not hold a snapshot's fields");

  wal::Event drop;
  drop.kind = wal::EventKind::kDropTable;
  drop.relfilenodes = {{1663, 5, 16400}, {1663, 5, 99999}};
  CHECK(archive::names_for(s, drop) == std::vector<std::string>{"postgres.app.orders"});
  wal::Event dropdb;
  dropdb.kind = wal::EventKind::kDropDatabase;
  dropdb.db = 16418;
  CHECK(archive::names_for(s, dropdb) == std::vector<std::string>{"shop"});

  // drop_column names tables by oid: a snapshot without oids (stored before they were) takes the relfilenode for
  // the oid (a table never rewritten); one with oids knows a rewritten table too.
  wal::Event column;
  column.kind = wal::EventKind::kDropColumn;
  column.rel_oids = {{5, 16396}};
  CHECK(archive::names_for(s, column) == std::vector<std::string>{"postgres.public.accounts"});
  s.oids = {{{5, 16396}, 16390}, {{5, 16400}, 16400}};  // accounts was rewritten: relfilenode 16396, oid 16390
  CHECK(archive::decode_name_snapshot(archive::encode_name_snapshot(s), format::SealRule::kRequired).value() == s);
  CHECK(archive::names_for(s, column).empty());
  column.rel_oids = {{5, 16390}};
  CHECK(archive::names_for(s, column) == std::vector<std::string>{"postgres.public.accounts"});
  CHECK(archive::relation_name_by_oid(s, 5, 16400) == "app.orders");
}

TEST_CASE("conninfo is rewritten for another database", "[archive]") {
  CHECK(archive::conninfo_for_database("host=db port=5433 dbname=x", "shop") == "host='db' port='5433' dbname='shop'");
  CHECK(archive::conninfo_for_database("postgresql://u@h:5/x", "it's") == "user='u' host='h' port='5' dbname='it\\'s'");
}
