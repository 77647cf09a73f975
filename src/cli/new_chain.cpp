#include <CLI/CLI.hpp>
#include <memory>

#include "cli/registry.hpp"
#include "command/new_chain.hpp"

namespace walvault::cli {

void register_new_chain(CLI::App& app, Action& selected) {
  auto options = std::make_shared<command::NewChainOptions>();
  CLI::App* sub = app.add_subcommand(
      "new-chain", "After the server removed WAL the repository lacks (slot lost): start a new WAL chain on a fresh "
                   "slot, declaring the gap; a new backup is then needed");
  add_repo_option(*sub, options->repo);
  sub->add_option("--slot", options->slot, "Name of the fresh slot (default: the repository's slot, recreated)");
  add_json_flag(*sub, options->json);
  sub->callback([options, &selected] { selected = [options] { return command::run_new_chain(*options); }; });
}

}  // namespace walvault::cli
