// The command line: CLI11 lives here and nowhere else.
//
// run() parses argv, turns options into the plain option structs of command/, and calls the command.
// Each subcommand is declared in its own cli/<command>.cpp with a register_<command>() function listed in
// cli.cpp. Precedence of settings: flag > environment (WALVAULT_*, libpq's PG*) > config file > default.
// Throws walvault::Error (kUsage for bad arguments); returns the command's exit code.
#pragma once

namespace walvault::cli {

[[nodiscard]] int run(int argc, char** argv);

}  // namespace walvault::cli
