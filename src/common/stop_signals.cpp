#include "common/stop_signals.hpp"

#include <csignal>

#include "common/error.hpp"

namespace walvault {
namespace {

std::atomic<bool> g_stop{false};

extern "C" void on_stop_signal(int /*signal*/) { g_stop.store(true); }

}  // namespace

std::atomic<bool>& install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  return g_stop;
}

void throw_if_stopped(const std::string& what) {
  if (g_stop.load()) {
    throw Error(ErrorCode::kInterrupted, what + " stopped by SIGINT or SIGTERM before it finished",
                "what it had created is removed; run it again");
  }
}

void wait_for_stop() {
  sigset_t stops;
  sigemptyset(&stops);
  sigaddset(&stops, SIGINT);
  sigaddset(&stops, SIGTERM);
  sigset_t old;
  sigprocmask(SIG_BLOCK, &stops, &old);  // no signal slips in between the check and the wait
  sigset_t waiting = old;
  sigdelset(&waiting, SIGINT);
  sigdelset(&waiting, SIGTERM);
  while (!g_stop.load()) sigsuspend(&waiting);
  sigprocmask(SIG_SETMASK, &old, nullptr);
}

}  // namespace walvault
