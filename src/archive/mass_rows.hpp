// The mass-row threshold of a repository's index: how many rows one transaction must delete or update to make a
// mass_delete / mass_update event (wal/events.hpp). `walvault stream --mass-rows N` sets it for the WAL it indexes
// from then on. Every decoder of the repository's WAL must judge a commit with the threshold the streamer used for
// it, or `walvault verify`, which decodes the WAL again and compares (archive/index_crosscheck.hpp), would report a
// correct index as wrong. So the streamer records each change as the object
// "index/<TTTTTTTT>/mass-rows-<16-hex LSN>.json" (format/FORMAT.md, "Mass-row thresholds"): the threshold for the
// commits of that timeline whose commit record starts at or after LSN. Without any object (every repository written
// before the option existed) the threshold is wal::kDefaultMassRowsThreshold.
//
// MassRowsSchedule is a pure value. read_mass_rows_schedule() returns a damaged object as a value (verify reports
// it); Storage errors pass through. record_mass_rows() writes one object (durable, immutable).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "format/sealed_object.hpp"
#include "storage/storage.hpp"
#include "wal/events.hpp"
#include "wal/expected.hpp"
#include "wal/lsn.hpp"

namespace walvault::archive {

class MassRowsSchedule {
 public:
  // The default threshold everywhere.
  MassRowsSchedule() = default;
  // threshold everywhere.
  explicit MassRowsSchedule(uint64_t threshold) { changes_[wal::Lsn()] = threshold; }

  // From `from` on, the threshold is `threshold` (any later change is dropped).
  void set(wal::Lsn from, uint64_t threshold) {
    changes_.erase(changes_.lower_bound(from), changes_.end());
    changes_[from] = threshold;
  }
  [[nodiscard]] uint64_t at(wal::Lsn lsn) const;
  // The first LSN after lsn at which the threshold may change; Lsn(UINT64_MAX) when none.
  [[nodiscard]] wal::Lsn next_change(wal::Lsn lsn) const;

 private:
  std::map<wal::Lsn, uint64_t> changes_;  // from → threshold
};

struct MassRowsChange {
  wal::TimelineId timeline;
  wal::Lsn from;
  uint64_t threshold = 0;
  bool operator==(const MassRowsChange&) const = default;
};

[[nodiscard]] std::string encode_mass_rows(const MassRowsChange& change);
// The error says what is wrong.
[[nodiscard]] Expected<MassRowsChange, std::string> decode_mass_rows(std::string_view text, format::SealRule rule);

struct MassRowsDamage {
  std::string object;
  std::string message;  // "index/.../mass-rows-....json is damaged: it ..."
};
// The recorded thresholds of a timeline, or the first damaged object (Storage errors throw).
[[nodiscard]] Expected<MassRowsSchedule, MassRowsDamage> read_mass_rows_schedule(const storage::Storage& storage,
                                                                                 wal::TimelineId timeline);
// Records that the commits of change.timeline from change.from on are judged with change.threshold.
void record_mass_rows(storage::Storage& storage, const MassRowsChange& change);

}  // namespace walvault::archive
