#include "command/list.hpp"

#include <CLI/CLI.hpp>
#include <memory>

#include "cli/registry.hpp"

namespace walvault::cli {

void register_list(CLI::App& app, Action& selected) {
  auto options = std::make_shared<command::ListOptions>();
  CLI::App* sub = app.add_subcommand("list", "Show the backups, the WAL held per timeline, and the restorable window");
  add_repo_option(*sub, options->repo);
  add_json_flag(*sub, options->json);
  sub->callback([options, &selected] { selected = [options] { return command::run_list(*options); }; });
}

}  // namespace walvault::cli
