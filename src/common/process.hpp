// Child programs and the process's own identity, for the commands that run PostgreSQL's tools.
//
// self_executable() is this walvault binary's absolute path (restore_command and the wal-fetch prefetcher call
// it back). free_loopback_port() picks a TCP port on 127.0.0.1 that was free a moment ago. run_program() runs a
// program by path, waits for it, and returns its exit status (128 + signal when killed) with the first
// max_output bytes of its stdout and stderr together. Failures to start anything throw Error(kIo).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace walvault {

[[nodiscard]] std::string self_executable();

[[nodiscard]] int free_loopback_port();
// Whether a server could listen on 127.0.0.1:port now.
[[nodiscard]] bool loopback_port_free(int port);

struct ProgramResult {
  int exit_code = -1;
  std::string output;
};
// What output captures: stdout and stderr together, or stdout alone (stderr then goes where walvault's goes: a key
// command's own messages reach the user, and its output is only the key).
enum class Capture { kStdoutAndStderr, kStdout };
ProgramResult run_program(const std::vector<std::string>& argv, std::size_t max_output = 4096,
                          Capture capture = Capture::kStdoutAndStderr);

}  // namespace walvault
