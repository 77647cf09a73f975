// walvault::Error: the one exception type of the IO layer (src/).
//
// IO code throws Error for failures that end the operation. Each carries a stable ErrorCode that main.cpp maps
// to a documented exit code, a lowercase one-line message naming the problem, an optional hint telling the
// user what to do, whether retrying may help (used by the streamer's reconnect loop), and, where a caller reacts
// to the reason rather than the class, its cause (a full disk: the streamer waits for space instead of exiting).
// The pure modules (wal/, format/) never throw: they return expected-style results that src/ converts.
#pragma once

#include <stdexcept>
#include <string>

namespace walvault {

// Stable error classes. The exit code of each is documented in README.md ("Exit codes"); never renumber.
enum class ErrorCode : int {
  kInternal = 1,         // a bug or an unexpected condition
  kUsage = 2,            // bad command-line arguments or options
  kRepository = 3,       // repository missing, foreign, locked, or malformed
  kConnection = 4,       // cannot talk to PostgreSQL, or it refused the request
  kCorrupt = 5,          // a checksum or continuity check failed: data cannot be trusted
  kNotRestorable = 6,    // the requested target cannot be reached from what the repository holds
  kIo = 7,               // the local filesystem failed (disk full, permissions)
  kUnsafe = 8,           // refused because it could destroy data (non-empty target dir, running server)
  kNotFound = 9,         // the requested object (event, backup, segment) does not exist
  kKey = 12,             // an encrypted repository's key is missing, unreadable, or not its key (10 and 11 are
                         // `status`'s degraded and broken)
  kInterrupted = 13,     // stopped by SIGINT or SIGTERM before it finished (what it had created is removed)
};

// Why an error happened, for callers that react to the reason itself.
enum class ErrorCause {
  kUnspecified,
  kDiskFull,  // the filesystem (or the user's quota) is full: kIo, retryable once space returns
  kWalRemoved,  // the server no longer has the WAL asked for (SQLSTATE 58P01 from the walsender): not retryable
  kConcurrentWrite,  // another transaction's write collided with this one's (SQLSTATE 23505 unique violation,
                     // 40001 serialization failure, 40P01 deadlock): rolled back, the transaction can run again
};

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, std::string message, std::string hint = {}, bool retryable = false,
        ErrorCause cause = ErrorCause::kUnspecified)
      : std::runtime_error(std::move(message)),
        code_(code),
        hint_(std::move(hint)),
        retryable_(retryable),
        cause_(cause) {}

  [[nodiscard]] ErrorCode code() const noexcept { return code_; }
  [[nodiscard]] const std::string& hint() const noexcept { return hint_; }
  [[nodiscard]] bool retryable() const noexcept { return retryable_; }
  [[nodiscard]] ErrorCause cause() const noexcept { return cause_; }

 private:
  ErrorCode code_;
  std::string hint_;
  bool retryable_;
  ErrorCause cause_;
};

// The process exit code for an error class.
[[nodiscard]] constexpr int exit_code(ErrorCode code) noexcept { return static_cast<int>(code); }

// The error class as a stable lowercase word ("usage", "repository", ...), for --json error reports.
[[nodiscard]] constexpr const char* error_code_name(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::kInternal: return "internal";
    case ErrorCode::kUsage: return "usage";
    case ErrorCode::kRepository: return "repository";
    case ErrorCode::kConnection: return "connection";
    case ErrorCode::kCorrupt: return "corrupt";
    case ErrorCode::kNotRestorable: return "not_restorable";
    case ErrorCode::kIo: return "io";
    case ErrorCode::kUnsafe: return "unsafe";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kKey: return "key";
    case ErrorCode::kInterrupted: return "interrupted";
  }
  return "internal";
}

}  // namespace walvault
