// The last drill's result, kept in the repository so that `status` and the metrics report it (when the last drill
// ran, whether it passed): a restore that cannot be done must surface the day a drill finds it.
//
// Storage: sequenced objects "drill/result-<20-digit sequence>.json" (repo/sequenced.hpp), sealed JSON: `finished`
// (ISO 8601 UTC), `ok`, `backup` (the backup it restored, "" when it failed before choosing one), `message` (one
// line: the target on success, the error otherwise), `seconds` (wall time). Older results are removed after a new one
// is written. Errors: Storage errors (kIo); kCorrupt for a damaged record (read_last_drill).
#pragma once

#include <optional>
#include <string>

#include "storage/storage.hpp"

namespace walvault::repo {

struct DrillRecord {
  std::string finished;
  bool ok = false;
  std::string backup;
  std::string message;
  double seconds = 0;
};

void write_drill_record(storage::Storage& storage, const DrillRecord& record);
[[nodiscard]] std::optional<DrillRecord> read_last_drill(const storage::Storage& storage);

}  // namespace walvault::repo
