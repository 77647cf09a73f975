#include "archive/mass_rows.hpp"

#include <limits>
#include <nlohmann/json.hpp>
#include <span>

#include "format/index.hpp"
#include "repo/repository.hpp"

namespace walvault::archive {

uint64_t MassRowsSchedule::at(wal::Lsn lsn) const {
  auto it = changes_.upper_bound(lsn);
  if (it == changes_.begin()) return wal::kDefaultMassRowsThreshold;
  return std::prev(it)->second;
}

wal::Lsn MassRowsSchedule::next_change(wal::Lsn lsn) const {
  const auto it = changes_.upper_bound(lsn);
  return it == changes_.end() ? wal::Lsn(std::numeric_limits<uint64_t>::max()) : it->first;
}

std::string encode_mass_rows(const MassRowsChange& change) {
  nlohmann::ordered_json j;
  j["timeline"] = change.timeline.value();
  j["lsn"] = change.from.to_string();
  j["mass_rows"] = change.threshold;
  return format::seal_json(std::move(j));
}

Expected<MassRowsChange, std::string> decode_mass_rows(std::string_view text, format::SealRule rule) {
  const auto opened = format::open_sealed_json(text, rule);
  if (!opened) return Unexpected(opened.error());
  const nlohmann::json& j = opened->value;
  const auto malformed = [] { return Unexpected(std::string("does not hold a mass-row threshold's fields")); };
  try {
    MassRowsChange change;
    change.timeline = wal::TimelineId(j.at("timeline").get<uint32_t>());
    const auto from = wal::Lsn::parse(j.at("lsn").get<std::string>());
    change.threshold = j.at("mass_rows").get<uint64_t>();
    if (!from || !change.timeline.valid() || change.threshold == 0) return malformed();
    change.from = *from;
    return change;
  } catch (const nlohmann::json::exception&) {
    return malformed();
  }
}

Expected<MassRowsSchedule, MassRowsDamage> read_mass_rows_schedule(const storage::Storage& storage,
                                                                   wal::TimelineId timeline) {
  MassRowsSchedule schedule;
  const std::string name = format::mass_rows_object_name(timeline, wal::Lsn());
  const std::string prefix = name.substr(0, name.size() - std::string_view("0000000000000000.json").size());
  for (const auto& object : storage.list(prefix)) {
    const auto bytes = storage.read(object.name);
    const auto change = decode_mass_rows(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()),
                                         repo::seal_rule(storage));
    if (!change || change->timeline != timeline || format::mass_rows_object_name(timeline, change->from) != object.name) {
      return Unexpected(MassRowsDamage{
          object.name, object.name + " is damaged: it " + (change ? std::string("names another place") : change.error())});
    }
    schedule.set(change->from, change->threshold);
  }
  return schedule;
}

void record_mass_rows(storage::Storage& storage, const MassRowsChange& change) {
  const std::string text = encode_mass_rows(change);
  storage.write_atomic(format::mass_rows_object_name(change.timeline, change.from), std::as_bytes(std::span(text)));
}

}  // namespace walvault::archive
