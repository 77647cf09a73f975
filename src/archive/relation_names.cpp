#include "archive/relation_names.hpp"

#include <charconv>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "common/log.hpp"
#include "pg/connection.hpp"
#include "pg/libpq.hpp"
#include "repo/repository.hpp"

namespace walvault::archive {
namespace {

std::optional<uint32_t> to_u32(const std::string& s) {
  uint32_t v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string quote_value(const std::string& v) {
  std::string out = "'";
  for (const char c : v) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

std::string object_name(wal::Lsn lsn) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016llX", static_cast<unsigned long long>(lsn.value()));
  return std::string(kNamesPrefix) + buf + ".json";
}

}  // namespace

std::string conninfo_for_database(const std::string& conninfo, const std::string& dbname) {
  char* error = nullptr;
  PQconninfoOption* options = pg::libpq().PQconninfoParse(conninfo.c_str(), &error);
  if (options == nullptr) {
    pg::libpq().PQfreemem(error);
    throw Error(ErrorCode::kUsage, "invalid connection string in walvault.json");
  }
  std::string out;
  for (const PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    const std::string key = o->keyword;
    if (key == "dbname" || key == "replication" || o->val == nullptr) continue;
    out += key + "=" + quote_value(o->val) + " ";
  }
  pg::libpq().PQconninfoFree(options);
  return out + "dbname=" + quote_value(dbname);
}

std::optional<NameSnapshot> take_name_snapshot(const std::string& conninfo) {
  try {
    NameSnapshot snap;
    const pg::Connection first(conninfo_for_database(conninfo, "postgres"), pg::Mode::kRegular);
    snap.lsn = wal::Lsn::parse(first.exec("SELECT pg_current_wal_lsn()").value(0, 0)).value_or(wal::Lsn());
    const pg::Result dbs = first.exec("SELECT oid, datname FROM pg_database WHERE datallowconn ORDER BY oid");
    for (int i = 0; i < dbs.rows(); ++i) {
      const auto oid = to_u32(dbs.value(i, 0));
      if (!oid) continue;
      const std::string name = dbs.value(i, 1);
      snap.databases[*oid] = name;
      const pg::Connection conn(conninfo_for_database(conninfo, name), pg::Mode::kRegular);
      const pg::Result rels = conn.exec(
          "SELECT pg_relation_filenode(c.oid), n.nspname, c.relname, c.oid FROM pg_class c "
          "JOIN pg_namespace n ON n.oid = c.relnamespace "
          "WHERE c.relkind IN ('r', 'm', 'S') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
          "AND n.nspname NOT LIKE 'pg_toast%' AND pg_relation_filenode(c.oid) IS NOT NULL");
      for (int r = 0; r < rels.rows(); ++r) {
        if (const auto node = to_u32(rels.value(r, 0))) {
          snap.relations[{*oid, *node}] = rels.value(r, 1) + "." + rels.value(r, 2);
          if (const auto rel_oid = to_u32(rels.value(r, 3))) snap.oids[{*oid, *node}] = *rel_oid;
        }
      }
    }
    return snap;
  } catch (const Error& e) {
    log::warning(std::string("cannot read relation names (events will show oids): ") + e.what());
    return std::nullopt;
  }
}

std::string encode_name_snapshot(const NameSnapshot& s) {
  nlohmann::ordered_json j;
  j["lsn"] = s.lsn.to_string();
  nlohmann::ordered_json dbs = nlohmann::ordered_json::object();
  for (const auto& [oid, name] : s.databases) dbs[std::to_string(oid)] = name;
  j["databases"] = dbs;
  nlohmann::ordered_json rels = nlohmann::ordered_json::array();
  for (const auto& [key, name] : s.relations) {
    const auto oid = s.oids.find(key);
    rels.push_back(oid == s.oids.end() ? nlohmann::ordered_json{key.first, key.second, name}
                                       : nlohmann::ordered_json{key.first, key.second, name, oid->second});
  }
  j["relations"] = rels;
  return format::seal_json(std::move(j));
}

Expected<NameSnapshot, std::string> decode_name_snapshot(std::string_view text, format::SealRule rule) {
  const auto opened = format::open_sealed_json(text, rule);
  if (!opened) return Unexpected(opened.error());
  const nlohmann::json& j = opened->value;
  const auto malformed = [] { return Unexpected(std::string("does not hold a snapshot's fields")); };
  try {
    NameSnapshot s;
    const auto lsn = wal::Lsn::parse(j.at("lsn").get<std::string>());
    if (!lsn) return malformed();
    s.lsn = *lsn;
    for (const auto& [oid, name] : j.at("databases").items()) {
      const auto v = to_u32(oid);
      if (!v) return malformed();
      s.databases[*v] = name.get<std::string>();
    }
    for (const auto& r : j.at("relations")) {
      const std::pair<uint32_t, uint32_t> key{r.at(0).get<uint32_t>(), r.at(1).get<uint32_t>()};
      s.relations[key] = r.at(2).get<std::string>();
      if (r.size() > 3) s.oids[key] = r.at(3).get<uint32_t>();
    }
    return s;
  } catch (const nlohmann::json::exception&) {
    return malformed();
  }
}

void store_name_snapshot(storage::Storage& storage, const NameSnapshot& snapshot) {
  const std::string text = encode_name_snapshot(snapshot);
  storage.write_atomic(object_name(snapshot.lsn), std::as_bytes(std::span(text.data(), text.size())));
}

NameSnapshot read_name_snapshot(const storage::Storage& storage, const std::string& name) {
  const auto bytes = storage.read(name);
  auto snapshot = decode_name_snapshot(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()),
                                       repo::seal_rule(storage));
  if (!snapshot) {
    throw Error(ErrorCode::kCorrupt, name + " is damaged: it " + snapshot.error(),
                "events show the oids of the relations it would name; remove it to silence 'walvault verify'");
  }
  return std::move(snapshot).value();
}

std::optional<NameSnapshot> latest_name_snapshot(const storage::Storage& storage) {
  const auto objects = storage.list(kNamesPrefix);
  if (objects.empty()) return std::nullopt;
  try {
    return read_name_snapshot(storage, objects.back().name);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kCorrupt) throw;
    log::warning(e.what());
    return std::nullopt;
  }
}

