#include "repo/drill_record.hpp"

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "format/sealed_object.hpp"
#include "repo/repository.hpp"
#include "repo/sequenced.hpp"

namespace walvault::repo {
namespace {

constexpr std::string_view kPrefix = "drill/result-";
constexpr std::string_view kSuffix = ".json";

}  // namespace

void write_drill_record(storage::Storage& storage, const DrillRecord& record) {
  const auto older = sequenced_objects(storage, kPrefix, kSuffix);
  nlohmann::ordered_json j;
  j["finished"] = record.finished;
  j["ok"] = record.ok;
  j["backup"] = record.backup;
  j["message"] = record.message;
  j["seconds"] = record.seconds;
  const std::string text = format::seal_json(std::move(j), 2);
  storage.write_atomic(next_sequenced_name(storage, kPrefix, kSuffix), std::as_bytes(std::span(text.data(), text.size())));
  for (const auto& object : older) storage.remove(object.name);
}

std::optional<DrillRecord> read_last_drill(const storage::Storage& storage) {
  const auto objects = sequenced_objects(storage, kPrefix, kSuffix);
  if (objects.empty()) return std::nullopt;
  const std::string& name = objects.back().name;
  const storage::Bytes bytes = storage.read(name);
  const auto opened = format::open_sealed_json(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()),
                                               seal_rule(storage));
  const auto damaged = [&](const std::string& what) {
    return Error(ErrorCode::kCorrupt, "the drill result " + name + " is damaged: " + what,
                 "run 'walvault drill' again: it records a new result");
  };
  if (!opened) throw damaged("it " + opened.error());
  try {
    const nlohmann::json& j = opened->value;
    DrillRecord r;
    r.finished = j.at("finished").get<std::string>();
    r.ok = j.at("ok").get<bool>();
    r.backup = j.at("backup").get<std::string>();
    r.message = j.at("message").get<std::string>();
    r.seconds = j.at("seconds").get<double>();
    return r;
  } catch (const nlohmann::json::exception& e) {
    throw damaged(e.what());
  }
}

}  // namespace walvault::repo
