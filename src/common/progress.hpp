// ProgressMeter: how far a long operation has come, for the person waiting for it. On a terminal (stderr is a
// tty) one line, rewritten at most four times a second: what, bytes done, of how many (when known), the rate and
// the time left; the line is cleared when the meter goes. Otherwise (a service, a cron job, a pipe) a log line
// every 30 seconds, so that a journal shows the work moving. Never stdout: --json output stays clean.
// note() says something about the wait itself ("waiting for the server's checkpoint") as a log line.
// Not thread-safe; throws nothing.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace walvault {

class ProgressMeter {
 public:
  enum class Unit { kBytes, kObjects };
  explicit ProgressMeter(std::string what, uint64_t total = 0, Unit unit = Unit::kBytes);
  ~ProgressMeter();
  ProgressMeter(const ProgressMeter&) = delete;
  ProgressMeter& operator=(const ProgressMeter&) = delete;

  void set_total(uint64_t total) { total_ = total; }
  // done: bytes (or objects) so far; detail: what is being worked on (an object name), on a terminal only.
  void update(uint64_t done, std::string_view detail = {});
  void note(std::string_view message);

 private:
  [[nodiscard]] std::string text(uint64_t done) const;
  void clear();

  std::string what_;
  uint64_t total_;
  Unit unit_;
  bool tty_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point last_;
};

}  // namespace walvault
