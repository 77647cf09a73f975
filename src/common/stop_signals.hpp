// SIGINT and SIGTERM as a request to stop: the one signal handler of walvault's long-running commands (stream,
// preview). The handler only sets a flag; commands poll it or wait for it.
#pragma once

#include <atomic>

namespace walvault {

// Installs the handler (without SA_RESTART, so a blocking poll() returns and the command sees the flag at once).
// Returns the flag it sets. Idempotent.
std::atomic<bool>& install_stop_handlers();
// Blocks until a stop signal arrived (returns at once when one already did). Needs install_stop_handlers().
void wait_for_stop();

}  // namespace walvault
