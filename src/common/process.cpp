#include "common/process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <filesystem>

#include "common/error.hpp"

namespace walvault {

std::string self_executable() {
  std::error_code ec;
  const auto path = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) throw Error(ErrorCode::kIo, "cannot find this program's path (/proc/self/exe): " + ec.message());
  return path.string();
}

namespace {

// Binds a TCP socket to 127.0.0.1:port (0: any), as PostgreSQL's listener does (SO_REUSEADDR); the bound port, or
// nullopt with errno set.
std::optional<int> bind_loopback(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  socklen_t len = sizeof addr;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  const int saved = errno;
  ::close(fd);
  errno = saved;
  if (!ok) return std::nullopt;
  return ntohs(addr.sin_port);
}

}  // namespace

int free_loopback_port() {
  const auto port = bind_loopback(0);
  if (!port) throw Error(ErrorCode::kIo, std::string("cannot pick a free port: ") + std::strerror(errno), "give --port");
  return *port;
}

bool loopback_port_free(int port) { return bind_loopback(port).has_value(); }

ProgramResult run_program(const std::vector<std::string>& argv, std::size_t max_output, Capture capture) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    throw Error(ErrorCode::kIo, "cannot run " + argv.front() + ": " + std::strerror(errno));
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    throw Error(ErrorCode::kIo, "cannot run " + argv.front() + ": " + std::strerror(errno));
  }
  if (pid == 0) {
    ::dup2(pipe_fds[1], STDOUT_FILENO);
    if (capture == Capture::kStdoutAndStderr) ::dup2(pipe_fds[1], STDERR_FILENO);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  ProgramResult result;
  char buf[4096];
  ssize_t n = 0;
  // Read to the end even past max_output, so the child never blocks on a full pipe.
  while ((n = ::read(pipe_fds[0], buf, sizeof buf)) != 0) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    if (result.output.size() < max_output) result.output.append(buf, static_cast<std::size_t>(n));
  }
  ::close(pipe_fds[0]);
  if (result.output.size() > max_output) result.output.resize(max_output);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

}  // namespace walvault
