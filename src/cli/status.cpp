#include <CLI/CLI.hpp>
#include <memory>

#include "cli/registry.hpp"
#include "command/status.hpp"

namespace walvault::cli {

void register_status(CLI::App& app, Action& selected) {
  auto options = std::make_shared<command::StatusOptions>();
  CLI::App* sub = app.add_subcommand("status", "Show whether the streamer runs and how far behind the server it is");
  add_repo_option(*sub, options->repo);
  add_json_flag(*sub, options->json);
  sub->add_flag("--prometheus", options->prometheus, "Print Prometheus text exposition format (walvault_* metrics)");
  sub->add_option("--max-lag", options->max_lag_seconds, "Seconds behind the server before health is degraded")
      ->default_val(300);
  sub->add_option("--max-backup-age", options->max_backup_age_hours,
                  "Hours since the newest backup before health is degraded")
      ->default_val(48);
  sub->callback([options, &selected] { selected = [options] { return command::run_status(*options); }; });
}

}  // namespace walvault::cli
