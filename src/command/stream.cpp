#include "command/stream.hpp"

#include "archive/streamer.hpp"
#include "common/clock.hpp"
#include "common/log.hpp"
#include "common/stop_signals.hpp"
#include "pg/replication.hpp"
#include "repo/lock.hpp"
#include "repo/repository.hpp"

namespace walvault::command {

int run_stream(const StreamOptions& options) {
  repo::Repository repository = repo::open_repository(options.repo);
  const repo::RepositoryLock lock(*repository.storage, repo::kStreamLockName, "streamer");
  std::atomic<bool>& stop = install_stop_handlers();

  archive::StreamerOptions streamer_options;
  const bool s3 = repo::parse_s3_url(repository.path).has_value();
  streamer_options.fsync_interval =
      std::chrono::milliseconds(options.fsync_interval_ms.value_or(s3 ? kS3FsyncIntervalMs : kLocalFsyncIntervalMs));
  streamer_options.lock_lost = [&lock] { return lock.lost(); };
  streamer_options.status_interval = std::chrono::milliseconds(options.status_interval_ms);
  streamer_options.compress_level = options.compress_level;
  streamer_options.mass_rows_threshold = options.mass_rows_threshold;
  SystemClock clock;
  const std::string conninfo = repository.config.conninfo;
  archive::Streamer streamer(*repository.storage, repository.config, clock,
                             [conninfo] { return std::make_unique<pg::LibpqReplicationSource>(conninfo); }, streamer_options,
                             stop);
  streamer.run();
  log::info("stopped; WAL is durable up to " + streamer.durable().to_string());
  return 0;
}

}  // namespace walvault::command
