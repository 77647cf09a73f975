#include "restore/incidents.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <tuple>
#include <utility>

#include "common/error.hpp"

namespace walvault::restore {

bool Incident::holds(std::string_view event) const {
  if (event == id) return true;
  return std::any_of(events.begin(), events.end(),
                     [&](const format::EventEntry& e) { return event_id(timeline, e) == event; });
}

std::vector<Incident> group_incidents(std::vector<TimelineEvent> events, int64_t gap_us) {
  std::stable_sort(events.begin(), events.end(), [](const TimelineEvent& a, const TimelineEvent& b) {
    return std::tie(a.timeline, a.event.commit_lsn) < std::tie(b.timeline, b.event.commit_lsn);
  });
  std::vector<Incident> out;
  // The open incident of each (timeline, database): its index in out and the previous event's commit time.
  std::map<std::pair<uint32_t, uint32_t>, std::pair<size_t, format::TimestampTz>> open;
  for (auto& te : events) {
    const std::pair<uint32_t, uint32_t> key{te.timeline.value(), te.event.database_oid};
    const format::TimestampTz t = te.event.commit_time;
    auto it = open.find(key);
    if (it != open.end() && std::max<int64_t>(0, t - it->second.second) <= gap_us) {
      Incident& incident = out[it->second.first];
      if (event_stop_lsn(te.event) < incident.stop_lsn()) incident.first = te.event;
      incident.events.push_back(std::move(te.event));
      it->second.second = t;
      continue;
    }
    Incident incident;
    incident.id = event_id(te.timeline, te.event);
    incident.timeline = te.timeline;
    incident.database_oid = te.event.database_oid;
    incident.first = te.event;
    incident.events.push_back(std::move(te.event));
    open[key] = {out.size(), t};
    out.push_back(std::move(incident));
  }
  return out;
}

std::optional<Incident> find_incident(const storage::Storage& storage, uint32_t segment_size, std::string_view event_id,
                                      int64_t gap_us) {
  auto events = read_events(storage, std::numeric_limits<format::TimestampTz>::min(),
                            std::numeric_limits<format::TimestampTz>::max(), segment_size);
  for (auto& incident : group_incidents(std::move(events), gap_us)) {
    if (incident.holds(event_id)) return std::move(incident);
  }
  return std::nullopt;
}

int64_t incident_gap_option(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0 || seconds > 1e9) {
    throw Error(ErrorCode::kUsage, "--incident-gap " + std::to_string(seconds) + ": not a number of seconds >= 0",
                "--incident-gap S groups events of one database committed at most S seconds apart (default 10)");
  }
  return static_cast<int64_t>(std::llround(seconds * 1e6));
}

}  // namespace walvault::restore
