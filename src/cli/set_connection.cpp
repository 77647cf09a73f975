#include <CLI/CLI.hpp>
#include <memory>

#include "cli/registry.hpp"
#include "command/set_connection.hpp"

namespace walvault::cli {

void register_set_connection(CLI::App& app, Action& selected) {
  auto options = std::make_shared<command::SetConnectionOptions>();
  CLI::App* sub = app.add_subcommand(
      "set-connection", "Change the repository's connection string (same cluster, same slot; streamer stopped)");
  add_repo_option(*sub, options->repo);
  sub->add_option("-d,--dbname", options->conninfo, "The new libpq connection string (no password)")->required();
  sub->callback([options, &selected] { selected = [options] { return command::run_set_connection(*options); }; });
}

}  // namespace walvault::cli
