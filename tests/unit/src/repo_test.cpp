#include <catch2/catch.hpp>

#include "common/error.hpp"
#include "repo/repository.hpp"
#include "storage/memory_storage.hpp"

using namespace walvault;

namespace {

repo::RepoConfig sample() {
  repo::RepoConfig c;
  c.system_identifier = 7710473484541078289ULL;  // above 2^53: must survive as a string
  c.pg_version = 150018;
  c.segment_size = 16U << 20;
  c.timeline = wal::TimelineId(1);
  c.conninfo = "host=db user=walvault";
  c.slot = "walvault";
  c.created = "2026-11-21T04:59:59.705207Z";
  return c;
}

}  // namespace

TEST_CASE("walvault.json round-trips, keeping 64-bit identifiers exact", "[repo]") {
  const auto c = sample();
  const std::string text = repo::encode_config(c);
  CHECK(text.find("\"system_identifier\": \"7710473484541078289\"") != std::string::npos);
  CHECK(repo::decode_config(text) == c);

  storage::MemoryStorage storage;
  CHECK_FALSE(repo::read_config(storage));
  repo::write_config(storage, c);
  CHECK(repo::read_config(storage) == c);
  repo::write_config(storage, c);  // the same bytes again: fine
}

TEST_CASE("malformed walvault.json is a repository error", "[repo]") {
  CHECK_THROWS_AS(repo::decode_config("not json"), Error);
  CHECK_THROWS_AS(repo::decode_config("{}"), Error);
  auto bad = sample();
  bad.segment_size = 12345;
  CHECK_THROWS_AS(repo::decode_config(repo::encode_config(bad)), Error);
  auto future = sample();
  future.version = 9;
  try {
    (void)repo::decode_config(repo::encode_config(future));
    FAIL("accepted a future version");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::kRepository);
    CHECK(std::string(e.what()) == "walvault.json has version 9, this walvault reads versions 1 to 3");
  }
}

TEST_CASE("a repository refuses another cluster, naming both identifiers", "[repo]") {
  const auto c = sample();
  CHECK_NOTHROW(repo::check_system_identifier(c, c.system_identifier));
  try {
    repo::check_system_identifier(c, 42);
    FAIL("accepted a foreign cluster");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::kRepository);
    CHECK(std::string(e.what()) ==
          "repository belongs to database system 7710473484541078289, but the server is database system 42");
  }
}

TEST_CASE("server versions: 15 to 18 supported and every other major refused by name", "[repo]") {
  CHECK_NOTHROW(repo::check_server_version(150018));
  CHECK_NOTHROW(repo::check_server_version(160004));
  CHECK_NOTHROW(repo::check_server_version(170002));
  CHECK_NOTHROW(repo::check_server_version(180004));
  const auto refusal = [](int version) {
    try {
      repo::check_server_version(version);
    } catch (const Error& e) {
      CHECK(e.code() == ErrorCode::kConnection);
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  CHECK(refusal(140010) == "PostgreSQL 14 is not supported: walvault supports PostgreSQL 15 to 18");
  CHECK(refusal(130000) == "PostgreSQL 13 is not supported: walvault supports PostgreSQL 15 to 18");
  CHECK(refusal(190000) ==
        "PostgreSQL 19 (server_version_num 190000) is newer than walvault supports: walvault supports PostgreSQL 15 "
        "to 18");
  repo::RepoConfig config;
  config.pg_version = 180004;
  CHECK(repo::wal_format(config).dropped_stats_item_size == 16);
  config.pg_version = 140010;
  CHECK_THROWS_AS(repo::wal_format(config), Error);
}

TEST_CASE("connection strings with a password are refused", "[repo]") {
  CHECK_NOTHROW(repo::check_no_password("host=db user=walvault"));
  CHECK_NOTHROW(repo::check_no_password("postgresql://walvault@db/postgres"));
  CHECK_THROWS_AS(repo::check_no_password("host=db password=secret"), Error);
  CHECK_THROWS_AS(repo::check_no_password("postgresql://walvault:secret@db/postgres"), Error);
  try {
    repo::check_no_password("host=db password=secret");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::kUsage);
    CHECK(std::string(e.what()) == "the connection string contains a password");
    CHECK(e.hint().find("PGPASSWORD") != std::string::npos);
  }
}
