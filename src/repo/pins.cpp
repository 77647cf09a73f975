#include "repo/pins.hpp"

#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <random>

#include "common/error.hpp"
#include "common/log.hpp"
#include "format/sealed_object.hpp"
#include "common/clock.hpp"

namespace walvault::repo {
namespace {

constexpr std::string_view kPrefix = "pins/";
constexpr std::string_view kSuffix = ".json";

std::string object_name(std::string_view id) { return std::string(kPrefix) + std::string(id) + std::string(kSuffix); }

// <backup id>-<16 random hex digits>: unique without coordination, and sorted by backup.
std::string new_pin_id(const std::string& backup_id) {
  std::random_device device;
  std::mt19937_64 random(static_cast<uint64_t>(device()) << 32 | device());
  char suffix[17];
  std::snprintf(suffix, sizeof suffix, "%016llx", static_cast<unsigned long long>(random()));
  return backup_id + "-" + suffix;
}

bool valid_id(std::string_view id) {
  return !id.empty() && id.front() != '.' && id.find('/') == std::string_view::npos &&
         id.find('\0') == std::string_view::npos;
}

}  // namespace

BackupPin::BackupPin(storage::Storage& storage, const std::string& backup_id, const std::string& reader)
    : storage_(storage), id_(new_pin_id(backup_id)) {
  nlohmann::ordered_json j;
  j["backup"] = backup_id;
  j["reader"] = reader;
  j["created"] = format_time(std::chrono::system_clock::now());
  const std::string text = format::seal_json(std::move(j), 2);
  storage_.write_atomic(object_name(id_), std::as_bytes(std::span(text.data(), text.size())));
}

BackupPin::~BackupPin() {
  if (released_) return;
  try {
    storage_.remove(object_name(id_));
  } catch (const std::exception& e) {
    log::warning("could not remove the pin " + object_name(id_) + ": " + e.what() +
                 "; it keeps its backup from expiring until removed");
  }
}

std::vector<PinInfo> read_pins(const storage::Storage& storage) {
  std::vector<PinInfo> out;
  for (const auto& object : storage.list(kPrefix)) {
    const std::string_view name = object.name;
    if (!name.ends_with(kSuffix)) continue;
    PinInfo pin;
    pin.id = std::string(name.substr(kPrefix.size(), name.size() - kPrefix.size() - kSuffix.size()));
    storage::Bytes bytes;
    try {
      bytes = storage.read(object.name);
    } catch (const Error& e) {
      if (e.code() == ErrorCode::kNotFound) continue;  // its reader finished meanwhile
      throw;
    }
    const auto opened = format::open_sealed_json(
        std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), format::SealRule::kRequired);
    if (!opened || !opened->value.contains("backup") || !opened->value["backup"].is_string()) {
      log::warning("pin " + object.name + " is damaged (" + (opened ? std::string("no backup") : opened.error()) +
                   ") and protects nothing; remove it");
      continue;
    }
    const nlohmann::json& j = opened->value;
    pin.backup_id = j["backup"].get<std::string>();
    pin.reader = j.value("reader", "");
    pin.created = j.value("created", "");
    out.push_back(std::move(pin));
  }
  return out;
}

void remove_pin(storage::Storage& storage, const std::string& id) {
  if (!valid_id(id)) {
    throw Error(ErrorCode::kUsage, "\"" + id + "\" is not a pin id", "pin ids are listed under pins/ in the repository");
  }
  storage.remove(object_name(id));
}

}  // namespace walvault::repo
