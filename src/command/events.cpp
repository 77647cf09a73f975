#include "command/events.hpp"

#include <charconv>
#include <cstdio>
#include <filesystem>
#include <map>
#include <limits>
#include <nlohmann/json.hpp>

#include "archive/relation_names.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "common/time_text.hpp"
#include "repo/repository.hpp"
#include "restore/plan.hpp"
#include "restore/plan_inputs.hpp"

namespace walvault::command {
namespace {

struct EventView {
  std::string id;
  std::string kind;
  std::string commit_time;
  uint32_t xid = 0;
  std::string lsn;
  uint32_t timeline = 0;
  std::string database;
  std::vector<std::string> tables;
  std::optional<uint64_t> rows;
  std::string restore_command;
};

// The relation-name snapshots (names/<16-hex LSN>.json), loaded on first use; the one describing the catalog
// just before an event is the newest taken at or before the event's first destructive record.
class Snapshots {
 public:
  explicit Snapshots(const storage::Storage& storage) : storage_(storage) {
    for (const auto& object : storage.list("names/")) {
      const std::string_view name = object.name;
      if (name.size() != 6 + 16 + 5 || !name.ends_with(".json")) continue;
      uint64_t lsn = 0;
      const auto [p, ec] = std::from_chars(name.data() + 6, name.data() + 22, lsn, 16);
      if (ec == std::errc() && p == name.data() + 22) objects_[lsn] = object.name;
    }
  }
  // The newest snapshot at or before lsn that knows any of the relations (a snapshot taken while the event's
  // transaction ran may already show its new relfilenodes, so older ones are tried too, up to kTries).
  const archive::NameSnapshot* before(wal::Lsn lsn, uint32_t database, const std::vector<uint32_t>& relations) {
    constexpr int kTries = 8;
    const archive::NameSnapshot* newest = nullptr;
    auto it = objects_.upper_bound(lsn.value());
    for (int tries = 0; tries < kTries && it != objects_.begin(); ++tries) {
      --it;
      const archive::NameSnapshot* snap = load(*it);
      if (snap == nullptr) continue;
      if (newest == nullptr) newest = snap;
      for (const uint32_t rel : relations) {
        if (snap->relations.contains({database, rel})) return snap;
      }
      if (relations.empty()) return snap;
    }
    return newest;
  }

 private:
  const archive::NameSnapshot* load(const std::pair<const uint64_t, std::string>& object) {
    auto& slot = loaded_[object.first];
    if (!slot) {
      try {
        slot = archive::read_name_snapshot(storage_, object.second);
      } catch (const Error& e) {
        if (e.code() != ErrorCode::kCorrupt) throw;
        log::warning(std::string(e.what()) + "; not used to name relations");  // verify reports it as damage
        slot = std::optional<archive::NameSnapshot>();
      }
    }
    return *slot ? &**slot : nullptr;
  }

