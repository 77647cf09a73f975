// walvault's entry point: dispatch to the CLI, and the single place that catches errors and maps them to exit
// codes (see README.md, "Exit codes").
#include <cstdio>
#include <exception>
#include <string>

#include "cli/cli.hpp"
#include "common/error.hpp"

namespace {

int report(int argc, char** argv, walvault::ErrorCode code, const std::string& message, const std::string& hint) {
  std::fputs(walvault::cli::error_report(argc, argv, code, message, hint).c_str(), stderr);
  return walvault::exit_code(code);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return walvault::cli::run(argc, argv);
  } catch (const walvault::Error& e) {
    return report(argc, argv, e.code(), e.what(), e.hint());
  } catch (const std::exception& e) {
    return report(argc, argv, walvault::ErrorCode::kInternal, std::string("internal error: ") + e.what(),
                  "this is a bug; please report it");
  }
}
