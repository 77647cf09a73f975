// Incidents: a burst of destructive transactions from one command (an ORM migration that drops a column in one
// transaction and the tables in the next; a reset that drops tables one by one) grouped so that one target restores
// to before all of them. The WAL names no session, so the rule is by database and time:
//
//   events of the same database (drop_database: the dropped one) on the same timeline, in commit-LSN order, each
//   committed within `gap` of the previous event of that database (max(0, t_i - t_(i-1)) <= gap: commit times are
//   not monotonic in LSN order), form one incident. Non-destructive commits in between do not break it; a single
//   event is an incident of one. Its id is the id of its earliest event (restore/plan.hpp event_id); its stop
//   point is the lowest of its events' own (event_stop_lsn), which --before-incident restores to.
//
// Computed when reading, from the index's event entries alone, so the gap can change without re-indexing.
// group_incidents() is pure; find_incident() reads every event of the repository (the index's event sections:
// small). Errors of find_incident(): those of read_events() (kCorrupt for a damaged index, Storage errors).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "format/index.hpp"
#include "restore/plan_inputs.hpp"
#include "storage/storage.hpp"

namespace walvault::restore {

inline constexpr int64_t kDefaultIncidentGapUs = 10'000'000;  // --incident-gap 10 (seconds)

struct Incident {
  std::string id;  // the id of its earliest event (commit-LSN order)
  wal::TimelineId timeline;
  uint32_t database_oid = 0;
  std::vector<format::EventEntry> events;  // commit-LSN order
  format::EventEntry first;                // the event with the lowest stop point: restore to just before it
  [[nodiscard]] wal::Lsn stop_lsn() const { return event_stop_lsn(first); }
  [[nodiscard]] bool holds(std::string_view event_id) const;  // the incident's id or one of its events'
};

// Groups events (any order, any timelines) into incidents, ordered by their earliest event (timeline, commit LSN).
// gap_us >= 0.
[[nodiscard]] std::vector<Incident> group_incidents(std::vector<TimelineEvent> events, int64_t gap_us);

// The incident that holds the event with this id (the incident's id or any of its events' ids), over every event the
// repository's index holds; nullopt when no event has that id.
[[nodiscard]] std::optional<Incident> find_incident(const storage::Storage& storage, uint32_t segment_size,
                                                    std::string_view event_id, int64_t gap_us);

// "--incident-gap": seconds (a decimal number >= 0) as microseconds. Throws kUsage naming the option otherwise.
[[nodiscard]] int64_t incident_gap_option(double seconds);

}  // namespace walvault::restore