  const storage::Storage& storage_;
  std::map<uint64_t, std::string> objects_;
  std::map<uint64_t, std::optional<std::optional<archive::NameSnapshot>>> loaded_;
};

EventView view_of(const restore::TimelineEvent& te, const archive::NameSnapshot* names, const std::string& repo) {
  const format::EventEntry& e = te.event;
  EventView v;
  v.id = restore::event_id(te.timeline, e);
  v.kind = std::string(format::event_kind_name(e.kind));
  v.commit_time = print_time(e.commit_time);
  v.xid = e.xid;
  v.lsn = e.commit_lsn.to_string();
  v.timeline = te.timeline.value();
  v.database = std::to_string(e.database_oid);
  if (names) {
    if (const auto it = names->databases.find(e.database_oid); it != names->databases.end()) v.database = it->second;
  }
  if (e.kind == format::EventKind::kDropDatabase) {
    if (!e.names.empty()) v.database = e.names.front();
  } else {
    // The snapshot taken before the event names every relation it knew; else the names the streamer attached
    // ("database.schema.table"; the database is its own field); else oids.
    std::vector<std::string> resolved;
    for (const uint32_t rel : e.relations) {
      const auto it = names ? names->relations.find({e.database_oid, rel}) : decltype(names->relations.end()){};
      if (names && it != names->relations.end()) resolved.push_back(it->second);
    }
    const std::string prefix = v.database + ".";
    if (!resolved.empty() && resolved.size() >= e.names.size()) {
      v.tables = resolved;
    } else if (!e.names.empty()) {
      for (const auto& name : e.names) v.tables.push_back(name.starts_with(prefix) ? name.substr(prefix.size()) : name);
    } else {
      for (const uint32_t rel : e.relations) v.tables.push_back(std::to_string(rel));
    }
  }
  if (e.kind == format::EventKind::kMassDelete || e.kind == format::EventKind::kMassUpdate) v.rows = e.rows;
  v.restore_command = "walvault restore --repo " + restore::shell_quote(repo) + " --target-dir DIR --before-event " + v.id;
  return v;
}

}  // namespace

int run_events(const EventsOptions& options) {
  const int64_t since = options.since ? time_option("--since", *options.since)
                                      : std::numeric_limits<int64_t>::min();
  const int64_t until = options.until ? time_option("--until", *options.until)
                                      : std::numeric_limits<int64_t>::max();
  if (options.kind) {
    if (!wal::parse_event_kind(*options.kind)) {
      throw Error(ErrorCode::kUsage, "--kind: unknown event kind \"" + *options.kind + "\"",
                  "kinds are drop_database, drop_table, truncate, mass_delete and mass_update");
    }
  }
  const std::string repo_path = std::filesystem::absolute(options.repo).lexically_normal().string();
  const repo::Repository repository = repo::open_repository(repo_path);
  Snapshots snapshots(*repository.storage);
  std::vector<EventView> events;
  for (const auto& te : restore::read_events(*repository.storage, since, until, repository.config.segment_size)) {
    if (options.kind && format::event_kind_name(te.event.kind) != *options.kind) continue;
    const wal::Lsn at = te.event.first_lsn.valid() ? te.event.first_lsn : te.event.commit_lsn;
    events.push_back(view_of(te, snapshots.before(at, te.event.database_oid, te.event.relations), repo_path));
  }

  if (options.json) {
    nlohmann::ordered_json doc = nlohmann::ordered_json::array();
    for (const auto& v : events) {
      doc.push_back({{"id", v.id},
                     {"kind", v.kind},
                     {"commit_time", v.commit_time},
                     {"xid", v.xid},
                     {"lsn", v.lsn},
                     {"timeline", v.timeline},
                     {"database", v.database},
                     {"tables", v.tables},
                     {"rows", v.rows ? nlohmann::ordered_json(*v.rows) : nlohmann::ordered_json(nullptr)},
                     {"restore_command", v.restore_command}});
    }
    std::fputs((doc.dump(2) + "\n").c_str(), stdout);
    return 0;
  }
  std::string out;
  if (events.empty()) out = "no destructive events in the index" + std::string(options.since || options.until || options.kind ? " for this selection" : "") + "\n";
  for (const auto& v : events) {
    std::string what;
    for (const auto& t : v.tables) what += (what.empty() ? "" : ", ") + t;
    out += v.commit_time + "  " + v.kind + "  database " + v.database + (what.empty() ? "" : "  " + what) +
           (v.rows ? "  (" + std::to_string(*v.rows) + " rows)" : "") + "\n";
    out += "    id " + v.id + "  xid " + std::to_string(v.xid) + "  LSN " + v.lsn + "  timeline " +
           std::to_string(v.timeline) + "\n";
    out += "    restore: " + v.restore_command + "\n";
  }
  std::fputs(out.c_str(), stdout);
  return 0;
}

}  // namespace walvault::command
