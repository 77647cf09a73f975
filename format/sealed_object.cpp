#include "format/sealed_object.hpp"

#include <charconv>
#include <cstdio>
#include <optional>
#include <span>

#include "format/checksum.hpp"

namespace walvault::format {
namespace {

constexpr std::size_t kHexDigits = 16;

std::string hex64(uint64_t value) {
  char buf[kHexDigits + 1];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(value));
  return buf;
}

uint64_t checksum_of(std::string_view text) { return checksum(std::as_bytes(std::span(text.data(), text.size()))); }

// 16 lower-case hex digits, exactly.
std::optional<uint64_t> parse_hex64(std::string_view text) {
  if (text.size() != kHexDigits) return std::nullopt;
  for (const char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
  }
  uint64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value, 16);
  return value;
}

// The canonical form: compact, members sorted (nlohmann::json's std::map), strict UTF-8. nullopt when a string is
// not valid UTF-8 (the parser already refuses that; this keeps dump() from throwing).
std::optional<uint64_t> canonical_checksum(const nlohmann::json& object) {
  try {
    return checksum_of(object.dump());
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

std::string mismatch(uint64_t stored, uint64_t computed) {
  return "fails its checksum (stored " + hex64(stored) + ", computed " + hex64(computed) + ")";
}

}  // namespace

std::string seal_json(nlohmann::ordered_json object, int indent) {
  object.erase(std::string(kSealMember));
  object[std::string(kSealMember)] = hex64(checksum_of(nlohmann::json(object).dump()));
  return object.dump(indent) + "\n";
}

Expected<OpenedJson, std::string> open_sealed_json(std::string_view text, SealRule rule) {
  if (text.empty()) return Unexpected(std::string("is empty"));
  OpenedJson out;
  out.value = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!out.value.is_object()) return Unexpected(std::string("is not a JSON object"));
  const auto it = out.value.find(kSealMember);
  if (it == out.value.end()) {
    if (rule == SealRule::kRequired) return Unexpected(std::string("has no checksum"));
    out.state = SealState::kLegacy;
    return out;
  }
  const auto stored = it->is_string() ? parse_hex64(it->get_ref<const std::string&>()) : std::nullopt;
  if (!stored) return Unexpected(std::string("has a malformed checksum"));
  out.value.erase(it);
  const auto computed = canonical_checksum(out.value);
  if (!computed) return Unexpected(std::string("is not valid UTF-8"));
  if (*computed != *stored) return Unexpected(mismatch(*stored, *computed));
  return out;
}

std::string seal_text(std::string_view text) {
  return std::string(kSealLinePrefix) + hex64(checksum_of(text)) + "\n" + std::string(text);
}

Expected<OpenedText, std::string> open_sealed_text(std::string_view bytes, SealRule rule) {
  if (bytes.empty()) return Unexpected(std::string("is empty"));
  if (!bytes.starts_with(kSealLinePrefix)) {
    if (rule == SealRule::kRequired) return Unexpected(std::string("has no checksum line"));
    return OpenedText{bytes, SealState::kLegacy};
  }
  const std::size_t line_end = kSealLinePrefix.size() + kHexDigits;
  const auto stored = parse_hex64(bytes.substr(kSealLinePrefix.size(), kHexDigits));
  if (!stored || bytes.size() <= line_end || bytes[line_end] != '\n') {
    return Unexpected(std::string("has a malformed checksum line"));
  }
  const std::string_view text = bytes.substr(line_end + 1);
  if (const uint64_t computed = checksum_of(text); computed != *stored) return Unexpected(mismatch(*stored, computed));
  return OpenedText{text, SealState::kSealed};
}

}  // namespace walvault::format
