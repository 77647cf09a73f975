#include "command/check.hpp"

#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <vector>

#include "archive/stream_state.hpp"
#include "archive/verify_state.hpp"
#include "common/clock.hpp"
#include "common/error.hpp"
#include "format/segment_container.hpp"
#include "pg/connection.hpp"
#include "pg/replication.hpp"
#include "repo/lock.hpp"
#include "repo/repository.hpp"
#include "repo/wal_chains.hpp"
#include "restore/backup_catalog.hpp"

namespace walvault::command {
namespace {

struct Check {
  std::string name;
  bool ok = false;
  std::string detail;
};

// The durable end of a streamer that has a tip (nullopt otherwise). A damaged state is a failed check, not "unknown".
std::optional<wal::Lsn> durable_lsn(const storage::Storage& storage, std::string& damage) {
  try {
    return archive::positioned_durable_lsn(archive::read_stream_state(storage));
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kCorrupt) throw;
    damage = e.what();
  }
  return std::nullopt;
}

// Forces a WAL switch and waits until the segment it completed is archived in the repository.
Check archiving(const repo::Repository& repository, wal::TimelineId timeline, std::chrono::seconds timeout) {
  Check c{"archiving", false, ""};
  std::optional<wal::Lsn> end;
  try {
    const pg::Connection conn(repository.config.conninfo, pg::Mode::kRegular);
    end = wal::Lsn::parse(conn.exec("SELECT pg_switch_wal()").value(0, 0));
  } catch (const Error& e) {
    c.detail = std::string("cannot force a WAL switch: ") + e.what();
    return c;
  }
  if (!end || end->value() == 0) {
    c.detail = "the server returned no WAL position for its switch";
    return c;
  }
  const uint32_t seg = repository.config.segment_size;
  const wal::SegmentNo completed = wal::segment_of(wal::Lsn(end->value() - 1), seg);
  const std::string object = format::segment_object_name(timeline, completed, seg);
  const auto started = std::chrono::steady_clock::now();
  while (!repository.storage->info(object)) {
    if (std::chrono::steady_clock::now() - started > timeout) {
      c.detail = "the server switched WAL at " + end->to_string() + ", and " + object + " was not archived within " +
                 std::to_string(timeout.count()) + " s";
      return c;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  c.ok = true;
  c.detail = "a WAL switch at " + end->to_string() + " was archived as " + object + " in " +
             std::to_string(static_cast<int>(took * 1000)) + " ms";
  return c;
}

std::vector<Check> run_checks(const repo::Repository& repository, const CheckOptions& options) {
  std::vector<Check> out;
  const auto& config = repository.config;
  std::string state_damage;
  const std::optional<wal::Lsn> durable = durable_lsn(*repository.storage, state_damage);
  const std::vector<repo::ChainBreak> breaks = repo::read_chain_breaks(*repository.storage);
  std::optional<pg::SystemIdentity> identity;
  Check server{"server", false, ""};
  Check slot{"slot", false, ""};
  try {
    pg::LibpqReplicationSource source(config.conninfo);
    identity = source.identify_system();
    if (identity->system_identifier != config.system_identifier) {
      server.detail = "the server is database system " + std::to_string(identity->system_identifier) +
                      ", the repository's is " + std::to_string(config.system_identifier);
      identity.reset();
    } else {
      server.ok = true;
      server.detail = "database system " + std::to_string(config.system_identifier) + ", timeline " +
                      std::to_string(identity->timeline.value()) + ", at " + identity->flush_lsn.to_string();
      const auto problem =
          pg::slot_problem(config.slot, source.read_slot(config.slot),
                           repo::slot_needed_from(durable, breaks),
                           config.segment_size);
      slot.ok = !problem;
      slot.detail = problem ? *problem : "\"" + config.slot + "\" reserves WAL for the repository";
    }
  } catch (const Error& e) {
    server.detail = e.what();
  }
  if (!server.ok) slot.detail = "not checked: the server is not reachable as the repository's cluster";
  out.push_back(server);
  out.push_back(slot);

  const auto pid = repo::RepositoryLock::holder(*repository.storage, repo::kStreamLockName);
  out.push_back({"streamer", pid.has_value() && state_damage.empty(),
                 !state_damage.empty() ? state_damage
                 : pid ? "running (" + repo::describe(*pid) + ")"
                       : std::string("not running: no WAL is being captured")});

  if (identity && pid) {
    out.push_back(archiving(repository, identity->timeline, std::chrono::seconds(options.timeout_seconds)));
  } else {
    out.push_back({"archiving", false, "not checked: needs the server and a running streamer"});
  }

  const restore::BackupCatalog catalog = restore::read_backup_catalog(*repository.storage);
  const auto& backups = catalog.backups;
  const auto age = restore::newest_backup_age_seconds(backups, std::chrono::system_clock::now());
  const std::optional<double> newest = age ? std::optional(*age / 3600) : std::nullopt;
  if (!catalog.damaged.empty()) {
    out.push_back({"backup", false, catalog.damaged.front().what()});
  } else if (!newest) {
    out.push_back({"backup", false, "the repository holds no backup"});
  } else if (const auto unbacked = repo::chain_without_backup(breaks, restore::backup_starts(backups))) {
    out.push_back({"backup", false, *unbacked});
  } else {
    out.push_back({"backup", *newest <= options.max_backup_age_hours,
                   "the newest backup is " + std::to_string(static_cast<int>(*newest)) + " hours old (at most " +
                       std::to_string(options.max_backup_age_hours) + ")"});
  }

  const archive::VerifyState verified = archive::read_verify_state(*repository.storage);
  if (verified.finished.empty()) {
    out.push_back({"verify", false, "no verify has recorded its result: run 'walvault verify'"});
  } else if (!verified.damaged.empty()) {
    out.push_back({"verify", false, "the last verify (" + verified.finished + ") found " +
                                        std::to_string(verified.damaged.size()) + " damaged object(s), the first " +
                                        verified.damaged.front()});
  } else {
    out.push_back({"verify", true, "the last verify (" + verified.finished + ") found nothing damaged"});
  }
  return out;
}

}  // namespace

int run_check(const CheckOptions& options) {
  const repo::Repository repository = repo::open_repository(options.repo);
  const std::vector<Check> checks = run_checks(repository, options);
  bool ok = true;
  for (const auto& c : checks) ok = ok && c.ok;
  if (options.json) {
    nlohmann::ordered_json j;
    j["ok"] = ok;
    j["checks"] = nlohmann::ordered_json::array();
    for (const auto& c : checks) j["checks"].push_back({{"name", c.name}, {"ok", c.ok}, {"detail", c.detail}});
    std::cout << j.dump(2) << "\n";
  } else {
    for (const auto& c : checks) std::cout << (c.ok ? "ok   " : "FAIL ") << c.name << ": " << c.detail << "\n";
    std::cout << (ok ? "check passed\n" : "check FAILED\n");
  }
  return ok ? 0 : kCheckFailedExit;
}

}  // namespace walvault::command
