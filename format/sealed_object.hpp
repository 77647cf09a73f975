// Sealed objects: the checksum that makes a repository's small text objects as trustworthy as its binary ones
// (FORMAT.md, "Sealed objects").
//
// A sealed JSON object carries a member "checksum": the xxh3-64 (format/checksum.hpp), as 16 lower-case hex digits,
// of the object's canonical form without that member: nlohmann::json's compact dump, members sorted by key in
// byte order at every level. Member order and whitespace are therefore free (the stream state pads with spaces).
// A sealed text object (a timeline history file, which PostgreSQL reads) starts with one comment line,
// "# walvault checksum <16 hex>\n", holding the xxh3-64 of every byte after it; PostgreSQL skips '#' lines, and the
// bytes after that line are exactly the original text, which is what walvault serves.
//
// Opening an object says whether it is valid and sealed, valid but unsealed (written before seals existed: only
// accepted under SealRule::kLegacyAccepted, the rule of a repository whose walvault.json predates seals), or
// damaged (a message naming what is wrong; the caller names the object). Pure: no IO, nothing throws; the returned
// JSON and text are owned by the result (text: a view into the caller's bytes, valid as long as they are).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "wal/expected.hpp"

namespace walvault::format {

inline constexpr std::string_view kSealMember = "checksum";
inline constexpr std::string_view kSealLinePrefix = "# walvault checksum ";

// Whether an object without a seal is accepted as written before seals existed, or is damage.
enum class SealRule { kLegacyAccepted, kRequired };
enum class SealState { kSealed, kLegacy };

// `object` (a JSON object without a "checksum" member) with its checksum member added last, dumped with `indent`
// (-1: compact), ending in '\n'.
[[nodiscard]] std::string seal_json(nlohmann::ordered_json object, int indent = -1);

struct OpenedJson {
  nlohmann::json value;  // the object without its checksum member
  SealState state = SealState::kSealed;
};
// Parses and checks a sealed JSON object. Errors (one line, lower case): "is empty", "is not a JSON object",
// "has no checksum", "has a malformed checksum", "fails its checksum (stored X, computed Y)".
[[nodiscard]] Expected<OpenedJson, std::string> open_sealed_json(std::string_view text, SealRule rule);

// The checksum line followed by `text`.
[[nodiscard]] std::string seal_text(std::string_view text);

struct OpenedText {
  std::string_view text;  // the original text: the bytes after the checksum line, or all of them when legacy
  SealState state = SealState::kSealed;
};
// Checks a sealed text object. Errors: "is empty", "has no checksum line", "has a malformed checksum line",
// "fails its checksum (stored X, computed Y)".
[[nodiscard]] Expected<OpenedText, std::string> open_sealed_text(std::string_view bytes, SealRule rule);

}  // namespace walvault::format
