#include "command/copy.hpp"

#include <CLI/CLI.hpp>
#include <memory>

#include "cli/registry.hpp"

namespace walvault::cli {

void register_copy(CLI::App& app, Action& selected) {
  auto options = std::make_shared<command::CopyOptions>();
  CLI::App* sub = app.add_subcommand(
      "copy", "Copy the repository to another directory or bucket (streamer stopped; checksums checked; resumable)");
  add_repo_option(*sub, options->repo);
  sub->add_option("--to", options->to,
                  "Destination: an empty directory or s3://BUCKET/PREFIX (the --s3-* options apply to it), or a "
                  "copy cut short to complete")
      ->required();
  add_json_flag(*sub, options->json);
  sub->callback([options, &selected] { selected = [options] { return command::run_copy(*options); }; });
}

}  // namespace walvault::cli
