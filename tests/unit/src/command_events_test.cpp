// `walvault events` selection (command/events.hpp): --table matches schema.table or a bare table name, --database
// the database's name, names that are unknown match nothing, and --limit keeps the newest N, oldest first.
#include <catch2/catch.hpp>

#include "command/events.hpp"

namespace {

using walvault::command::EventFilter;
using walvault::command::EventView;

EventView event(std::string id, std::optional<std::string> database, std::vector<std::string> tables) {
  EventView v;
  v.id = std::move(id);
  v.database = std::move(database);
  v.tables = std::move(tables);
  return v;
}

std::vector<std::string> ids(const std::vector<EventView>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e.id);
  return out;
}

}  // namespace

TEST_CASE("events: a table filter takes schema.table or a bare table name", "[command][events]") {
  using walvault::command::table_matches;
  CHECK(table_matches("public.orders", "orders"));
  CHECK(table_matches("public.orders", "public.orders"));
  CHECK(table_matches("sales.orders", "orders"));
  CHECK_FALSE(table_matches("sales.orders", "public.orders"));
  CHECK_FALSE(table_matches("public.orders", "order"));
  CHECK_FALSE(table_matches("public.orders", "Orders"));
  CHECK_FALSE(table_matches("public.orders", "public"));
  CHECK_FALSE(table_matches("public.orders", ".orders"));
}

TEST_CASE("events: filters, then the newest N in order", "[command][events]") {
  const std::vector<EventView> all = {
      event("1", "shop", {"public.orders"}),
      event("2", "shop", {"sales.orders", "sales.items"}),
      event("3", "dropped", {}),  // drop_database: no table
      event("4", "hr", {"public.staff"}),
      event("5", std::nullopt, {}),  // names unknown
      event("6", "shop", {"public.items"}),
  };
  const auto select = [&](std::optional<std::string> table, std::optional<std::string> database,
                          std::optional<uint64_t> limit) {
    EventFilter f;
    f.table = std::move(table);
    f.database = std::move(database);
    f.limit = limit;
    return ids(walvault::command::select_events(all, f));
  };
  const auto none = std::nullopt;
  using V = std::vector<std::string>;
  CHECK(select(none, none, none) == V{"1", "2", "3", "4", "5", "6"});
  CHECK(select("orders", none, none) == V{"1", "2"});
  CHECK(select("sales.orders", none, none) == V{"2"});
  CHECK(select("items", none, none) == V{"2", "6"});
  CHECK(select("nothing", none, none).empty());
  CHECK(select(none, "shop", none) == V{"1", "2", "6"});
  CHECK(select(none, "dropped", none) == V{"3"});
  CHECK(select("orders", "shop", 1) == V{"2"});
  CHECK(select(none, none, 2) == V{"5", "6"});
  CHECK(select(none, none, 10) == V{"1", "2", "3", "4", "5", "6"});
  CHECK(select(none, "hr", 3) == V{"4"});
}
