#include "command/wal_fetch.hpp"

#include <cstdio>
#include <exception>

#include "common/error.hpp"
#include "repo/pins.hpp"
#include "repo/repository.hpp"
#include "restore/wal_fetch.hpp"
#include "wal/lsn.hpp"

namespace walvault::command {
namespace {

int fetch(const WalFetchOptions& options) {
  if (options.clean_spool) {
    if (options.spool.empty()) throw Error(ErrorCode::kUsage, "--clean-spool needs --spool");
    restore::Spool(options.spool).remove();
    // Recovery is over: the server needs nothing more from the repository (repo/pins.hpp).
    if (!options.unpin.empty()) repo::remove_pin(*repo::open_repository(options.repo).storage, options.unpin);
    return 0;
  }
  // A segment the prefetcher spooled is served without opening the repository (on S3 that costs requests).
  const bool segment_name =
      options.file.size() == 24 && options.file.find_first_not_of("0123456789ABCDEF") == std::string::npos;
  if (segment_name && !options.spool.empty() && !options.prefetch_worker) {
    restore::Spool spool(options.spool);
    const bool served = spool.take(options.file, options.dest);
    if (options.prefetch > 0) {
      spool.start_prefetcher(repo::address_argv(repo::absolute(options.repo), std::nullopt), options.prefetch);
    }
    if (served) return 0;
  }
  const repo::Repository repository = repo::open_repository(options.repo);
  if (options.prefetch_worker) {
    restore::Spool(options.spool).prefetch(repository, options.prefetch);
    return 0;
  }
  if (options.file.empty() || options.dest.empty()) {
    throw Error(ErrorCode::kUsage, "wal-fetch needs the file name and the destination (%f %p)",
                "restore_command = 'walvault wal-fetch --repo PATH %f %p'");
  }
  if (restore::fetch_wal_file(*repository.storage, repository.config, options.file, options.dest) ==
      restore::FetchOutcome::kFetched) {
    return 0;
  }
  std::fprintf(stderr, "walvault: wal-fetch: %s is not in the repository\n", options.file.c_str());
  return 1;
}

}  // namespace

int run_wal_fetch(const WalFetchOptions& options) {
  // The one place besides main.cpp that catches: see the header (exit status > 125 makes PostgreSQL stop).
  try {
    return fetch(options);
  } catch (const Error& e) {
    std::string line = std::string("walvault: error: ") + e.what() + "\n";
    if (!e.hint().empty()) line += "HINT: " + e.hint() + "\n";
    std::fputs(line.c_str(), stderr);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "walvault: error: internal error: %s\n", e.what());
  }
  return kFatalExit;
}

}  // namespace walvault::command
