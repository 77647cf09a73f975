#include "command/verify.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <set>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "archive/verifier.hpp"
#include "archive/verify_state.hpp"
#include "common/clock.hpp"
#include "common/error.hpp"
#include "common/progress.hpp"
#include "repo/lock.hpp"
#include "repo/repository.hpp"

namespace walvault::command {
namespace {

using nlohmann::json;

constexpr const char* kVerifyLockName = "verify";

double mib(uint64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

// CPU time (user + system) this process has used so far, in seconds.
double cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

std::string range_text(const archive::Problem& p) {
  std::string text;
  if (p.timeline) text += "timeline " + std::to_string(p.timeline->value());
  if (p.from) {
    text += (text.empty() ? "" : ", ") + p.from->to_string() + (p.to ? ".." + p.to->to_string() : "");
  }
  return text;
}

json problem_json(const archive::Problem& p) {
  json j = {{"kind", archive::problem_kind_name(p.kind)}, {"object", p.object}, {"message", p.message}};
  j["timeline"] = p.timeline ? json(p.timeline->value()) : json(nullptr);
  j["from_lsn"] = p.from ? json(p.from->to_string()) : json(nullptr);
  j["to_lsn"] = p.to ? json(p.to->to_string()) : json(nullptr);
  return j;
}

void print_human(const archive::VerifyReport& report, bool full, double seconds) {
  for (const auto& p : report.problems) {
    const std::string range = range_text(p);
    std::printf("PROBLEM %s: %s%s%s\n", std::string(archive::problem_kind_name(p.kind)).c_str(),
                p.object.empty() ? "" : (p.object + ": ").c_str(), p.message.c_str(),
                range.empty() ? "" : (" [" + range + "]").c_str());
  }
  for (const auto& gap : report.declared_gaps) std::printf("declared gap: %s\n", gap.c_str());
  const auto& c = report.counts;
  std::printf("verify (%s): %llu segments (%llu checked), %llu backups (%llu checked), %llu index runs (%llu checked), "
              "%llu history files\n",
              full ? "full" : "incremental", static_cast<unsigned long long>(c.segments),
              static_cast<unsigned long long>(c.segments_checked), static_cast<unsigned long long>(c.backups),
              static_cast<unsigned long long>(c.backups_checked), static_cast<unsigned long long>(c.index_runs),
              static_cast<unsigned long long>(c.index_runs_checked), static_cast<unsigned long long>(c.history_files));
  std::printf("  %.1f MiB raw checked (%.1f MiB read) in %.2f s (%.0f MiB/s raw)\n", mib(c.raw_bytes),
              mib(c.stored_bytes), seconds, seconds > 0 ? mib(c.raw_bytes) / seconds : 0.0);
  std::printf("%s\n", report.problems.empty() ? "ok: no problems found"
                                              : (std::to_string(report.problems.size()) + " problem(s) found").c_str());
}

void print_json(const archive::VerifyReport& report, bool full, double seconds, double cpu) {
  const auto& c = report.counts;
  json doc = {{"ok", report.problems.empty()},
              {"full", full},
              {"elapsed_seconds", seconds},
              {"cpu_seconds", cpu},
              {"problems", json::array()},
              {"declared_gaps", report.declared_gaps},
              {"counts",
               {{"segments", c.segments},
                {"segments_checked", c.segments_checked},
                {"backups", c.backups},
                {"backups_checked", c.backups_checked},
                {"index_runs", c.index_runs},
                {"index_runs_checked", c.index_runs_checked},
                {"history_files", c.history_files},
                {"raw_bytes", c.raw_bytes},
                {"stored_bytes", c.stored_bytes}}}};
  for (const auto& p : report.problems) doc["problems"].push_back(problem_json(p));
  std::puts(doc.dump(2).c_str());
}

}  // namespace

int run_verify(const VerifyOptions& options) {
  const repo::Repository repository = repo::open_repository(options.repo);
  storage::Storage& storage = *repository.storage;
  const repo::RepositoryLock lock(storage, kVerifyLockName, "verify");

  const archive::VerifyState previous = options.full ? archive::VerifyState{} : archive::read_verify_state(storage);
  const auto started = std::chrono::steady_clock::now();
  const double cpu_started = cpu_seconds();
  archive::VerifyReport report;
  {
    // Cleared from the terminal before the report prints; none with --json (whose reader may share stderr).
    std::optional<ProgressMeter> progress;
    if (!options.json) progress.emplace("verify");
    archive::VerifyOptions verify_options;
    verify_options.full = options.full;
    verify_options.recheck = archive::Recheck{
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count(),
        options.recheck_days};
    if (progress) {
      verify_options.progress = [&progress](const archive::VerifyProgress& p) {
        progress->set_total(p.total);
        progress->update(p.done, p.object);
      };
    }
    report = archive::verify_repository(storage, repository.config, previous, verify_options);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const double cpu = cpu_seconds() - cpu_started;
  // The run's result is kept with the state: list, status and restore planning read it.
  report.state.finished = format_time(std::chrono::system_clock::now());
  report.state.full = options.full;
  std::set<std::string> damaged;
  for (const auto& p : report.problems) {
    if (!p.object.empty()) damaged.insert(p.object);
  }
  report.state.damaged.assign(damaged.begin(), damaged.end());
  archive::write_verify_state(storage, report.state);
  if (options.json) {
    print_json(report, options.full, seconds, cpu);
  } else {
    print_human(report, options.full, seconds);
  }
  std::fflush(stdout);
  if (!report.problems.empty()) {
    throw Error(ErrorCode::kCorrupt,
                "verify found " + std::to_string(report.problems.size()) + " problem(s) in the repository",
                "see the list above; restore from a backup whose WAL and objects verify clean, and take a new backup");
  }
  return 0;
}

}  // namespace walvault::command
