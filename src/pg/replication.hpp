// Physical replication: the bytes of the WAL stream, and nothing else (no decoding, no storage).
//
// ReplicationSource is the narrow interface the streamer talks to: slot commands, TIMELINE_HISTORY,
// START_REPLICATION, and a pull loop that hands back one StreamEvent at a time. LibpqReplicationSource implements
// it over one libpq replication connection (postgres-wal.md §8); tests implement it with a fake.
//
// The CopyData codecs (parse_server_message, encode_status_update) are pure and exposed for unit tests.
//
// Lifetimes: the bytes of an XLogData event stay valid until the next call on the same source.
// Errors: every method of LibpqReplicationSource throws walvault::Error kConnection, retryable when the
// connection was lost (the streamer reconnects on those); a malformed message from the server is kConnection,
// not retryable.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "pg/connection.hpp"
#include "wal/lsn.hpp"

namespace walvault::pg {

// 'w': a piece of WAL, the exact bytes of the server's files from `start`.
struct XLogData {
  wal::Lsn start;
  wal::Lsn server_end;  // the server's end of WAL when it sent this
  int64_t send_time = 0;  // TimestampTz: µs since 2000-01-01 UTC
  std::span<const std::byte> bytes;
};

// 'k': a keepalive; reply_requested asks for a status update at once.
struct Keepalive {
  wal::Lsn server_end;
  int64_t send_time = 0;
  bool reply_requested = false;
};

// Nothing arrived before the timeout.
struct Idle {};

// The server finished a historic timeline: continue on next_timeline from next_start.
struct TimelineEnd {
  wal::TimelineId next_timeline;
  wal::Lsn next_start;
};

// The server ended streaming without a next timeline (it is shutting down).
struct StreamEnded {};

using StreamEvent = std::variant<XLogData, Keepalive, Idle, TimelineEnd, StreamEnded>;

// READ_REPLICATION_SLOT of an existing physical slot. restart_lsn is unset while the slot reserves no WAL.
struct SlotInfo {
  std::optional<wal::Lsn> restart_lsn;
  std::optional<wal::TimelineId> restart_timeline;
};

struct TimelineHistoryFile {
  std::string file_name;  // "00000002.history"
  std::string content;    // the file's bytes, verbatim
};

class ReplicationSource {
 public:
  virtual ~ReplicationSource() = default;
  ReplicationSource() = default;
  ReplicationSource(const ReplicationSource&) = delete;
  ReplicationSource& operator=(const ReplicationSource&) = delete;

  [[nodiscard]] virtual SystemIdentity identify_system() = 0;
  // PQserverVersion, e.g. 150018.
  [[nodiscard]] virtual int server_version() = 0;
  // SHOW wal_segment_size, in bytes.
  [[nodiscard]] virtual uint32_t wal_segment_size() = 0;
  // READ_REPLICATION_SLOT: nullopt when no slot has that name.
  [[nodiscard]] virtual std::optional<SlotInfo> read_slot(const std::string& slot) = 0;
  // CREATE_REPLICATION_SLOT slot PHYSICAL (RESERVE_WAL).
  virtual void create_slot(const std::string& slot) = 0;
  // TIMELINE_HISTORY timeline.
  [[nodiscard]] virtual TimelineHistoryFile timeline_history(wal::TimelineId timeline) = 0;
  // START_REPLICATION SLOT slot PHYSICAL start TIMELINE timeline. Returns nullopt when streaming started, or the
  // TimelineEnd the server answered with when `start` is exactly the end of a historic timeline.
  [[nodiscard]] virtual std::optional<TimelineEnd> start(const std::string& slot, wal::Lsn start,
                                                         wal::TimelineId timeline) = 0;
  // The next event, waiting at most `timeout` (Idle when nothing came). Only while streaming.
  [[nodiscard]] virtual StreamEvent next(std::chrono::milliseconds timeout) = 0;
  // Sends a standby status update: write = received, flush = durable, apply = 0.
  virtual void send_status(wal::Lsn write, wal::Lsn flush, int64_t now, bool reply_requested) = 0;
};

class LibpqReplicationSource final : public ReplicationSource {
 public:
  // Connects in physical replication mode. Throws kConnection (retryable) when the server is unreachable.
  explicit LibpqReplicationSource(const std::string& conninfo);
  ~LibpqReplicationSource() override;

