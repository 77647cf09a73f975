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

// How main.cpp reports an error that ended the command: "walvault: error: ..." and "HINT: ..." lines for stderr,
// and, when the command was asked for --json, the same as one JSON object for stdout
// ({"error": {"code": "repository", "exit_code": 3, "message": ..., "hint": ...}}), so a script that reads
// --json output gets JSON on failure too. `json` is "" when --json was not given.
struct ErrorReport {
  std::string text;
  std::string json;
};
[[nodiscard]] ErrorReport error_report(int argc, char** argv, ErrorCode code, const std::string& message,
                                       const std::string& hint);

}  // namespace walvault::cli
