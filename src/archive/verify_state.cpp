#include "archive/verify_state.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/error.hpp"
#include "common/log.hpp"
#include "repo/repository.hpp"

namespace walvault::archive {
namespace {

using nlohmann::json;

constexpr std::string_view kStateName = "state-";
constexpr std::string_view kStateSuffix = ".json";
constexpr std::size_t kSequenceDigits = 20;

std::string hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// The sequence number of a state object name, or nullopt for other names.
std::optional<uint64_t> sequence_of(std::string_view name) {
  if (!name.starts_with(kVerifyStatePrefix)) return std::nullopt;
  name.remove_prefix(kVerifyStatePrefix.size());
  if (!name.starts_with(kStateName) || !name.ends_with(kStateSuffix)) return std::nullopt;
  const std::string_view digits = name.substr(kStateName.size(), name.size() - kStateName.size() - kStateSuffix.size());
  uint64_t n = 0;
  const auto r = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (digits.size() != kSequenceDigits || r.ec != std::errc() || r.ptr != digits.data() + digits.size()) {
    return std::nullopt;
  }
  return n;
}

std::string state_object_name(uint64_t sequence) {
  std::string digits = std::to_string(sequence);
  digits.insert(0, kSequenceDigits - digits.size(), '0');
  return std::string(kVerifyStatePrefix) + std::string(kStateName) + digits + std::string(kStateSuffix);
}

// The state objects, lowest sequence first.
std::vector<std::pair<uint64_t, std::string>> state_objects(const storage::Storage& storage) {
  std::vector<std::pair<uint64_t, std::string>> out;
  for (const auto& info : storage.list(kVerifyStatePrefix)) {
    if (const auto seq = sequence_of(info.name)) out.emplace_back(*seq, info.name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

bool VerifyState::verified(std::string_view name, const VerifiedObject& now) const {
  const auto it = objects.find(name);
  return it != objects.end() && it->second == now;
}

std::string encode_verify_state(const VerifyState& state) {
  json objects = json::object();
  for (const auto& [name, object] : state.objects) {
    objects[name] = {{"size", object.size}, {"key", hex64(object.key)}};
  }
  nlohmann::ordered_json doc;
  doc["version"] = kVerifyStateVersion;
  doc["objects"] = nlohmann::ordered_json(objects);
  return format::seal_json(std::move(doc), 1);
}

Expected<VerifyState, std::string> decode_verify_state(std::string_view text, format::SealRule rule) {
  const auto opened = format::open_sealed_json(text, rule);
  if (!opened) return Unexpected(opened.error());
  const json& doc = opened->value;
  const auto malformed = [] { return Unexpected(std::string("does not hold a verify state of version 1")); };
  if (!doc.contains("version") || doc["version"] != kVerifyStateVersion || !doc.contains("objects") ||
      !doc["objects"].is_object()) {
    return malformed();
  }
  VerifyState state;
  for (const auto& [name, object] : doc["objects"].items()) {
    if (!object.is_object() || !object.contains("size") || !object["size"].is_number_unsigned() ||
        !object.contains("key") || !object["key"].is_string()) {
      return malformed();
    }
    const std::string key = object["key"].get<std::string>();
    VerifiedObject v{object["size"].get<uint64_t>(), 0};
    const auto r = std::from_chars(key.data(), key.data() + key.size(), v.key, 16);
    if (key.size() != 16 || r.ec != std::errc() || r.ptr != key.data() + key.size()) return malformed();
    state.objects.emplace(name, v);
  }
  return state;
}

VerifyState read_verify_state(const storage::Storage& storage) {
  const auto objects = state_objects(storage);
  if (objects.empty()) return {};
  const auto bytes = storage.read(objects.back().second);
  auto state = decode_verify_state(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()),
                                   repo::seal_rule(storage));
  if (!state) {
    log::warning("ignoring verify state " + objects.back().second + ": it " + state.error() +
                 "; verifying everything");
    return {};
  }
  return std::move(state).value();
}

std::vector<std::pair<std::string, std::string>> damaged_verify_states(const storage::Storage& storage) {
  std::vector<std::pair<std::string, std::string>> out;
  const format::SealRule rule = repo::seal_rule(storage);
  for (const auto& [seq, name] : state_objects(storage)) {
    storage::Bytes bytes;
    try {
      bytes = storage.read(name);
    } catch (const Error& e) {
      if (e.code() == ErrorCode::kNotFound) continue;
      throw;
    }
    const auto state =
        decode_verify_state(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), rule);
    if (!state) out.emplace_back(name, name + " is damaged: it " + state.error());
  }
  return out;
}

void write_verify_state(storage::Storage& storage, const VerifyState& state) {
  const auto objects = state_objects(storage);
  const uint64_t next = objects.empty() ? 1 : objects.back().first + 1;
  const std::string text = encode_verify_state(state);
  storage.write_atomic(state_object_name(next), std::as_bytes(std::span(text.data(), text.size())));
  for (const auto& [seq, name] : objects) storage.remove(name);
}

}  // namespace walvault::archive
