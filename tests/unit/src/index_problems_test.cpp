// Nothing the indexer cannot read is dropped silently: WAL it cannot decode, and commit records that do not parse in
// the repository's PostgreSQL version, become index problem objects that verify reports and expire removes.
// The WAL is the real PG15 fixture, read by a repository that says it holds PostgreSQL 18 WAL: as is (foreign
// magic: undecodable), and relabelled with PG18's page magic (its commits that drop statistics carry 12-byte items,
// which PG18's 16-byte layout cannot parse). Expire's part is in retention_test.
#include <catch2/catch.hpp>

#include <cstring>
#include <set>
#include <string>

#include "archive/index_problems.hpp"
#include "archive/verifier.hpp"
#include "archive/wal_indexer.hpp"
#include "format/index.hpp"
#include "storage/memory_storage.hpp"
#include "wal/decoder.hpp"
#include "wal/events.hpp"
#include "wal/page.hpp"
#include "../wal/wal_fixtures.hpp"

namespace {

using namespace walvault;
using test::kFixtureSegmentSize;
using test::wal_fixture;

repo::RepoConfig pg18_config() {
  repo::RepoConfig c;
  std::memcpy(&c.system_identifier, wal_fixture().bytes.data() + 24, 8);
  c.pg_version = 180004;
  c.segment_size = kFixtureSegmentSize;
  c.timeline = wal::TimelineId(1);
  return c;
}

// The fixture with every page header's magic replaced (the record CRCs do not cover page headers).
std::vector<std::byte> relabelled(uint16_t magic) {
  std::vector<std::byte> bytes = wal_fixture().bytes;
  for (size_t page = 0; page < bytes.size(); page += wal::kWalPageSize) std::memcpy(bytes.data() + page, &magic, 2);
  return bytes;
}

std::vector<archive::IndexProblem> index_all(storage::MemoryStorage& storage, std::span<const std::byte> bytes) {
  archive::WalIndexer indexer(storage, pg18_config());
  const wal::Lsn start = wal_fixture().start;
  indexer.restart(wal::TimelineId(1), start);
  indexer.feed(start, bytes);
  indexer.publish(start + bytes.size());
  return archive::read_index_problems(storage);
}

// The commit records of the fixture that drop statistics entries (read as what they are, PG15 WAL).
std::set<std::string> commits_dropping_stats() {
  std::set<std::string> out;
  const auto format = *wal::wal_format_for_major(15);
  wal::BufferSource source(wal_fixture().start, wal_fixture().bytes);
  wal::DecoderConfig dc;
  dc.segment_size = kFixtureSegmentSize;
  wal::Reader reader(source, dc, wal_fixture().start);
  for (auto step = reader.next(); step.status == wal::Status::kRecord; step = reader.next()) {
    const auto f = wal::parse_xact_finish(*step.record, format);
    if (f && f->ndropped_stats > 0) out.insert(step.record->lsn.to_string());
  }
  return out;
}

}  // namespace

TEST_CASE("commit records that do not parse in the repository's version are recorded and reported",
          "[archive][index]") {
  storage::MemoryStorage storage;
  const auto problems = index_all(storage, relabelled(0xD118));
  const auto dropping = commits_dropping_stats();
  REQUIRE_FALSE(dropping.empty());
  REQUIRE_FALSE(problems.empty());
  for (const auto& p : problems) {
    INFO(p.message);
    CHECK(p.kind == "unparsable_commit");
    CHECK(dropping.contains(p.lsn.to_string()));
    CHECK(p.message.find("does not parse as PostgreSQL 18 wal") != std::string::npos);
    CHECK(p.until > p.lsn);
  }

  // verify names every one of them.
  const auto report = archive::verify_repository(storage, pg18_config(), {}, archive::VerifyOptions{true, {}, nullptr});
  size_t reported = 0;
  for (const auto& p : report.problems) {
    if (p.kind == archive::ProblemKind::kIndex && format::parse_problem_object_name(p.object)) ++reported;
  }
  CHECK(reported == problems.size());

  // A second indexing of the same WAL writes the same objects (no conflict, no duplicates).
  CHECK(index_all(storage, relabelled(0xD118)) == problems);

}

TEST_CASE("wal of another PostgreSQL version than the repository's is recorded as undecodable", "[archive][index]") {
  storage::MemoryStorage storage;
  const auto problems = index_all(storage, wal_fixture().bytes);
  REQUIRE_FALSE(problems.empty());
  const size_t segments = wal_fixture().bytes.size() / kFixtureSegmentSize;
  CHECK(problems.size() == segments);  // decoding resumes, and fails again, at every segment start
  for (const auto& p : problems) {
    INFO(p.message);
    CHECK(p.kind == "undecodable_wal");
    CHECK(p.message.find("wal of PostgreSQL 15 where PostgreSQL 18 wal was expected") != std::string::npos);
    CHECK(wal::segment_offset(p.until, kFixtureSegmentSize) == 0);
  }
}

TEST_CASE("index problem objects round-trip and only their own names parse", "[archive][index]") {
  const archive::IndexProblem p{wal::TimelineId(3), wal::Lsn(0x1234567890), wal::Lsn(0x1234568000),
                                "unparsable_commit", "the commit record at 12/34567890 does not parse"};
  const auto name = format::problem_object_name(p.timeline, p.lsn);
  CHECK(name == "index/00000003/problem-0000001234567890.json");
  const auto parsed = format::parse_problem_object_name(name);
  REQUIRE(parsed);
  CHECK(parsed->timeline == p.timeline);
  CHECK(parsed->lsn == p.lsn);
  CHECK(archive::decode_index_problem(archive::encode_index_problem(p), format::SealRule::kRequired).value() == p);
  CHECK_FALSE(format::parse_problem_object_name("index/00000003/run-0000000000000000-0000000001000000.wvi"));
  CHECK_FALSE(format::parse_problem_object_name("index/00000000/problem-0000001234567890.json"));
  CHECK_FALSE(format::parse_problem_object_name("index/00000003/problem-00000012345678ZZ.json"));
  CHECK(archive::decode_index_problem("{\"timeline\": 3}", format::SealRule::kLegacyAccepted).error() ==
        "does not hold an index problem's fields");
}
