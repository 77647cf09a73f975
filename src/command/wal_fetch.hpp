// `walvault wal-fetch`: PostgreSQL's restore_command (restore/wal_fetch.hpp does the work).
//
//   walvault wal-fetch --repo R [--spool DIR [--prefetch N]] FILE DEST     serve FILE (%f) at DEST (%p)
//   walvault wal-fetch --repo R --spool DIR --clean-spool [--unpin ID]      recovery_end_command: drop the spool
//                                                                           and the restore's backup pin
//
// Exit codes follow restore_command's conventions: 0 = DEST now holds the complete, verified file; 1 = the
// repository does not have it (normal: PostgreSQL probes for history files and for the segment after the end of
// the archive), with one line on stderr; kFatalExit (200) = anything else — a checksum mismatch, an object of a
// foreign cluster, an unreadable repository, a full disk. PostgreSQL treats an exit status above 125 as FATAL
// and stops recovery, so damaged WAL in the middle can never pass for "the end of the archive" and end a
// recovery silently early. That is why this command reports its own errors (in main.cpp's format) instead of
// leaving them to main.cpp, whose exit codes 1–9 PostgreSQL would read as "not found".
// With --spool, each request first takes its segment from the spool and then makes sure a detached prefetcher
// is filling the spool ahead (--prefetch segments, default 8).
#pragma once

#include <cstdint>
#include <string>

#include "repo/address.hpp"

namespace walvault::command {

inline constexpr int kFatalExit = 200;

struct WalFetchOptions {
  repo::RepoAddress repo;
  std::string file;  // %f
  std::string dest;  // %p
  std::string spool;
  uint32_t prefetch = 8;
  bool clean_spool = false;
  std::string unpin;  // with clean_spool: the backup pin to remove (repo/pins.hpp)
  bool prefetch_worker = false;  // internal: the detached prefetcher
};

int run_wal_fetch(const WalFetchOptions& options);

}  // namespace walvault::command
