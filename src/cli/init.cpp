#include <CLI/CLI.hpp>
#include <memory>

#include "cli/registry.hpp"
#include "command/init.hpp"

namespace walvault::cli {

void register_init(CLI::App& app, Action& selected) {
  auto options = std::make_shared<command::InitOptions>();
  CLI::App* sub = app.add_subcommand("init", "Bind a repository to a PostgreSQL cluster and create its replication slot");
  add_repo_option(*sub, options->repo);
  sub->add_option("-d,--dbname", options->conninfo,
                  "libpq connection string of the cluster (no password: use PGPASSWORD or ~/.pgpass)")
      ->required();
  sub->add_option("--slot", options->slot,
                  "Physical replication slot name (default: walvault_ and the repository directory's name)");
  sub->add_flag("--encrypt", options->encrypt,
                "Encrypt the new repository (AES-256-GCM) with the key given by --key-file, --passphrase-env or "
                "--key-command");
  add_json_flag(*sub, options->json);
  sub->callback([options, &selected] { selected = [options] { return command::run_init(*options); }; });
}

}  // namespace walvault::cli
