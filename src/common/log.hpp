// Logging to stderr. Human output of commands goes to stdout; diagnostics go here.
// Lines look like "walvault: warning: message". Verbosity is process-wide and set once by the CLI.
#pragma once

#include <string_view>

namespace walvault::log {

enum class Level { kError = 0, kWarning = 1, kInfo = 2, kDebug = 3 };

void set_level(Level level) noexcept;
[[nodiscard]] bool enabled(Level level) noexcept;

void error(std::string_view message);
void warning(std::string_view message);
void info(std::string_view message);
void debug(std::string_view message);

}  // namespace walvault::log