  SystemIdentity identify_system() override;
  int server_version() override;
  uint32_t wal_segment_size() override;
  std::optional<SlotInfo> read_slot(const std::string& slot) override;
  void create_slot(const std::string& slot) override;
  TimelineHistoryFile timeline_history(wal::TimelineId timeline) override;
  std::optional<TimelineEnd> start(const std::string& slot, wal::Lsn start, wal::TimelineId timeline) override;
  StreamEvent next(std::chrono::milliseconds timeout) override;
  void send_status(wal::Lsn write, wal::Lsn flush, int64_t now, bool reply_requested) override;

  // SHOW setting, as the walsender answers it (any server setting); throws kConnection for an unknown one.
  [[nodiscard]] std::string show(const std::string& setting);
  // DROP_REPLICATION_SLOT slot (it must not be in use).
  void drop_slot(const std::string& slot);

 private:
  // After COPY ended: reads the results up to NULL; a next-timeline row becomes a TimelineEnd.
  StreamEvent finish_copy();
  [[noreturn]] void lost(const std::string& what) const;

  struct FreeMem {
    void operator()(char* p) const;
  };
  Connection conn_;
  std::unique_ptr<char, FreeMem> message_;  // the last PQgetCopyData buffer, alive until the next call
  bool streaming_ = false;
};

// --- CopyData codecs (pure) --------------------------------------------------------------------------------
// Parses one server CopyData message ('w' or 'k'); nullopt when it is malformed or of another type. The XLogData
// bytes point into `message`.
[[nodiscard]] std::optional<std::variant<XLogData, Keepalive>> parse_server_message(
    std::span<const std::byte> message);

inline constexpr std::size_t kStatusUpdateSize = 34;
// The 'r' standby status update (apply = 0).
[[nodiscard]] std::array<std::byte, kStatusUpdateSize> encode_status_update(wal::Lsn write, wal::Lsn flush,
                                                                            int64_t now, bool reply_requested);

// --- server settings that endanger the slot (pure) ----------------------------------------------------------
// PostgreSQL 18's idle_replication_slot_timeout invalidates a slot that has been inactive that long, as walvault's
// is while the streamer is down: WAL from then on can no longer reach the repository. The warning for the value
// SHOW printed ("0" = off, "1d", "90min"), or nullopt when the server has no such setting (before 18) or it is off.
inline constexpr int kIdleSlotTimeoutVersion = 180000;
[[nodiscard]] std::optional<std::string> idle_slot_timeout_warning(int server_version, std::string_view shown);

// What is wrong with a repository's slot, as READ_REPLICATION_SLOT shows it (info: nullopt when it does not exist),
// given where the repository needs the server's WAL from (its durable end; nullopt when unknown): it is gone, it
// reserves no WAL (an invalidated slot: max_slot_wal_keep_size, idle_replication_slot_timeout), or it is ahead of
// the repository by a segment or more, so the server may already have removed WAL the repository lacks (something
// else acknowledges WAL on it). Within the segment the streamer resumes in (fetched again from its start) it is
// not. One line, or nullopt when the slot is sound. Pure.
[[nodiscard]] std::optional<std::string> slot_problem(const std::string& slot, const std::optional<SlotInfo>& info,
                                                      std::optional<wal::Lsn> needed_from, uint32_t segment_size);

// What pg_replication_slots says of a slot (a regular connection): wal_status ("reserved", "extended", "unreserved",
// "lost"), safe_wal_size (bytes the server may still write before the slot is in danger; unset when
// max_slot_wal_keep_size is unlimited or the slot is lost) and, from PostgreSQL 17 on, invalidation_reason.
struct SlotView {
  std::string wal_status;
  std::optional<int64_t> safe_wal_size;
  std::string invalidation_reason;  // "" when none or before 17
  // " (pg_replication_slots: wal_status lost, invalidation_reason wal_removed)", to append to a message.
  [[nodiscard]] std::string describe() const;
};
// nullopt when no slot has that name. Throws kConnection.
[[nodiscard]] std::optional<SlotView> read_slot_view(const std::string& conninfo, const std::string& slot);
// read_slot_view(...)->describe(), or "" when the server cannot be asked: only detail for a message that stands
// without it.
[[nodiscard]] std::string describe_slot(const std::string& conninfo, const std::string& slot);

// Slot names PostgreSQL accepts: 1..63 of [a-z0-9_].
[[nodiscard]] bool valid_slot_name(std::string_view name);

}  // namespace walvault::pg
