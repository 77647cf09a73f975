#include "pg/base_backup.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using walvault::pg::ArchiveData;
using walvault::pg::ManifestStart;
using walvault::pg::NewArchive;
using walvault::pg::parse_copy_message;
using walvault::pg::Progress;

namespace {

std::vector<std::byte> bytes(const std::string& text) {
  std::vector<std::byte> out;
  for (const char c : text) out.push_back(static_cast<std::byte>(c));
  return out;
}

}  // namespace

TEST_CASE("BASE_BACKUP command uses PG15 option syntax", "[pg][base_backup]") {
  const auto fast = walvault::pg::base_backup_command({"it's mine", true});
  CHECK(fast ==
        "BASE_BACKUP (LABEL 'it''s mine', PROGRESS, CHECKPOINT 'fast', WAL false, WAIT false, MANIFEST 'yes', "
        "MANIFEST_CHECKSUMS 'CRC32C', TABLESPACE_MAP false)");
  CHECK(walvault::pg::base_backup_command({"x", false}).find("CHECKPOINT 'spread'") != std::string::npos);
}

TEST_CASE("BASE_BACKUP CopyData messages decode", "[pg][base_backup]") {
  SECTION("new archive") {
    const auto msg = parse_copy_message(bytes(std::string("nbase.tar\0\0", 11)));
    REQUIRE(msg);
    const auto* archive = std::get_if<NewArchive>(&*msg);
    REQUIRE(archive != nullptr);
    CHECK(archive->name == "base.tar");
    CHECK(archive->tablespace_path.empty());
    const auto ts = parse_copy_message(bytes(std::string("n16384.tar\0/srv/ts1\0", 20)));
    REQUIRE(ts);
    CHECK(std::get<NewArchive>(*ts).tablespace_path == "/srv/ts1");
  }
  SECTION("data keeps its bytes, including NULs") {
    const auto raw = bytes(std::string("d\0ab\0", 5));
    const auto msg = parse_copy_message(raw);
    REQUIRE(msg);
    const auto data = std::get<ArchiveData>(*msg).bytes;
    CHECK(data.size() == 4);
    CHECK(data.data() == raw.data() + 1);
  }
  SECTION("progress is a big-endian int64") {
    const auto msg = parse_copy_message(bytes(std::string("p\0\0\0\0\x01\xDE\x5C\x00", 9)));
    REQUIRE(msg);
    CHECK(std::get<Progress>(*msg).bytes_done == 31349760);
  }
  SECTION("manifest start") {
    const auto msg = parse_copy_message(bytes("m"));
    REQUIRE(msg);
    CHECK(std::holds_alternative<ManifestStart>(*msg));
  }
  SECTION("malformed messages are errors") {
    CHECK_FALSE(parse_copy_message({}));
    CHECK(parse_copy_message(bytes("p\x01")).error() == "'p' message of 2 bytes, expected 9");
    CHECK(parse_copy_message(bytes("nbase.tar")).error() == "truncated 'n' message");
    CHECK(parse_copy_message(bytes(std::string("n\0\0", 3))).error() == "'n' message with an empty archive name");
    CHECK(parse_copy_message(bytes(std::string("nb\0\0x", 5))).error() == "trailing bytes in 'n' message");
    CHECK(parse_copy_message(bytes("mx")).error() == "trailing bytes in 'm' message");
    CHECK(parse_copy_message(bytes("z")).error() == "unknown message type 0x7a");
  }
}
