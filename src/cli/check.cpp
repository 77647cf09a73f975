#include <CLI/CLI.hpp>
#include <memory>

#include "cli/registry.hpp"
#include "command/check.hpp"

namespace walvault::cli {

void register_check(CLI::App& app, Action& selected) {
  auto options = std::make_shared<command::CheckOptions>();
  CLI::App* sub = app.add_subcommand(
      "check", "Probe end to end: server, slot, streamer, a forced WAL switch reaching the repository, backup, verify");
  add_repo_option(*sub, options->repo);
  add_json_flag(*sub, options->json);
  sub->add_option("--timeout", options->timeout_seconds, "Seconds to wait for the forced WAL switch to be archived")
      ->default_val(60)
      ->check(CLI::Range(1, 3600));
  sub->add_option("--max-backup-age", options->max_backup_age_hours, "Hours the newest backup may be old")
      ->default_val(48)
      ->check(CLI::Range(1, 100000));
  sub->callback([options, &selected] { selected = [options] { return command::run_check(*options); }; });
}

}  // namespace walvault::cli
