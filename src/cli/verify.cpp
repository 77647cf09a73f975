#include <CLI/CLI.hpp>
#include <memory>

#include "cli/registry.hpp"
#include "command/verify.hpp"

namespace walvault::cli {

void register_verify(CLI::App& app, Action& selected) {
  auto options = std::make_shared<command::VerifyOptions>();
  CLI::App* sub = app.add_subcommand(
      "verify", "Check every checksum, backup, index entry and WAL gap in the repository (exit 5 on any problem)");
  add_repo_option(*sub, options->repo);
  sub->add_flag("--full", options->full, "Re-check every object, not only those new or changed since the last verify");
  sub->add_option("--recheck-days", options->recheck_days,
                  "Read every unchanged object again at least every N days, a share of them on each run")
      ->default_val(7)
      ->check(CLI::Range(1, 3650));
  add_json_flag(*sub, options->json);
  sub->callback([options, &selected] { selected = [options] { return command::run_verify(*options); }; });
}

}  // namespace walvault::cli
