// `walvault events` filters and names, and the streamer's --mass-rows, on one streamed cluster:
// - `stream --mass-rows 10` makes a 15- and a 20-row DELETE mass_delete events; after a restart with the default
//   (1000) another 15-row DELETE is none, and `verify --full`, which decodes the WAL again, agrees with the index
//   on both stretches (the repository records each threshold: index/<TLI>/mass-rows-<LSN>.json);
// - --table (schema.table or a bare name; drop_database excluded), --database and --limit (the newest N, oldest
//   first) select in the human and the JSON form, and --limit 0 is a usage error with a hint;
// - a table and a database created and dropped while the streamer was stopped (so no name snapshot ever saw them)
//   print with their oids and why their names are unknown; JSON gives null names and keeps the oids.
#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "archive_fixture.hpp"
#include "process.hpp"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using walvault::test::ArchivedCluster;

std::vector<std::string> ids_of(const json& events) {
  std::vector<std::string> ids;
  for (const auto& e : events) ids.push_back(e["id"]);
  return ids;
}

}  // namespace

TEST_CASE("events: --table --database --limit filters and unknown names and stream --mass-rows",
          "[integration][events][once]") {
  ArchivedCluster ac;
  auto& pg = ac.pg();
  pg.exec("CREATE DATABASE shop");
  pg.exec("CREATE DATABASE hr");
  for (const char* sql : {"CREATE SCHEMA sales", "CREATE TABLE public.orders (id int)", "CREATE TABLE sales.orders (id int)",
                          "CREATE TABLE public.items (id int)", "INSERT INTO public.orders SELECT generate_series(1, 20)",
                          "INSERT INTO sales.orders SELECT generate_series(1, 20)",
                          "INSERT INTO public.items SELECT generate_series(1, 20)"}) {
    pg.exec(sql, "shop");
  }
  pg.exec("CREATE TABLE staff (id int)", "hr");
  pg.exec("INSERT INTO staff SELECT generate_series(1, 40)", "hr");

  // The first streamer, with --mass-rows 10 (the fixture's runs with the defaults).
  const std::string log = pg.work_dir() + "/stream-mass-rows.log";
  walvault::test::Background streamer(walvault::test::as_postgres({WALVAULT_BINARY, "stream", "--repo", ac.repo(),
                                                                   "--fsync-interval-ms", "100", "--mass-rows", "10"}),
                                      log);
  REQUIRE(walvault::test::wait_until(
      [&] { return !streamer.running() || (fs::exists(ac.repo() + "/names") && !fs::is_empty(ac.repo() + "/names")); },
      std::chrono::seconds(30)));
  REQUIRE(streamer.running());
  ac.switch_and_archive();  // verify compares events from the second segment it decodes on
  pg.exec("DELETE FROM public.items", "shop");
  pg.exec("TRUNCATE public.orders", "shop");
  pg.exec("DROP TABLE sales.orders", "shop");
  pg.exec("DELETE FROM staff WHERE id <= 15", "hr");
  ac.wait_durable();
  // Indexed (by this streamer, with its threshold) before it stops.
  REQUIRE(walvault::test::wait_until(
      [&] {
        const auto r = ac.walvault({"events", "--repo", ac.repo(), "--json"});
        return r.exit_code == 0 && json::parse(r.out).size() == 4;
      },
      std::chrono::seconds(30)));
  REQUIRE(streamer.stop(SIGTERM) != -1);  // runuser reports the signal: 143

  // Created and dropped while no streamer took name snapshots.
  pg.exec("CREATE TABLE ghost (id int)", "shop");
  const std::string ghost_node = pg.scalar("SELECT pg_relation_filenode('ghost')", "shop");
  pg.exec("DROP TABLE ghost", "shop");
  pg.exec("CREATE DATABASE ghostdb");
  const std::string ghostdb_oid = pg.scalar("SELECT oid FROM pg_database WHERE datname = 'ghostdb'");
  pg.exec("DROP DATABASE ghostdb");

  ac.start_streamer();  // the default threshold again
  pg.exec("DELETE FROM staff WHERE id <= 30", "hr");  // 15 rows: no event at 1000
  ac.switch_and_archive();
  const auto listed = ac.events_json();
  INFO(listed.err << ac.streamer_log());
  REQUIRE(listed.exit_code == 0);
  const json all = json::parse(listed.out);
  INFO(all.dump(2));
  REQUIRE(all.size() == 6);
  const std::vector<std::string> kinds = {"mass_delete", "truncate", "drop_table", "mass_delete", "drop_table",
                                          "drop_database"};
  for (size_t i = 0; i < kinds.size(); ++i) CHECK(all[i]["kind"] == kinds[i]);
  CHECK(all[0]["tables"] == json::array({"public.items"}));
  CHECK(all[0]["rows"] == 20);
  CHECK(all[3]["database"] == "hr");
  CHECK(all[3]["rows"] == 15);

  // Unknown names: oids kept, names null, and why.
  const json& ghost = all[4];
  CHECK(ghost["database"] == "shop");
  CHECK(ghost["tables"].empty());
  REQUIRE(ghost["relations"].size() >= 1);
  CHECK(std::to_string(ghost["relations"][0]["relfilenode"].get<uint32_t>()) == ghost_node);
  CHECK(ghost["relations"][0]["name"].is_null());
  CHECK(ghost["names_unknown"].get<std::string>().find("created after it") != std::string::npos);
  const json& dropped_db = all[5];
  CHECK(dropped_db["database"].is_null());
  CHECK(std::to_string(dropped_db["database_oid"].get<uint32_t>()) == ghostdb_oid);
  CHECK(dropped_db["names_unknown"].is_string());
  const auto human = ac.walvault({"events", "--repo", ac.repo()});
  REQUIRE(human.exit_code == 0);
  CHECK(human.out.find("drop_table  database shop  rel " + ghost_node) != std::string::npos);
  CHECK(human.out.find("drop_database  database " + ghostdb_oid + "  (name unknown: not in the name snapshot at ") !=
        std::string::npos);

  // Filters, in JSON and in the human form.
  const auto select = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"events", "--repo", ac.repo(), "--json"});
    const auto r = ac.walvault(args);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    return ids_of(json::parse(r.out));
  };
  const auto ids = ids_of(all);
  using V = std::vector<std::string>;
  CHECK(select({"--table", "orders"}) == V{ids[1], ids[2]});
  CHECK(select({"--table", "sales.orders"}) == V{ids[2]});
  CHECK(select({"--table", "ghost"}).empty());  // its name is unknown
  CHECK(select({"--database", "hr"}) == V{ids[3]});
  CHECK(select({"--database", "shop", "--limit", "2"}) == V{ids[2], ids[4]});
  CHECK(select({"--limit", "2"}) == V{ids[4], ids[5]});
  const auto one = ac.walvault({"events", "--repo", ac.repo(), "--table", "public.orders"});
  REQUIRE(one.exit_code == 0);
  CHECK(one.out.find("truncate  database shop  public.orders") != std::string::npos);
  CHECK(one.out.find("drop_table") == std::string::npos);
  const auto none = ac.walvault({"events", "--repo", ac.repo(), "--database", "nowhere"});
  CHECK(none.out == "no destructive events in the index for this selection\n");
  for (const char* bad : {"0", "-3"}) {
    const auto refused = ac.walvault({"events", "--repo", ac.repo(), "--limit", bad});
    CHECK(refused.exit_code == 2);
    CHECK(refused.err.find("--limit " + std::string(bad) + ": not a positive number of events") != std::string::npos);
    CHECK(refused.err.find("--limit N lists the newest N events") != std::string::npos);
  }

  // The thresholds are recorded, so verify judges each stretch of WAL as the streamer did.
  CHECK(walvault::test::files_under(ac.repo() + "/index", "00000001/mass-rows-").size() == 2);
  const auto verify = ac.walvault({"verify", "--repo", ac.repo(), "--full"});
  INFO(verify.out << verify.err);
  CHECK(verify.exit_code == 0);
  ac.stop_streamer(SIGTERM);
}
