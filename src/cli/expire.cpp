#include <CLI/CLI.hpp>
#include <memory>

#include "cli/registry.hpp"
#include "command/expire.hpp"

namespace walvault::cli {

void register_expire(CLI::App& app, Action& selected) {
  auto options = std::make_shared<command::ExpireOptions>();
  CLI::App* sub = app.add_subcommand(
      "expire", "Remove old backups and the WAL only they needed, compact the index, sweep stale temporary files");
  add_repo_option(*sub, options->repo);
  // 0 is refused by the command with a message of its own (CLI11's range check would print its bound).
  auto* keep_backups = sub->add_option("--keep-backups", options->keep_backups, "Keep the N newest backups (N >= 1)");
  auto* keep_days = sub->add_option("--keep-days", options->keep_days,
                                    "Keep every point in time of the last D days restorable (D >= 1)");
  keep_backups->excludes(keep_days);
  keep_days->excludes(keep_backups);
  sub->add_flag("--dry-run", options->dry_run, "Print what would be removed or merged, change nothing");
  add_json_flag(*sub, options->json);
  sub->callback([options, &selected] { selected = [options] { return command::run_expire(*options); }; });
}

}  // namespace walvault::cli
