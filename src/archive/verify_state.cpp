#include "archive/verify_state.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/error.hpp"
#include "format/checksum.hpp"
#include "common/log.hpp"
#include "repo/repository.hpp"
#include "repo/sequenced.hpp"

namespace walvault::archive {
namespace {

using nlohmann::json;

constexpr std::string_view kStateName = "state-";
constexpr std::string_view kStateSuffix = ".json";

std::string hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// The state objects, lowest sequence first.
std::vector<repo::SequencedObject> state_objects(const storage::Storage& storage) {
  return repo::sequenced_objects(storage, std::string(kVerifyStatePrefix) + std::string(kStateName), kStateSuffix);
}

}  // namespace

std::set<std::string> VerifyState::damaged_backups() const {
  constexpr std::string_view kBackupPrefix = "backup/";
  std::set<std::string> out;
  for (const std::string_view name : damaged) {
    if (!name.starts_with(kBackupPrefix)) continue;
    const auto rest = name.substr(kBackupPrefix.size());
    const auto slash = rest.find('/');
    if (slash != std::string_view::npos && slash > 0) out.emplace(rest.substr(0, slash));
  }
  return out;
}

bool VerifyState::verified(std::string_view name, const VerifiedObject& now, const Recheck& recheck) const {
  const auto it = objects.find(name);
  if (it == objects.end() || it->second.size != now.size || it->second.key != now.key) return false;
  constexpr int64_t kDay = 24 * 3600;
  const int64_t age = recheck.now - it->second.checked;
  if (recheck.days <= 0 || age >= recheck.days * kDay) return false;
  // Today's share: the objects whose name falls on today, if not read since yesterday.
  const auto day = static_cast<uint64_t>(recheck.now / kDay);
  const uint64_t pick = format::checksum(std::as_bytes(std::span(name.data(), name.size())));
  return !((pick + day) % static_cast<uint64_t>(recheck.days) == 0 && age >= kDay);
}

int64_t VerifyState::checked(std::string_view name) const {
  const auto it = objects.find(name);
  return it == objects.end() ? 0 : it->second.checked;
}

std::string encode_verify_state(const VerifyState& state) {
  json objects = json::object();
  for (const auto& [name, object] : state.objects) {
    objects[name] = {{"size", object.size}, {"key", hex64(object.key)}, {"checked", object.checked}};
  }
  nlohmann::ordered_json doc;
  doc["version"] = kVerifyStateVersion;
  doc["objects"] = nlohmann::ordered_json(objects);
  doc["finished"] = state.finished;
  doc["full"] = state.full;
  doc["damaged"] = state.damaged;
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
    if (object.contains("checked") && !object["checked"].is_number_integer()) return malformed();
    VerifiedObject v{object["size"].get<uint64_t>(), 0, object.value("checked", int64_t{0})};
    const auto r = std::from_chars(key.data(), key.data() + key.size(), v.key, 16);
    if (key.size() != 16 || r.ec != std::errc() || r.ptr != key.data() + key.size()) return malformed();
    state.objects.emplace(name, v);
  }
  // The run's result, absent in states written before it was recorded.
  if (doc.contains("finished")) {
    if (!doc["finished"].is_string() || !doc.value("full", json(false)).is_boolean() ||
        !doc.value("damaged", json::array()).is_array()) {
      return malformed();
    }
    state.finished = doc["finished"].get<std::string>();
    state.full = doc.value("full", false);
    for (const auto& name : doc.value("damaged", json::array())) {
      if (!name.is_string()) return malformed();
      state.damaged.push_back(name.get<std::string>());
    }
  }
  return state;
}

VerifyState read_verify_state(const storage::Storage& storage) {
  const auto objects = state_objects(storage);
  if (objects.empty()) return {};
  const auto bytes = storage.read(objects.back().name);
  auto state = decode_verify_state(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()),
                                   repo::seal_rule(storage));
  if (!state) {
    log::warning("ignoring verify state " + objects.back().name + ": it " + state.error() +
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
  const std::string text = encode_verify_state(state);
  storage.write_atomic(
      repo::next_sequenced_name(storage, std::string(kVerifyStatePrefix) + std::string(kStateName), kStateSuffix),
      std::as_bytes(std::span(text.data(), text.size())));
  for (const auto& object : objects) storage.remove(object.name);
}

}  // namespace walvault::archive
