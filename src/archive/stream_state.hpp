// StreamState: what the running streamer tells `walvault status` (object "tip/stream.state", format/FORMAT.md).
//
// The streamer rewrites it in place (an append file: fixed-size record, synced) every time it makes WAL durable,
// so it never claims more than is durable: durable_lsn is the end of the WAL the repository holds durably
// (archived segments plus the synced prefix of the tip). received_lsn may be ahead of it; server_lsn is the
// server's end of WAL as last reported by the server. Times are ISO 8601 UTC ("" when unknown).
// The record is sealed (format/sealed_object.hpp): a torn, flipped or zeroed record is damage, never a position.
// decode_stream_state() returns the damage as a value; read_stream_state() throws kCorrupt naming the object, so
// nothing that decides what WAL exists (wal-fetch, restore planning, verify) mistakes damage for "no streamer".
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "format/sealed_object.hpp"
#include "storage/storage.hpp"
#include "wal/expected.hpp"
#include "wal/lsn.hpp"

namespace walvault::archive {

inline constexpr std::string_view kStreamStateObject = "tip/stream.state";
// The record is padded with spaces to this size, so a rewrite never leaves a longer old tail behind.
inline constexpr std::size_t kStreamStateSize = 1024;

struct StreamState {
  long pid = 0;
  wal::TimelineId timeline;
  std::string segment;  // the in-progress segment's file name
  wal::Lsn durable_lsn;
  wal::Lsn received_lsn;
  wal::Lsn server_lsn;
  std::string updated;           // when this record was written
  std::string caught_up;         // the last time durable_lsn reached server_lsn
  std::string last_commit_time;  // commit time of the last durable commit seen in the WAL
  wal::Lsn last_commit_lsn;

  bool operator==(const StreamState&) const = default;
};

// Exactly kStreamStateSize bytes: sealed JSON, then spaces, then '\n'.
[[nodiscard]] std::string encode_stream_state(const StreamState& state);
// The error says what is wrong ("fails its checksum (...)", "is not a JSON object", "has no \"pid\"", ...).
[[nodiscard]] Expected<StreamState, std::string> decode_stream_state(std::string_view text, format::SealRule rule);
// The durable end of a streamer positioned on its timeline (its state names an in-progress segment); nullopt for no
// state or one written before the streamer had a tip (where "ahead of the durable end" cannot be judged). Pure.
[[nodiscard]] std::optional<wal::Lsn> positioned_durable_lsn(const std::optional<StreamState>& state);

// tip/stream.state of the repository; nullopt when there is none (the streamer never ran) or it is empty (a
// streamer that has not written its first state: nothing is acknowledged yet). Throws kCorrupt
// ("tip/stream.state is damaged: it ...") when it does not decode.
[[nodiscard]] std::optional<StreamState> read_stream_state(const storage::Storage& storage);

}  // namespace walvault::archive
