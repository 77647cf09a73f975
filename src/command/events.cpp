#include "command/events.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>

#include "archive/relation_names.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "common/time_text.hpp"
#include "repo/repository.hpp"
#include "restore/incidents.hpp"
#include "restore/plan.hpp"
#include "restore/plan_inputs.hpp"

namespace walvault::command {
namespace {

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
  // by_oid: the relations are relation oids (drop_column), not relfilenodes.
  const archive::NameSnapshot* before(wal::Lsn lsn, uint32_t database, const std::vector<uint32_t>& relations,
                                      bool by_oid) {
    constexpr int kTries = 8;
    const archive::NameSnapshot* newest = nullptr;
    auto it = objects_.upper_bound(lsn.value());
    for (int tries = 0; tries < kTries && it != objects_.begin(); ++tries) {
      --it;
      const archive::NameSnapshot* snap = load(*it);
      if (snap == nullptr) continue;
      if (newest == nullptr) newest = snap;
      for (const uint32_t rel : relations) {
        if (by_oid ? archive::relation_name_by_oid(*snap, database, rel).has_value()
                   : snap->relations.contains({database, rel})) {
          return snap;
        }
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
  v.database_oid = e.database_oid;
  if (names) {
    if (const auto it = names->databases.find(e.database_oid); it != names->databases.end()) v.database = it->second;
  }
  // Why a name is unknown: snapshots are taken when the streamer starts and after the WAL shows new relation
  // files, at most once a second, and only when the catalog can be read (archive/relation_names.hpp).
  const std::string no_snapshot = "no name snapshot was taken before this event";
  const std::string not_in = names ? "not in the name snapshot at " + names->lsn.to_string() +
                                         ", the last before this event: created after it"
                                   : no_snapshot;
  if (e.kind == format::EventKind::kDropDatabase) {
    if (!e.names.empty()) v.database = e.names.front();
  } else {
    // The snapshot taken before the event names every relation it knew; else the names the streamer attached
    // ("database.schema.table"; the database is its own field; one per relation when it knew them all).
    const std::string prefix = v.database.value_or(std::to_string(e.database_oid)) + ".";
    const auto attached = [&](size_t i) {
      const std::string& name = e.names[i];
      return name.starts_with(prefix) ? name.substr(prefix.size()) : name;
    };
    std::vector<std::string> resolved;
    const bool by_oid = e.kind == format::EventKind::kDropColumn;  // its relations are the tables' oids
    for (size_t i = 0; i < e.relations.size(); ++i) {
      RelationView rel{e.relations[i], std::nullopt};
      if (names) {
        if (by_oid) {
          rel.name = archive::relation_name_by_oid(*names, e.database_oid, rel.relfilenode);
        } else if (const auto it = names->relations.find({e.database_oid, rel.relfilenode});
                   it != names->relations.end()) {
          rel.name = it->second;
        }
        if (rel.name) resolved.push_back(*rel.name);
      }
      if (!rel.name && e.names.size() == e.relations.size()) rel.name = attached(i);
      v.relations.push_back(std::move(rel));
    }
    if (!resolved.empty() && resolved.size() >= e.names.size()) {
      v.tables = resolved;
    } else {
      for (size_t i = 0; i < e.names.size(); ++i) v.tables.push_back(attached(i));
    }
    // A table's indexes and TOAST table are in no snapshot: only a table without any name is unknown.
    if (v.tables.empty() && !v.relations.empty()) v.names_unknown = not_in;
  }
  if (!v.database) {
    v.names_unknown = names ? not_in + ", or it does not allow connections" : no_snapshot;
  }
  if (e.kind == format::EventKind::kMassDelete || e.kind == format::EventKind::kMassUpdate) v.rows = e.rows;
  for (const auto& c : e.columns) {
    ColumnView col{c.rel, std::nullopt, c.attnum, std::nullopt, std::nullopt};
    if (names && c.rel != 0) col.table = archive::relation_name_by_oid(*names, e.database_oid, c.rel);
    if (c.type_known) {
      col.type_oid = c.type_oid;
      col.typmod = c.typmod;
    }
    v.columns.push_back(std::move(col));
  }
  v.restore_command = "walvault restore --repo " + restore::shell_quote(repo) + " --target-dir DIR --before-event " + v.id;
  return v;
}

}  // namespace

bool table_matches(std::string_view shown, std::string_view wanted) {
  if (shown == wanted) return true;
  const auto dot = shown.find('.');
  return wanted.find('.') == std::string_view::npos && dot != std::string_view::npos && shown.substr(dot + 1) == wanted;
}

std::vector<EventView> select_events(std::vector<EventView> events, const EventFilter& filter) {
  std::erase_if(events, [&](const EventView& v) {
    if (filter.database && v.database != filter.database) return true;
    if (filter.table) {
      return std::none_of(v.tables.begin(), v.tables.end(),
                          [&](const std::string& t) { return table_matches(t, *filter.table); });
    }
    return false;
  });
  if (filter.limit && events.size() > *filter.limit) {
    events.erase(events.begin(), events.end() - static_cast<std::ptrdiff_t>(*filter.limit));
  }
  return events;
}

int run_events(const EventsOptions& options) {
  const int64_t since = options.since ? time_option("--since", *options.since)
                                      : std::numeric_limits<int64_t>::min();
  const int64_t until = options.until ? time_option("--until", *options.until)
                                      : std::numeric_limits<int64_t>::max();
  if (options.kind) {
    if (!wal::parse_event_kind(*options.kind)) {
      throw Error(ErrorCode::kUsage, "--kind: unknown event kind \"" + *options.kind + "\"",
                  "kinds are drop_database, drop_table, truncate, mass_delete, mass_update, drop_column and "
                  "alter_type");
    }
  }
  if (options.limit && *options.limit <= 0) {
    throw Error(ErrorCode::kUsage, "--limit " + std::to_string(*options.limit) + ": not a positive number of events",
                "--limit N lists the newest N events of the selection; leave it out to list them all");
  }
  const EventFilter filter{options.table, options.database,
                           options.limit ? std::optional<uint64_t>(static_cast<uint64_t>(*options.limit)) : std::nullopt};
  const int64_t gap = restore::incident_gap_option(options.incident_gap);
  const repo::Repository repository = repo::open_repository(repo::absolute(options.repo));
  const std::string& repo_path = repository.path;
  Snapshots snapshots(*repository.storage);
  // Incidents are grouped over every event, so an incident looks the same whatever the selection.
  const auto every = restore::read_events(*repository.storage, std::numeric_limits<int64_t>::min(),
                                          std::numeric_limits<int64_t>::max(), repository.config.segment_size);
  std::map<std::string, std::pair<std::string, size_t>> incident_of;  // event id -> (incident id, its events)
  for (const auto& incident : restore::group_incidents(every, gap)) {
    for (const auto& e : incident.events) {
      incident_of[restore::event_id(incident.timeline, e)] = {incident.id, incident.events.size()};
    }
  }
  std::vector<EventView> all;
  for (const auto& te : every) {
    if (te.event.commit_time < since || te.event.commit_time > until) continue;
    if (options.kind && format::event_kind_name(te.event.kind) != *options.kind) continue;
    const wal::Lsn at = te.event.first_lsn.valid() ? te.event.first_lsn : te.event.commit_lsn;
    EventView v = view_of(te,
                          snapshots.before(at, te.event.database_oid, te.event.relations,
                                           te.event.kind == format::EventKind::kDropColumn),
                          repo_path);
    if (const auto it = incident_of.find(v.id); it != incident_of.end()) {
      v.incident = it->second.first;
      v.incident_events = it->second.second;
    }
    all.push_back(std::move(v));
  }
  const std::vector<EventView> events = select_events(std::move(all), filter);
  const auto or_null = [](const auto& value) {
    return value ? nlohmann::ordered_json(*value) : nlohmann::ordered_json(nullptr);
  };

  if (options.json) {
    nlohmann::ordered_json doc = nlohmann::ordered_json::array();
    for (const auto& v : events) {
      nlohmann::ordered_json relations = nlohmann::ordered_json::array();
      for (const auto& r : v.relations) relations.push_back({{"relfilenode", r.relfilenode}, {"name", or_null(r.name)}});
      nlohmann::ordered_json columns = nlohmann::ordered_json(nullptr);
      if (!v.columns.empty()) columns = nlohmann::ordered_json::array();
      for (const auto& c : v.columns) {
        columns.push_back({{"rel", c.rel},
                           {"table", or_null(c.table)},
                           {"attnum", c.attnum},
                           {"type_oid", or_null(c.type_oid)},
                           {"typmod", or_null(c.typmod)}});
      }
      doc.push_back({{"id", v.id},
                     {"kind", v.kind},
                     {"commit_time", v.commit_time},
                     {"xid", v.xid},
                     {"lsn", v.lsn},
                     {"timeline", v.timeline},
                     {"database", or_null(v.database)},
                     {"database_oid", v.database_oid},
                     {"tables", v.tables},
                     {"relations", relations},
                     {"names_unknown", or_null(v.names_unknown)},
                     {"rows", or_null(v.rows)},
                     {"columns", columns},
                     {"restore_command", v.restore_command},
                     {"incident", v.incident}});
    }
    std::fputs((doc.dump(2) + "\n").c_str(), stdout);
    return 0;
  }
  const bool selected = options.since || options.until || options.kind || options.table || options.database;
  std::string out;
  if (events.empty()) out = "no destructive events in the index" + std::string(selected ? " for this selection" : "") + "\n";
  std::string shown_incident;
  for (const auto& v : events) {
    if (v.incident_events > 1 && v.incident != shown_incident) {
      out += "incident " + v.incident + ": " + std::to_string(v.incident_events) + " events of database " +
             v.database.value_or(std::to_string(v.database_oid)) +
             " committed within --incident-gap of each other; restore to before all of them: walvault restore --repo " +
             restore::shell_quote(repo_path) + " --target-dir DIR --before-incident " + v.incident + "\n";
    }
    shown_incident = v.incident;
    std::string what;
    for (const auto& t : v.tables) what += (what.empty() ? "" : ", ") + t;
    if (what.empty() && !v.relations.empty()) {
      for (const auto& r : v.relations) what += (what.empty() ? "rel " : ", ") + std::to_string(r.relfilenode);
    }
    out += v.commit_time + "  " + v.kind + "  database " + v.database.value_or(std::to_string(v.database_oid)) +
           (what.empty() ? "" : "  " + what) + (v.rows ? "  (" + std::to_string(*v.rows) + " rows)" : "") +
           (v.names_unknown ? "  (name unknown: " + *v.names_unknown + ")" : "") + "\n";
    if (!v.columns.empty()) {
      out += "    columns:";
      for (const auto& c : v.columns) {
        out += " " + c.table.value_or(c.rel == 0 ? "?" : "oid " + std::to_string(c.rel)) + " #" +
               (c.attnum == 0 ? std::string("?") : std::to_string(c.attnum));
      }
      out += "\n";
    }
    out += "    id " + v.id + "  xid " + std::to_string(v.xid) + "  LSN " + v.lsn + "  timeline " +
           std::to_string(v.timeline) + "\n";
    out += "    restore: " + v.restore_command + "\n";
  }
  std::fputs(out.c_str(), stdout);
  return 0;
}

}  // namespace walvault::command
