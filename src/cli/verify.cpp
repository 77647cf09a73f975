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
  add_json_flag(*sub, options->json);
  sub->callback([options, &selected] { selected = [options] { return command::run_verify(*options); }; });
}

}  // namespace walvault::cli