std::optional<std::string> relation_name_by_oid(const NameSnapshot& snapshot, uint32_t db, uint32_t oid) {
  for (const auto& [key, value] : snapshot.oids) {
    if (key.first == db && value == oid) return snapshot.relations.at(key);
  }
  if (!snapshot.oids.empty()) return std::nullopt;
  const auto it = snapshot.relations.find({db, oid});
  if (it == snapshot.relations.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> names_for(const NameSnapshot& snapshot, const wal::Event& event) {
  std::vector<std::string> names;
  if (event.kind == wal::EventKind::kDropDatabase) {
    if (const auto it = snapshot.databases.find(event.db); it != snapshot.databases.end()) names.push_back(it->second);
    return names;
  }
  const auto database = [&](uint32_t db) {
    const auto it = snapshot.databases.find(db);
    return it == snapshot.databases.end() ? std::to_string(db) : it->second;
  };
  if (event.kind == wal::EventKind::kDropColumn) {  // its relations are the tables' oids
    for (const auto& oid : event.rel_oids) {
      if (const auto name = relation_name_by_oid(snapshot, oid.db, oid.rel)) {
        names.push_back(database(oid.db) + "." + *name);
      }
    }
    return names;
  }
  for (const auto& node : event.relfilenodes) {
    const auto rel = snapshot.relations.find({node.db, node.rel});
    if (rel != snapshot.relations.end()) names.push_back(database(node.db) + "." + rel->second);
  }
  return names;
}

}  // namespace walvault::archive
