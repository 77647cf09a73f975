#include <CLI/CLI.hpp>

#include "cli/registry.hpp"
#include "command/dump.hpp"

namespace walvault::cli {

void register_dump(CLI::App& app, Action& selected) {
  auto options = std::make_shared<command::DumpOptions>();
  CLI::App* sub = app.add_subcommand("dump", "List the records of WAL segment files, like pg_waldump");
  sub->add_option("files", options->files, "WAL segment files (24-hex-digit names)")->required();
  sub->add_flag("--stats", options->stats, "Show per-resource-manager record counts and bytes");
  sub->add_flag("--events", options->events, "Show commits, aborts and destructive events");
  add_mass_rows_option(*sub, options->mass_rows_threshold, "applies to the listing");
  add_json_flag(*sub, options->json);
  sub->callback([options, &selected] { selected = [options] { return command::run_dump(*options); }; });
}

}  // namespace walvault::cli
