// `walvault dump`: a pg_waldump-like listing of WAL segment files, with per-rmgr statistics and the
// transaction events (commits, aborts, destructive operations) walvault's index is built from.
//
// The segment size comes from the first file's long page header and the start LSN from its name; files are
// read in segment order, one bounded chunk at a time (never a whole segment). The listing stops at the end of
// the WAL (zeroed or recycled pages, or the end of the files, in the last segment given: a note on stderr, exit 0)
// or at the first missing segment. Anything else throws Error kCorrupt after the good records: WAL that is not
// this cluster's or of an unsupported version (page magic, mixed systems), a damaged or invalid record before the
// end of the input, and commit or abort records that do not parse (each logged with its LSN as it is met).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "wal/events.hpp"

namespace walvault::command {

struct DumpOptions {
  std::vector<std::string> files;  // segment files, any order; their names give their position
  bool stats = false;              // per-rmgr counts and bytes instead of the record listing
  bool events = false;             // commits, aborts and destructive events instead of the record listing
  bool json = false;               // one JSON object per line
  uint64_t mass_rows_threshold = wal::kDefaultMassRowsThreshold;
};

[[nodiscard]] int run_dump(const DumpOptions& options);

}  // namespace walvault::command
