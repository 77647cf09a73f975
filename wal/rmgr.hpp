// Resource managers: names (as pg_waldump prints them), record type names, and short descriptions.
//
// Table-driven; names and layouts that differ between the supported versions come from the WalFormat (PG17's heap2
// prune records, PG18's dropped-statistics items). describe() returns a short human text for the
// records walvault cares about (checkpoints, switches, commits and aborts, storage, database, standby locks,
// heap row operations); it is not pg_waldump's exact text. Nothing here fails: unknown values get "UNKNOWN".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "wal/page.hpp"
#include "wal/record.hpp"

namespace walvault::wal {

// Resource manager ids (rmgrlist.h).
enum class Rmgr : uint8_t {
  kXlog = 0,
  kTransaction = 1,
  kStorage = 2,
  kClog = 3,
  kDatabase = 4,
  kTablespace = 5,
  kMultiXact = 6,
  kRelMap = 7,
  kStandby = 8,
  kHeap2 = 9,
  kHeap = 10,
  kBtree = 11,
  kHash = 12,
  kGin = 13,
  kGist = 14,
  kSequence = 15,
  kSpGist = 16,
  kBrin = 17,
  kCommitTs = 18,
  kReplicationOrigin = 19,
  kGeneric = 20,
  kLogicalMessage = 21,
};
inline constexpr uint8_t kMaxBuiltinRmgr = 21;

// "XLOG", "Transaction", ... ; custom ids as "custom###".
[[nodiscard]] std::string rmgr_name(uint8_t rmid);
// The record type, e.g. "COMMIT", "CHECKPOINT_ONLINE", "INSERT+INIT"; "UNKNOWN (0xNN)" if not known.
[[nodiscard]] std::string record_type_name(uint8_t rmid, uint8_t info, const WalFormat& format);
// A short description of the record (type name plus the key fields). A commit or abort record that does not parse
// says so ("COMMIT (unparsable: ...)").
[[nodiscard]] std::string describe(const Record& record, const WalFormat& format);

}  // namespace walvault::wal
