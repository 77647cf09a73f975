#include "command/expire.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "archive/retention.hpp"
#include "archive/timeline_history.hpp"
#include "common/clock.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "common/progress.hpp"
#include "repo/lock.hpp"
#include "repo/pins.hpp"
#include "repo/repository.hpp"
#include "restore/backup_catalog.hpp"
#include "restore/plan_inputs.hpp"
#include "storage/index_store.hpp"

namespace walvault::command {
namespace {

using nlohmann::json;

// The lock `walvault backup` holds (command/backup.cpp): expire and backup exclude each other.
// Temporary files of object writes older than this are a killed process's leftovers (a live writer holds an flock
// on its own, so the age only keeps the sweep away from writes that have just started or finished).
constexpr std::chrono::hours kTemporaryFileAge{1};

// What expire did (or would do) besides retention: index compaction and the sweep of leftover temporary files.
struct Maintenance {
  std::vector<storage::CompactionPlan> compactions;
  std::vector<storage::ObjectInfo> temporaries;
};

archive::TimelineTree read_timelines(const storage::Storage& storage) {
  archive::TimelineTree tree;
  for (auto& [tli, entries] : restore::read_histories(storage)) tree.add(tli, std::move(entries));
  return tree;
}

std::vector<archive::RetentionBackup> retention_backups(const std::vector<restore::BackupEntry>& entries) {
  std::vector<archive::RetentionBackup> out;
  for (const auto& entry : entries) {
    const auto stop = parse_time(entry.stop_time);
    if (!stop) {
      throw Error(ErrorCode::kCorrupt, "backup " + entry.id + " has an unreadable stop time \"" + entry.stop_time + "\"",
                  "run 'walvault verify'");
    }
    out.push_back(archive::RetentionBackup{entry.id, entry.timeline, entry.start_lsn, *stop});
  }
  return out;
}

void print_human(const archive::ExpirePlan& plan, const std::vector<repo::PinInfo>& pins,
                 const Maintenance& maintenance, bool dry_run) {
  const char* verb = dry_run ? "would remove" : "removed";
  std::printf("keeping %zu backup(s):", plan.kept_backups.size());
  for (const auto& id : plan.kept_backups) std::printf(" %s", id.c_str());
  std::printf("\n");
  for (const auto& pin : pins) {
    std::printf("keeping backup %s: pinned by %s since %s (pins/%s.json; removed when that recovery ends)\n",
                pin.backup_id.c_str(), pin.reader.c_str(), pin.created.c_str(), pin.id.c_str());
  }
  for (const auto& id : plan.expired_backups) std::printf("%s backup %s\n", verb, id.c_str());
  for (const auto& name : plan.wal_objects) std::printf("%s %s\n", verb, name.c_str());
  for (const auto& name : plan.index_objects) std::printf("%s %s\n", verb, name.c_str());
  std::printf("%s %zu backup(s), %zu WAL segment(s), %zu index run(s)\n", dry_run ? "would remove" : "removed",
              plan.expired_backups.size(), plan.wal_objects.size(), plan.index_objects.size());
  for (const auto& c : maintenance.compactions) {
    std::size_t merged = 0;
    for (const auto& group : c.merges) merged += group.size();
    std::printf("%s the index of timeline %u: %zu run(s) -> %zu (%zu merged into %zu, %zu covered leftover(s) %s)\n",
                dry_run ? "would compact" : "compacted", c.timeline.value(), c.runs_before, c.runs_after(), merged,
                c.merges.size(), c.covered.size(), dry_run ? "to remove" : "removed");
  }
  for (const auto& t : maintenance.temporaries) {
    std::printf("%s leftover temporary file %s (%llu bytes)\n", verb, t.name.c_str(),
                static_cast<unsigned long long>(t.size));
  }
}

void print_json(const archive::ExpirePlan& plan, const std::vector<repo::PinInfo>& pins,
                const Maintenance& maintenance, bool dry_run, uint32_t segment_size) {
  // Per timeline, the first segment kept.
  json cut = json::object();
  for (const auto& [tli, segno] : plan.wal_cut) {
    cut[std::to_string(tli)] = wal::segment_file_name(wal::TimelineId(tli), segno, segment_size);
  }
  json doc = {{"dry_run", dry_run},
                    {"wal_kept_from", cut},
                    {"kept_backups", plan.kept_backups},
                    {"expired_backups", plan.expired_backups},
                    {"wal_objects", plan.wal_objects},
                    {"index_objects", plan.index_objects}};
  json compactions = json::array();
  for (const auto& c : maintenance.compactions) {
    compactions.push_back({{"timeline", c.timeline.value()},
                           {"runs_before", c.runs_before},
                           {"runs_after", c.runs_after()},
                           {"merged", c.merges},
                           {"covered", c.covered}});
  }
  json temporaries = json::array();
  for (const auto& t : maintenance.temporaries) temporaries.push_back({{"name", t.name}, {"size", t.size}});
  json pinned = json::array();
  for (const auto& pin : pins) {
    pinned.push_back({{"pin", pin.id}, {"backup", pin.backup_id}, {"reader", pin.reader}, {"created", pin.created}});
  }
  doc["pins"] = std::move(pinned);
  doc["index_compaction"] = std::move(compactions);
  doc["temporary_files"] = std::move(temporaries);
  std::puts(doc.dump(2).c_str());
}

}  // namespace

int run_expire(const ExpireOptions& options) {
  if (options.keep_backups.has_value() == options.keep_days.has_value()) {
    throw Error(ErrorCode::kUsage, "expire needs exactly one of --keep-backups and --keep-days",
                "for example: walvault expire --keep-backups 7");
  }
  if ((options.keep_backups && *options.keep_backups == 0) || (options.keep_days && *options.keep_days == 0)) {
    throw Error(ErrorCode::kUsage, "expire must keep at least one backup and one day", "give a positive number");
  }
  const repo::Repository repository = repo::open_repository(options.repo);
  storage::Storage& storage = *repository.storage;
  const repo::RepositoryLock lock(storage, repo::kBackupLockName, "backup or expire");

  const auto now = SystemClock().now();
  archive::RetentionPolicy policy;
  policy.now = now;
  if (options.keep_backups) policy.keep_backups = *options.keep_backups;
  if (options.keep_days) policy.keep_for = std::chrono::hours(24) * *options.keep_days;

  // Under the pin lock until the removals are done: a restore or drill plans and pins under it (repo/pins.hpp).
  const auto pin_lock = storage.lock(repo::kPinLockName, storage::LockWait::kWait);
  const std::vector<repo::PinInfo> pins = repo::read_pins(storage);
  for (const auto& pin : pins) policy.pinned.insert(pin.backup_id);

  std::vector<std::string> names;
  for (const auto& object : storage.list("wal/")) names.push_back(object.name);
  for (const auto& object : storage.list("index/")) names.push_back(object.name);
  const archive::ExpirePlan plan =
      archive::plan_expire(retention_backups(restore::read_backups(storage)), policy, read_timelines(storage), names,
                           repository.config.segment_size);

  // Index runs are removed and compacted under the index lock: the streamer skips its own small compactions
  // meanwhile, so two processes never merge overlapping runs.
  std::unique_ptr<storage::StorageLock> index_lock;
  if (!options.dry_run) {
    index_lock = storage.lock(storage::kIndexLockName, storage::LockWait::kWait);
    ProgressMeter progress("expire", plan.wal_objects.size() + plan.index_objects.size(),
                           ProgressMeter::Unit::kObjects);
    for (const auto& id : plan.expired_backups) {
      restore::remove_backup(storage, id);
      progress.note("removed backup " + id);
    }
    uint64_t removed = 0;
    for (const auto* objects : {&plan.wal_objects, &plan.index_objects}) {
      for (const auto& name : *objects) {
        storage.remove(name);
        progress.update(++removed, name);
      }
    }
  }

  // Then the index is compacted fully: what is left after the removals (for a dry run, as it would be).
  Maintenance maintenance;
  const std::set<std::string> removed(plan.index_objects.begin(), plan.index_objects.end());
  std::vector<storage::ObjectInfo> index_objects = storage.list("index/");
  std::erase_if(index_objects, [&](const storage::ObjectInfo& o) { return removed.contains(o.name); });
  maintenance.compactions = storage::plan_full_compaction(index_objects);
  if (!options.dry_run) {
    for (const auto& compaction : maintenance.compactions) storage::apply_compaction(storage, compaction);
  }
  index_lock.reset();
  // Under the backup lock, whatever an interrupted backup left goes at once; other pending writes once they are old.
  maintenance.temporaries = restore::remove_interrupted_backups(storage, options.dry_run);
  const auto old = storage.sweep_temporaries("", now - kTemporaryFileAge, options.dry_run);
  maintenance.temporaries.insert(maintenance.temporaries.end(), old.begin(), old.end());

  if (options.json) {
    print_json(plan, pins, maintenance, options.dry_run, repository.config.segment_size);
  } else {
    print_human(plan, pins, maintenance, options.dry_run);
  }
  return 0;
}

}  // namespace walvault::command
