// walvault's entry point: dispatch to the CLI, and the single place that catches errors and maps them to exit
// codes (see README.md, "Exit codes").
#include <cstdio>
#include <exception>
#include <string>

#include "cli/cli.hpp"
#include "common/error.hpp"

int main(int argc, char** argv) {
  try {
    return walvault::cli::run(argc, argv);
  } catch (const walvault::Error& e) {
    std::string line = std::string("walvault: error: ") + e.what() + "\n";
    if (!e.hint().empty()) line += "HINT: " + e.hint() + "\n";
    std::fputs(line.c_str(), stderr);
    return walvault::exit_code(e.code());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "walvault: error: internal error: %s\nHINT: this is a bug; please report it\n", e.what());
    return walvault::exit_code(walvault::ErrorCode::kInternal);
  }
}
