// StreamState: what the running streamer tells `walvault status` (object "tip/stream.state", format/FORMAT.md).
//
// The streamer rewrites it in place (an append file: fixed-size record, synced) every time it makes WAL durable,
// so it never claims more than is durable: durable_lsn is the end of the WAL the repository holds durably
// (archived segments plus the synced prefix of the tip). received_lsn may be ahead of it; server_lsn is the
// server's end of WAL as last reported by the server. Times are ISO 8601 UTC ("" when unknown).
// decode_stream_state() returns nullopt for a missing, torn or malformed record; nothing throws.
#pragma once

#include <optional>
#include <string>
#include <string_view>

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

// Exactly kStreamStateSize bytes: JSON, then spaces, then '\n'.
[[nodiscard]] std::string encode_stream_state(const StreamState& state);
[[nodiscard]] std::optional<StreamState> decode_stream_state(std::string_view text);

}  // namespace walvault::archive
