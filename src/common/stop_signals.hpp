// SIGINT and SIGTERM as a request to stop: the one signal handler of walvault's long-running commands (stream, and
// the commands that run a side copy: drill, preview, recover). The handler only sets a flag; commands poll it, wait
// for it, or stop at their next step.
#pragma once

#include <atomic>
#include <string>

namespace walvault {

// Installs the handler (without SA_RESTART, so a blocking poll() returns and the command sees the flag at once).
// Returns the flag it sets. Idempotent.
std::atomic<bool>& install_stop_handlers();
// Throws kInterrupted ("<what> stopped by SIGINT or SIGTERM") when a stop signal arrived: for commands that stop at
// their next step, so that destructors remove what they created (a side copy). Needs install_stop_handlers().
void throw_if_stopped(const std::string& what);
// Blocks until a stop signal arrived (returns at once when one already did). Needs install_stop_handlers().
void wait_for_stop();

}  // namespace walvault
