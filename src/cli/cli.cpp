#include "cli/cli.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "cli/registry.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "wal/events.hpp"

namespace walvault::cli {

const std::vector<Registrar>& commands() {
  static const std::vector<Registrar> kCommands = {
      &register_init,
      &register_stream,
      &register_status,
      &register_check,
      &register_dump,
      &register_backup,
      &register_list,
      &register_verify,
      &register_expire,
      &register_drill,
      &register_preview,
      &register_recover,
      &register_events,
      &register_locate,
      &register_restore,
      &register_wal_fetch,
      &register_new_chain,
      &register_set_connection,
      &register_copy,
      &register_key,
  };
  return kCommands;
}

void add_repo_option(CLI::App& sub, repo::RepoAddress& repo) {
  sub.add_option("--repo", repo.url, "Repository: a directory, or s3://BUCKET/PREFIX")
      ->envname("WALVAULT_REPO")
      ->required();
  sub.add_option("--s3-endpoint", repo.s3.endpoint,
                 "S3 endpoint URL (default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else AWS)");
  sub.add_option("--s3-region", repo.s3.region, "S3 region (default: AWS_REGION, AWS_DEFAULT_REGION, what init recorded)");
  sub.add_flag("--s3-path-style", repo.s3.path_style,
               "Path-style bucket addressing (automatic for an IP address or localhost endpoint)");
  add_key_options(sub, repo.key, "");
}

void add_key_options(CLI::App& sub, repo::KeySource& key, const std::string& prefix) {
  using Kind = repo::KeySource::Kind;
  const std::string of = prefix.empty() ? "the encrypted repository's key" : "the new key";
  const auto option = [&](const std::string& name, Kind kind, const std::string& help) {
    return sub.add_option_function<std::string>(
        "--" + prefix + name, [&key, kind](const std::string& value) { key = repo::make_key_source(kind, value); },
        help);
  };
  auto* file = option("key-file", Kind::kFile,
                      "File holding " + of + ": 32 random bytes or a passphrase; mode 600" +
                          (prefix.empty() ? " (default: WALVAULT_KEY_FILE)" : ""));
  auto* env = option("passphrase-env", Kind::kEnvironment, "Environment variable holding " + of + " (a passphrase)");
  auto* command = option("key-command", Kind::kCommand, "Shell command that prints " + of + " (a secrets manager)");
  file->excludes(env)->excludes(command);
  env->excludes(command);
}

void add_json_flag(CLI::App& sub, bool& json) { sub.add_flag("--json", json, "Print stable, machine-readable JSON"); }

void add_mass_rows_option(CLI::App& sub, uint64_t& threshold, const std::string& scope) {
  sub.add_option("--mass-rows", threshold,
                 "Rows deleted or updated in one transaction that make a mass_delete/mass_update event; " + scope)
      ->default_val(wal::kDefaultMassRowsThreshold)
      ->check(CLI::PositiveNumber);
}

std::optional<std::string> pg_bindir_from_environment() {
  const char* value = std::getenv("WALVAULT_PG_BINDIR");
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

namespace {

// Edit distance (insertions, deletions, substitutions), for "did you mean".
std::size_t distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The first argument that is not an option: the command's name, as typed.
std::string_view command_word(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (!arg.starts_with("-")) return arg;
  }
  return {};
}

// A command name that is not one: "unknown command", with the nearest name when it is close.
void check_command_word(const CLI::App& app, std::string_view word) {
  if (word.empty()) return;
  std::string nearest;
  std::size_t best = SIZE_MAX;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    if (sub->get_name() == word) return;
    const std::size_t d = distance(word, sub->get_name());
    if (d < best) {
      best = d;
      nearest = sub->get_name();
    }
  }
  throw Error(ErrorCode::kUsage, "unknown command \"" + std::string(word) + "\"",
              (best <= 2 ? "did you mean '" + nearest + "'? " : std::string()) + "run 'walvault --help' for the commands");
}

}  // namespace

std::string error_report(int argc, char** argv, ErrorCode code, const std::string& message, const std::string& hint) {
  const bool json = std::any_of(argv + 1, argv + argc, [](const char* a) { return std::string_view(a) == "--json"; });
  if (json) {
    nlohmann::ordered_json j;
    j["error"] = {{"code", error_code_name(code)}, {"exit_code", exit_code(code)}, {"message", message},
                  {"hint", hint}};
    return j.dump() + "\n";
  }
  std::string text = "walvault: error: " + message + "\n";
  if (!hint.empty()) text += "HINT: " + hint + "\n";
  return text;
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
  check_command_word(app, command_word(argc, argv));

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
