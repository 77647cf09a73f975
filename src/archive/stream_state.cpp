#include "archive/stream_state.hpp"

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/error.hpp"
#include "repo/repository.hpp"

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
  std::string text = format::seal_json(std::move(j));
  text.pop_back();  // the '\n', which ends the padding instead
  if (text.size() >= kStreamStateSize) text.resize(kStreamStateSize - 1);  // cannot happen: fields are short
  text.resize(kStreamStateSize - 1, ' ');
  text += '\n';
  return text;
}

Expected<StreamState, std::string> decode_stream_state(std::string_view text, format::SealRule rule) {
  // A fixed-size record: any other size is a torn or cut record, even when the JSON in it is whole.
  if (text.size() != kStreamStateSize) {
    return Unexpected("is " + std::to_string(text.size()) + " bytes long, not " + std::to_string(kStreamStateSize));
  }
  // The padding is part of the record: after the object's last '}' only spaces and the final '\n' (the checksum
  // covers the JSON, and a JSON parser stops at a NUL, so a damaged pad would otherwise pass unseen).
  const auto close = text.rfind('}');
  if (close == std::string_view::npos || text.back() != '\n' ||
      text.find_first_not_of(' ', close + 1) != text.size() - 1) {
    return Unexpected(std::string("has damaged padding after its JSON object"));
  }
  const auto opened = format::open_sealed_json(text, rule);
  if (!opened) return Unexpected(opened.error());
  const nlohmann::json& j = opened->value;
  try {
    StreamState s;
    s.pid = j.at("pid").get<long>();
    s.timeline = wal::TimelineId(j.at("timeline").get<uint32_t>());
    s.segment = j.at("segment").get<std::string>();
    const auto lsn = [&](const char* key) {
      const auto v = wal::Lsn::parse(j.at(key).get<std::string>());
      if (!v) throw std::invalid_argument(std::string("has a malformed \"") + key + "\"");
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
  } catch (const nlohmann::json::exception&) {
    return Unexpected(std::string("does not hold the stream state's fields"));
  } catch (const std::invalid_argument& e) {
    return Unexpected(std::string(e.what()));
  }
}

std::optional<StreamState> read_stream_state(const storage::Storage& storage) {
  const auto size = storage.info(kStreamStateObject);
  // Missing, or created empty by a streamer that has not written its first state yet (nothing acknowledged).
  if (!size || *size == 0) return std::nullopt;
  const format::SealRule rule = repo::seal_rule(storage);
  // The streamer rewrites the record in place with one write, which a concurrent read may see half done: damage
  // that persists over a few reads is real.
  constexpr int kReads = 3;
  Expected<StreamState, std::string> state = Unexpected(std::string("was not read"));
  for (int i = 0; i < kReads && !state; ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    const storage::Bytes bytes = storage.read(kStreamStateObject);
    state = decode_stream_state(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), rule);
  }
  if (!state) {
    throw Error(ErrorCode::kCorrupt, std::string(kStreamStateObject) + " is damaged: it " + state.error(),
                "the streamer rewrites it when it runs ('walvault stream'); until then the in-progress segment "
                "cannot be served or verified");
  }
  return std::move(state).value();
}

std::optional<wal::Lsn> positioned_durable_lsn(const std::optional<StreamState>& state) {
  if (!state || state->segment.empty()) return std::nullopt;
  return state->durable_lsn;
}

}  // namespace walvault::archive
