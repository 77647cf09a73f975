// Test support: run programs the way a user would, and capture what they print.
//
// run() waits for the program and returns its exit status and output. Background starts a program and leaves
// it running (a streamer, a server) until stop() or destruction, which sends SIGTERM and then SIGKILL.
// When the tests run as root, as_postgres() prefixes a command with `runuser -u postgres --`, because
// PostgreSQL refuses to run as root and the files it reads must belong to the same user.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace walvault::test {

struct ProcessResult {
  int exit_code = -1;  // 128 + signal when killed by a signal
  std::string out;
  std::string err;
};

// Runs argv[0] (searched in PATH) with extra "NAME=value" environment entries; stdin is /dev/null or `input`.
ProcessResult run(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
                  const std::string& input = {});

// `runuser -u postgres --` + argv when the effective user is root, argv otherwise.
std::vector<std::string> as_postgres(std::vector<std::string> argv);

// The whole content of a text file ("" when it cannot be read).
std::string read_text(const std::string& path);

// True when the tests run as root (and so run PostgreSQL and walvault as the postgres OS user).
bool running_as_root();

// Makes path (and everything under it) belong to the postgres OS user when running as root.
void give_to_postgres(const std::string& path);

class Background {
 public:
  Background(const std::vector<std::string>& argv, const std::string& log_path,
             const std::vector<std::string>& env = {});
  ~Background();
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;

  [[nodiscard]] pid_t pid() const { return pid_; }
  [[nodiscard]] bool running();
  // Sends sig and waits up to timeout for exit; returns the exit code (128 + signal if killed), or -1 if the
  // process is still running after the timeout.
  int stop(int sig, std::chrono::milliseconds timeout = std::chrono::seconds(30));

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  bool reaped_ = false;
};

// Polls pred every 50 ms until it returns true or timeout passes; returns pred's last answer.
template <typename Pred>
bool wait_until(Pred pred, std::chrono::milliseconds timeout);

}  // namespace walvault::test

#include <thread>

template <typename Pred>
bool walvault::test::wait_until(Pred pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return pred();
}
