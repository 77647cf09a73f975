// The command line: CLI11 lives here and nowhere else.
//
// run() parses argv, turns options into the plain option structs of command/, and calls the command.
// Each subcommand is declared in its own cli/<command>.cpp with a register_<command>() function listed in
// cli.cpp. Precedence of settings: flag > environment (WALVAULT_*, libpq's PG*) > config file > default.
// Throws walvault::Error (kUsage for bad arguments); returns the command's exit code.
#pragma once

#include <string>

#include "common/error.hpp"

namespace walvault::cli {

[[nodiscard]] int run(int argc, char** argv);

// How main.cpp reports an error that ended the command, on stderr: "walvault: error: ..." and "HINT: ..." lines,
// or, when the command was asked for --json, the same as one JSON object ({"error": {"code": "repository",
// "exit_code": 3, "message": ..., "hint": ...}}), so a script that reads --json output can read the failure too.
// (stdout keeps only the command's own output: a verify report, say, which precedes its exit 5.)
[[nodiscard]] std::string error_report(int argc, char** argv, ErrorCode code, const std::string& message,
                                       const std::string& hint);

}  // namespace walvault::cli
