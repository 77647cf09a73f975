#include <CLI/CLI.hpp>
#include <memory>

#include "cli/registry.hpp"
#include "command/key.hpp"

namespace walvault::cli {

void register_key(CLI::App& app, Action& selected) {
  CLI::App* key = app.add_subcommand("key", "Manage an encrypted repository's key");
  key->require_subcommand(1);
  auto options = std::make_shared<command::KeyRotateOptions>();
  CLI::App* rotate = key->add_subcommand(
      "rotate", "Wrap the data keys under a new key (no data rewritten), and/or re-encrypt every object under a new "
                "data key (--reencrypt)");
  add_repo_option(*rotate, options->repo);
  add_key_options(*rotate, options->new_key, "new-");
  rotate->add_flag("--reencrypt", options->reencrypt,
                   "Also rewrite every object under a new data key (resumable; the streamer and backups must be "
                   "stopped)");
  add_json_flag(*rotate, options->json);
  rotate->callback([options, &selected] { selected = [options] { return command::run_key_rotate(*options); }; });
}

}  // namespace walvault::cli
