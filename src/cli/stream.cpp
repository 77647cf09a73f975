#include <CLI/CLI.hpp>
#include <memory>

#include "cli/registry.hpp"
#include "command/stream.hpp"

namespace walvault::cli {

void register_stream(CLI::App& app, Action& selected) {
  auto options = std::make_shared<command::StreamOptions>();
  CLI::App* sub = app.add_subcommand("stream", "Stream the cluster's WAL into the repository (foreground)");
  add_repo_option(*sub, options->repo);
  sub->add_option("--fsync-interval-ms", options->fsync_interval_ms,
                  "Longest time received WAL may stay unsynced while data arrives (default 200 ms, 1000 on S3: each "
                  "sync of an S3 repository costs requests)")
      ->check(CLI::Range(1, 10000));
  sub->add_option("--status-interval-ms", options->status_interval_ms,
                  "Interval of standby status updates when idle")
      ->default_val(10000)
      ->check(CLI::Range(100, 3600000));
  sub->add_option("--compress-level", options->compress_level,
                  "zstd level of the segment containers (-7..19: negative levels use less CPU and store "
                  "more; the default, 1, stores about as little as 2 and 3 on WAL; 4 and up store less for "
                  "much more CPU)")
      ->default_val(options->compress_level)
      ->check(CLI::Range(-7, 19));
  add_mass_rows_option(*sub, options->mass_rows_threshold,
                       "applies to the WAL indexed from now on (recorded in the repository, so verify judges that WAL "
                       "alike; events already indexed keep the threshold they were found with)");
  sub->callback([options, &selected] { selected = [options] { return command::run_stream(*options); }; });
}

}  // namespace walvault::cli
