#include "repo/wal_chains.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "format/sealed_object.hpp"

namespace walvault::repo {
namespace {

constexpr std::string_view kPrefix = "chains/";
constexpr std::string_view kSuffix = ".json";

std::string object_name(const ChainBreak& b) {
  char name[32];
  std::snprintf(name, sizeof name, "%08X%016llX", static_cast<unsigned>(b.timeline.value()),
                static_cast<unsigned long long>(b.start.value()));
  return std::string(kPrefix) + name + std::string(kSuffix);
}

Error damaged(const std::string& object, const std::string& what) {
  return Error(ErrorCode::kCorrupt, "WAL chain break " + object + " is damaged: " + what,
               "it declares WAL the server removed before walvault received it; restore it from a copy of the "
               "repository, or run 'walvault verify' to see the gap it declared");
}

ChainBreak decode(const std::string& object, std::string_view text) {
  const auto opened = format::open_sealed_json(text, format::SealRule::kRequired);
  if (!opened) throw damaged(object, "it " + opened.error());
  const nlohmann::json& j = opened->value;
  try {
    ChainBreak b;
    b.timeline = wal::TimelineId(j.at("timeline").get<uint32_t>());
    const auto start = wal::Lsn::parse(j.at("start_lsn").get<std::string>());
    b.previous_timeline = wal::TimelineId(j.at("previous_timeline").get<uint32_t>());
    const auto& end = j.at("previous_end_lsn");
    if (!end.is_null()) {
      b.previous_end = wal::Lsn::parse(end.get<std::string>());
      if (!b.previous_end) throw damaged(object, "previous_end_lsn is not an LSN");
    }
    if (!start) throw damaged(object, "start_lsn is not an LSN");
    b.start = *start;
    b.slot = j.at("slot").get<std::string>();
    b.created = j.at("created").get<std::string>();
    b.reason = j.at("reason").get<std::string>();
    if (object_name(b) != object) throw damaged(object, "its name does not match its timeline and start_lsn");
    return b;
  } catch (const nlohmann::json::exception& e) {
    throw damaged(object, e.what());
  }
}

}  // namespace

bool ChainBreak::declares(wal::Lsn from, wal::Lsn to) const {
  return from >= previous_end.value_or(wal::Lsn()) && to <= start;
}

std::string ChainBreak::describe() const {
  return "new WAL chain from " + start.to_string() + " on timeline " + std::to_string(timeline.value()) +
         " (slot \"" + slot + "\", " + created + ") after the old chain ended at " +
         (previous_end ? previous_end->to_string() : std::string("its start")) + ": " + reason;
}

std::vector<ChainBreak> read_chain_breaks(const storage::Storage& storage) {
  std::vector<ChainBreak> breaks;
  for (const auto& object : storage.list(kPrefix)) {
    if (!object.name.ends_with(kSuffix)) continue;
    const storage::Bytes bytes = storage.read(object.name);
    breaks.push_back(decode(object.name, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size())));
  }
  std::sort(breaks.begin(), breaks.end(), [](const ChainBreak& a, const ChainBreak& b) { return a.start < b.start; });
  return breaks;
}

std::optional<ChainBreak> newest_chain_break(const storage::Storage& storage) {
  auto breaks = read_chain_breaks(storage);
  if (breaks.empty()) return std::nullopt;
  return std::move(breaks.back());
}

void write_chain_break(storage::Storage& storage, const ChainBreak& b) {
  nlohmann::ordered_json j;
  j["timeline"] = b.timeline.value();
  j["start_lsn"] = b.start.to_string();
  j["previous_timeline"] = b.previous_timeline.value();
  j["previous_end_lsn"] = b.previous_end ? nlohmann::json(b.previous_end->to_string()) : nlohmann::json(nullptr);
  j["slot"] = b.slot;
  j["created"] = b.created;
  j["reason"] = b.reason;
  const std::string text = format::seal_json(std::move(j), 2);
  storage.write_atomic(object_name(b), std::as_bytes(std::span(text.data(), text.size())));
}

std::optional<wal::Lsn> slot_needed_from(std::optional<wal::Lsn> durable, const std::vector<ChainBreak>& breaks) {
  if (breaks.empty() || (durable && *durable >= breaks.back().start)) return durable;
  return breaks.back().start;
}

std::optional<std::string> chain_without_backup(const std::vector<ChainBreak>& breaks,
                                                const std::vector<wal::Lsn>& backup_starts) {
  if (breaks.empty()) return std::nullopt;
  const ChainBreak& newest = breaks.back();
  if (std::any_of(backup_starts.begin(), backup_starts.end(), [&](wal::Lsn s) { return s >= newest.start; })) {
    return std::nullopt;
  }
  return "no backup since the WAL chain restarted at " + newest.start.to_string() +
         " (the server removed WAL walvault had not received): nothing after it is restorable until 'walvault "
         "backup' runs";
}

}  // namespace walvault::repo
