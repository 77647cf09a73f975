#include "format/sealed_object.hpp"

#include <catch2/catch.hpp>
#include <string>

using walvault::format::open_sealed_json;
using walvault::format::open_sealed_text;
using walvault::format::seal_json;
using walvault::format::seal_text;
using walvault::format::SealRule;
using walvault::format::SealState;

namespace {

nlohmann::ordered_json sample() {
  nlohmann::ordered_json j;
  j["lsn"] = "0/9D17540";
  j["databases"] = {{"5", "postgres"}, {"16418", "shöp"}};
  j["relations"] = nlohmann::ordered_json::array({nlohmann::ordered_json::array({5, 16396, "public.accounts"})});
  j["big"] = 18446744073709551615ULL;
  return j;
}

std::string error_of(std::string_view text, SealRule rule = SealRule::kRequired) {
  const auto opened = open_sealed_json(text, rule);
  return opened ? "valid" : opened.error();
}

}  // namespace

TEST_CASE("a sealed JSON object opens to its members, whatever its layout", "[format][sealed]") {
  const std::string text = seal_json(sample());
  CHECK(text.back() == '\n');
  CHECK(text.find("\"checksum\":\"") != std::string::npos);
  CHECK(text.rfind("\"checksum\"") > text.find("\"big\""));  // appended last
  const auto opened = open_sealed_json(text, SealRule::kRequired);
  REQUIRE(opened);
  CHECK(opened->state == SealState::kSealed);
  CHECK(opened->value == nlohmann::json(sample()));
  CHECK_FALSE(opened->value.contains("checksum"));
  // The checksum is of the canonical form: indentation, member order and padding do not matter.
  const std::string pretty = seal_json(sample(), 2);
  CHECK(open_sealed_json(pretty, SealRule::kRequired));
  CHECK(nlohmann::json::parse(pretty)["checksum"] == nlohmann::json::parse(text)["checksum"]);
  nlohmann::json reordered = nlohmann::json::parse(text);
  CHECK(open_sealed_json(reordered.dump(3) + std::string(100, ' '), SealRule::kRequired));
  // Sealing again replaces the seal rather than sealing it.
  nlohmann::ordered_json resealed = nlohmann::ordered_json::parse(text);
  CHECK(seal_json(resealed) == text);
}

TEST_CASE("a damaged sealed JSON object is refused, saying what is wrong", "[format][sealed]") {
  const std::string text = seal_json(sample());
  std::string flipped = text;
  flipped[text.find("9D17540")] = '8';
  CHECK(error_of(flipped).starts_with("fails its checksum (stored "));
  std::string key = text;
  key[text.find("relations") + 1] = 'a';  // a member renamed
  CHECK(error_of(key).starts_with("fails its checksum"));
  CHECK(error_of(text.substr(0, text.size() - 3)) == "is not a JSON object");  // truncated
  CHECK(error_of(std::string(text.size(), '\0')) == "is not a JSON object");   // zeroed
  CHECK(error_of("") == "is empty");
  CHECK(error_of("[1, 2]") == "is not a JSON object");
  std::string hex = text;
  hex.replace(hex.find("\"checksum\":\"") + 12, 1, "G");
  CHECK(error_of(hex) == "has a malformed checksum");
  CHECK(error_of(R"({"a":1,"checksum":7})") == "has a malformed checksum");
  // Every single-byte flip is caught: none opens to other content.
  const nlohmann::json original = nlohmann::json(sample());
  for (std::size_t i = 0; i < text.size(); ++i) {
    for (const int bit : {0x01, 0x20, 0x80}) {
      std::string damaged = text;
      damaged[i] = static_cast<char>(static_cast<unsigned char>(damaged[i]) ^ bit);
      const auto opened = open_sealed_json(damaged, SealRule::kRequired);
      if (opened) CHECK(opened->value == original);  // e.g. whitespace that stays whitespace
    }
  }
}

TEST_CASE("an unsealed JSON object is legacy where the repository allows it, damage where it does not",
          "[format][sealed]") {
  const std::string legacy = nlohmann::json(sample()).dump();
  const auto opened = open_sealed_json(legacy, SealRule::kLegacyAccepted);
  REQUIRE(opened);
  CHECK(opened->state == SealState::kLegacy);
  CHECK(opened->value == nlohmann::json(sample()));
  CHECK(error_of(legacy, SealRule::kRequired) == "has no checksum");
  // A seal, once there, is always checked.
  std::string flipped = seal_json(sample());
  flipped[flipped.find("9D17540")] = '8';
  CHECK(error_of(flipped, SealRule::kLegacyAccepted).starts_with("fails its checksum"));
}

TEST_CASE("a sealed text keeps the original bytes after its checksum line", "[format][sealed]") {
  const std::string history = "1\t0/4000000\tno recovery target specified\n\n2\t0/5000000\tbefore 2026-11-21\n";
  const std::string sealed = seal_text(history);
  CHECK(sealed.starts_with("# walvault checksum "));
  CHECK(sealed.find('\n') == 36);
  const auto opened = open_sealed_text(sealed, SealRule::kRequired);
  REQUIRE(opened);
  CHECK(opened->state == SealState::kSealed);
  CHECK(opened->text == history);
  CHECK(open_sealed_text(seal_text(""), SealRule::kRequired)->text.empty());

  const auto error = [](std::string_view bytes, SealRule rule = SealRule::kRequired) {
    const auto o = open_sealed_text(bytes, rule);
    return o ? "valid" : o.error();
  };
  for (std::size_t i = 0; i < sealed.size(); ++i) {
    std::string damaged = sealed;
    damaged[i] = static_cast<char>(damaged[i] ^ 0x04);
    CHECK(error(damaged) != "valid");
  }
  CHECK(error(sealed.substr(0, sealed.size() - 5)).starts_with("fails its checksum"));  // truncated
  CHECK(error(sealed.substr(0, 30)) == "has a malformed checksum line");
  CHECK(error(std::string(sealed.size(), '\0')) == "has no checksum line");  // zeroed
  CHECK(error("") == "is empty");
  CHECK(error("", SealRule::kLegacyAccepted) == "is empty");
  CHECK(error(history) == "has no checksum line");
  const auto legacy = open_sealed_text(history, SealRule::kLegacyAccepted);
  REQUIRE(legacy);
  CHECK(legacy->state == SealState::kLegacy);
  CHECK(legacy->text == history);
}
