#include "cli/cli.hpp"

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <string>

#include "cli/registry.hpp"
#include "common/error.hpp"
#include "common/log.hpp"

namespace walvault::cli {

const std::vector<Registrar>& commands() {
  static const std::vector<Registrar> kCommands = {
      &register_init,
      &register_stream,
      &register_status,
      &register_dump,
      &register_backup,
      &register_list,
      &register_verify,
      &register_expire,
      &register_drill,
      &register_events,
      &register_locate,
      &register_restore,
      &register_wal_fetch,
  };
  return kCommands;
}

void add_repo_option(CLI::App& sub, std::string& repo) {
  sub.add_option("--repo", repo, "Repository directory")->envname("WALVAULT_REPO")->required();
}

void add_json_flag(CLI::App& sub, bool& json) { sub.add_flag("--json", json, "Print stable, machine-readable JSON"); }

std::optional<std::string> pg_bindir_from_environment() {
  const char* value = std::getenv("WALVAULT_PG_BINDIR");
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

int run(int argc, char** argv) {
  CLI::App app{"walvault: point-in-time recovery for PostgreSQL, to the instant before the wipe"};
  app.name("walvault");
  app.set_version_flag("-V,--version", std::string("walvault ") + WALVAULT_VERSION);
  app.require_subcommand(1);
  app.fallthrough();
  bool verbose = false;
  bool quiet = false;
  app.add_flag("-v,--verbose", verbose, "Log debug messages to stderr");
  app.add_flag("-q,--quiet", quiet, "Log only errors to stderr");

  Action selected;
  for (const Registrar register_command : commands()) register_command(app, selected);

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help, --version
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    const auto subs = app.get_subcommands();
    const std::string hint =
        subs.empty() ? "run 'walvault --help'" : "run 'walvault " + subs.front()->get_name() + " --help'";
    throw Error(ErrorCode::kUsage, e.what(), hint);
  }
  if (verbose) log::set_level(log::Level::kDebug);
  if (quiet) log::set_level(log::Level::kError);
  if (!selected) throw Error(ErrorCode::kUsage, "no command given", "run 'walvault --help'");
  return selected();
}

}  // namespace walvault::cli
