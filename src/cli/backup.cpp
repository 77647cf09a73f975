#include "command/backup.hpp"

#include <CLI/CLI.hpp>
#include <memory>

#include "cli/registry.hpp"

namespace walvault::cli {

void register_backup(CLI::App& app, Action& selected) {
  auto options = std::make_shared<command::BackupOptions>();
  CLI::App* sub = app.add_subcommand("backup", "Take a base backup of the repository's cluster into the repository");
  add_repo_option(*sub, options->repo);
  sub->add_flag("--fast", options->fast, "Request an immediate checkpoint instead of a spread one");
  sub->add_option("--label", options->label, "Backup label (default: \"walvault <id>\")");
  auto wal_wait = std::make_shared<int>(60);
  sub->add_option("--wal-wait", *wal_wait,
                  "Seconds to wait at the end for the streamer to capture the WAL up to the backup's stop LSN")
      ->default_val(60)
      ->check(CLI::PositiveNumber);
  add_json_flag(*sub, options->json);
  sub->callback([options, wal_wait, &selected] {
    options->wal_wait = std::chrono::seconds(*wal_wait);
    selected = [options] { return command::run_backup(*options); };
  });
}

}  // namespace walvault::cli
