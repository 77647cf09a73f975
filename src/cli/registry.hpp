// How subcommands plug into the CLI.
//
// Each cli/<command>.cpp defines one Registrar. It adds a CLI11 subcommand whose options bind to a plain option
// struct of command/, and whose callback stores, in `selected`, the action that runs the command with those
// options. run() calls the selected action after parsing and logging set-up. Registrars are listed in
// commands() (cli.cpp), in the order `walvault --help` shows them.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "repo/address.hpp"

namespace walvault::cli {

using Action = std::function<int()>;
using Registrar = void (*)(CLI::App& app, Action& selected);

[[nodiscard]] const std::vector<Registrar>& commands();

void register_init(CLI::App& app, Action& selected);
void register_stream(CLI::App& app, Action& selected);
void register_status(CLI::App& app, Action& selected);
void register_check(CLI::App& app, Action& selected);
void register_dump(CLI::App& app, Action& selected);
void register_backup(CLI::App& app, Action& selected);
void register_list(CLI::App& app, Action& selected);
void register_verify(CLI::App& app, Action& selected);
void register_expire(CLI::App& app, Action& selected);
void register_drill(CLI::App& app, Action& selected);
void register_preview(CLI::App& app, Action& selected);
void register_recover(CLI::App& app, Action& selected);
void register_events(CLI::App& app, Action& selected);
void register_locate(CLI::App& app, Action& selected);
void register_restore(CLI::App& app, Action& selected);
void register_wal_fetch(CLI::App& app, Action& selected);
void register_new_chain(CLI::App& app, Action& selected);
void register_set_connection(CLI::App& app, Action& selected);
void register_copy(CLI::App& app, Action& selected);
void register_key(CLI::App& app, Action& selected);

// --repo PATH, also from WALVAULT_REPO. Required.
void add_repo_option(CLI::App& sub, repo::RepoAddress& repo);
// --key-file, --passphrase-env and --key-command (prefix "new-": the options of the key a rotation moves to).
void add_key_options(CLI::App& sub, repo::KeySource& key, const std::string& prefix);

// --json: the stable machine-readable form of a command's output.
void add_json_flag(CLI::App& sub, bool& json);

// --mass-rows N: rows deleted or updated in one transaction that make a mass_delete/mass_update event (default
// wal::kDefaultMassRowsThreshold); `scope` ends the help text (what the threshold applies to).
void add_mass_rows_option(CLI::App& sub, uint64_t& threshold, const std::string& scope);

// WALVAULT_PG_BINDIR when set and not empty: the default of --pg-bindir (restore, drill), kept apart from the flag
// so that a refusal can name where the directory came from.
[[nodiscard]] std::optional<std::string> pg_bindir_from_environment();

}  // namespace walvault::cli
