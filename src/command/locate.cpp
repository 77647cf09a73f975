#include "command/locate.hpp"

#include <cstdio>
#include <filesystem>

#include "common/time_text.hpp"
#include "repo/repository.hpp"
#include "restore/plan_inputs.hpp"

namespace walvault::command {
namespace {

std::string commit_line(const std::optional<format::CommitEntry>& c) {
  if (!c) return "none";
  return print_time(c->time) + "  xid " + std::to_string(c->xid) + "  LSN " + c->lsn.to_string() +
         (c->aborted ? "  (abort)" : "");
}

}  // namespace

nlohmann::ordered_json commit_json(const std::optional<format::CommitEntry>& commit) {
  if (!commit) return nullptr;
  return {{"time", print_time(commit->time)},
          {"xid", commit->xid},
          {"lsn", commit->lsn.to_string()},
          {"end_lsn", commit->end_lsn.to_string()},
          {"aborted", commit->aborted}};
}

int run_locate(const LocateOptions& options) {
  const int64_t t = time_option("--time", options.time);
  const repo::Repository repository =
      repo::open_repository(repo::absolute(options.repo));
  const storage::Storage& storage = *repository.storage;
  const uint32_t seg = repository.config.segment_size;
  wal::TimelineId tli = repository.config.timeline;
  if (options.timeline) {
    tli = wal::TimelineId(*options.timeline);
  } else if (const auto newest = restore::newest_timeline(storage, seg)) {
    tli = *newest;
  }
  const auto found = restore::lookup_time_on(storage, restore::read_branch(storage, tli, seg), t, seg);
  if (options.json) {
    nlohmann::ordered_json j;
    j["time"] = print_time(t);
    j["timeline"] = tli.value();
    j["last_at_or_before"] = commit_json(found.last_at_or_before);
    j["first_after"] = commit_json(found.first_after);
    std::fputs((j.dump(2) + "\n").c_str(), stdout);
    return 0;
  }
  std::string out = "time " + print_time(t) + " on timeline " + std::to_string(tli.value()) + "\n";
  out += "  last commit at or before: " + commit_line(found.last_at_or_before) + "\n";
  out += "  first commit after:       " + commit_line(found.first_after) + "\n";
  if (!found.first_after) {
    out += "  (no archived commit after this time: a restore to it cannot stop there; use --latest)\n";
  }
  std::fputs(out.c_str(), stdout);
  return 0;
}

}  // namespace walvault::command
