// Backup pins: what keeps `walvault expire` from removing a backup (and the WAL after it) that a restore or drill
// is reading. A reader plans under the storage lock kPinLockName and, still holding it, writes the immutable
// object pins/<pin id>.json naming the backup it chose; expire holds the same lock while it reads the pins, plans
// and removes, and keeps every pinned backup. So a plan never picks a backup that an expire running at the same
// time removes, and expire never removes a backup a reader has chosen.
//
// A drill removes its pin when it ends. A restore leaves it for the restored server's recovery_end_command
// ("walvault wal-fetch --unpin <id>"), which runs when recovery is over: the server reads WAL from the repository
// until then, whether restore started it or the operator does later. A restore that fails removes its pin. A pin
// whose reader is gone for good (a restored directory that is never started) keeps its backup until removed by
// hand: expire names it, its reader and its age.
//
// Errors: walvault::Error from Storage (kIo); read_pins() skips objects it cannot parse only after naming them in
// the log (a damaged pin cannot protect anything, and must not stop expire from telling so).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "storage/storage.hpp"

namespace walvault::repo {

inline constexpr std::string_view kPinLockName = "pins";

struct PinInfo {
  std::string id;         // the pin's id: pins/<id>.json
  std::string backup_id;  // the backup it keeps
  std::string reader;     // who reads it, e.g. "restore into /srv/restored (pid 1234)"
  std::string created;    // ISO 8601 UTC
};

// A pin this process wrote; removed when destroyed unless handed over with release().
class BackupPin {
 public:
  // Writes the pin. Call it while holding the storage lock kPinLockName, with the backup just chosen.
  BackupPin(storage::Storage& storage, const std::string& backup_id, const std::string& reader);
  ~BackupPin();
  BackupPin(const BackupPin&) = delete;
  BackupPin& operator=(const BackupPin&) = delete;

  [[nodiscard]] const std::string& id() const { return id_; }
  // From now on someone else removes it (remove_pin()).
  void release() { released_ = true; }

 private:
  storage::Storage& storage_;
  std::string id_;
  bool released_ = false;
};

// Every pin in the repository.
[[nodiscard]] std::vector<PinInfo> read_pins(const storage::Storage& storage);
// Removes pin `id` (a missing one is fine). Throws kUsage for an id that is not a pin's.
void remove_pin(storage::Storage& storage, const std::string& id);

}  // namespace walvault::repo
