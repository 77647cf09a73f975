#include "common/progress.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "common/log.hpp"

namespace walvault {
namespace {

constexpr auto kTerminalInterval = std::chrono::milliseconds(250);
constexpr auto kLogInterval = std::chrono::seconds(30);

std::string mib(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return buf;
}

std::string duration(double seconds) {
  const auto s = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, s % 3600 / 60);
  } else if (s >= 60) {
    std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%lds", s);
  }
  return buf;
}

}  // namespace

ProgressMeter::ProgressMeter(std::string what, uint64_t total, Unit unit)
    : what_(std::move(what)),
      total_(total),
      unit_(unit),
      tty_(::isatty(STDERR_FILENO) == 1),
      started_(std::chrono::steady_clock::now()),
      last_(started_) {}

ProgressMeter::~ProgressMeter() { clear(); }

std::string ProgressMeter::text(uint64_t done) const {
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  const auto amount = [this](uint64_t n) {
    return unit_ == Unit::kBytes ? mib(n) : std::to_string(n) + (n == 1 ? " object" : " objects");
  };
  std::string out = what_ + ": " + amount(done);
  if (total_ > 0) {
    out += " of " + amount(total_) + " (" + std::to_string(std::min<uint64_t>(100, done * 100 / total_)) + "%)";
  }
  if (seconds >= 1 && done > 0) {
    const double rate = static_cast<double>(done) / seconds;
    if (unit_ == Unit::kBytes) out += ", " + mib(static_cast<uint64_t>(rate)) + "/s";
    if (total_ > done) out += ", " + duration(static_cast<double>(total_ - done) / rate) + " left";
  }
  return out;
}

void ProgressMeter::update(uint64_t done, std::string_view detail) {
  const auto now = std::chrono::steady_clock::now();
  if (tty_) {
    if (shown_ && now - last_ < kTerminalInterval) return;
    last_ = now;
    shown_ = true;
    std::string line = "\r\033[K" + text(done);
    if (!detail.empty()) line += "  " + std::string(detail);
    std::fputs(line.c_str(), stderr);
    std::fflush(stderr);
    return;
  }
  if (now - last_ < kLogInterval) return;
  last_ = now;
  log::info(text(done));
}

void ProgressMeter::note(std::string_view message) {
  clear();
  log::info(message);
}

void ProgressMeter::clear() {
  if (!shown_) return;
  std::fputs("\r\033[K", stderr);
  std::fflush(stderr);
  shown_ = false;
}

}  // namespace walvault
