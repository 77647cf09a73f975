#include <CLI/CLI.hpp>
#include <memory>

#include "cli/registry.hpp"
#include "command/locate.hpp"

namespace walvault::cli {

void register_locate(CLI::App& app, Action& selected) {
  auto o = std::make_shared<command::LocateOptions>();
  CLI::App* sub = app.add_subcommand("locate", "Show the last commit at or before a time and the first one after it");
  add_repo_option(*sub, o->repo);
  sub->add_option("--time", o->time, "The instant (ISO 8601 / timestamptz text; no zone = local time)")->required();
  sub->add_option("--timeline", o->timeline, "Follow this timeline's branch (default: the newest)");
  add_json_flag(*sub, o->json);
  sub->callback([o, &selected] { selected = [o] { return command::run_locate(*o); }; });
}

}  // namespace walvault::cli
