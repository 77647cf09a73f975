#include "common/log.hpp"

#include <atomic>
#include <cstdio>
#include <string>

namespace walvault::log {
namespace {

std::atomic<Level> g_level{Level::kInfo};

void emit(Level level, std::string_view label, std::string_view message) {
  if (!enabled(level)) return;
  std::string line = "walvault: ";
  line += label;
  line += message;
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace

void set_level(Level level) noexcept { g_level.store(level); }
bool enabled(Level level) noexcept { return static_cast<int>(level) <= static_cast<int>(g_level.load()); }

void error(std::string_view message) { emit(Level::kError, "error: ", message); }
void warning(std::string_view message) { emit(Level::kWarning, "warning: ", message); }
void info(std::string_view message) { emit(Level::kInfo, "", message); }
void debug(std::string_view message) { emit(Level::kDebug, "debug: ", message); }

}  // namespace walvault::log
