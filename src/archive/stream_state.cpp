#include "archive/stream_state.hpp"

#include <nlohmann/json.hpp>

namespace walvault::archive {

std::string encode_stream_state(const StreamState& s) {
  nlohmann::ordered_json j;
  j["pid"] = s.pid;
  j["timeline"] = s.timeline.value();
  j["segment"] = s.segment;
  j["durable_lsn"] = s.durable_lsn.to_string();
  j["received_lsn"] = s.received_lsn.to_string();
  j["server_lsn"] = s.server_lsn.to_string();
  j["updated"] = s.updated;
  j["caught_up"] = s.caught_up;
  j["last_commit_time"] = s.last_commit_time;
  j["last_commit_lsn"] = s.last_commit_lsn.to_string();
  std::string text = j.dump();
  if (text.size() >= kStreamStateSize) text.resize(kStreamStateSize - 1);  // cannot happen: fields are short
  text.resize(kStreamStateSize - 1, ' ');
  text += '\n';
  return text;
}

std::optional<StreamState> decode_stream_state(std::string_view text) {
  const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  try {
    StreamState s;
    s.pid = j.at("pid").get<long>();
    s.timeline = wal::TimelineId(j.at("timeline").get<uint32_t>());
    s.segment = j.at("segment").get<std::string>();
    const auto lsn = [&](const char* key) {
      const auto v = wal::Lsn::parse(j.at(key).get<std::string>());
      if (!v) throw std::invalid_argument(key);
      return *v;
    };
    s.durable_lsn = lsn("durable_lsn");
    s.received_lsn = lsn("received_lsn");
    s.server_lsn = lsn("server_lsn");
    s.updated = j.at("updated").get<std::string>();
    s.caught_up = j.at("caught_up").get<std::string>();
    s.last_commit_time = j.at("last_commit_time").get<std::string>();
    s.last_commit_lsn = lsn("last_commit_lsn");
    return s;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace walvault::archive
