#include "pg/replication.hpp"

#include <poll.h>

#include <charconv>
#include <cstring>

#include "common/error.hpp"
#include "pg/sql_text.hpp"

namespace walvault::pg {
namespace {

uint64_t read_be64(std::span<const std::byte> b, std::size_t at) {
  uint64_t v = 0;
  for (std::size_t i = 0; i < 8; ++i) v = (v << 8) | std::to_integer<uint64_t>(b[at + i]);
  return v;
}

void write_be64(std::span<std::byte> b, std::size_t at, uint64_t v) {
  for (std::size_t i = 0; i < 8; ++i) b[at + i] = static_cast<std::byte>((v >> (56 - 8 * i)) & 0xFF);
}

constexpr std::size_t kXLogDataHeader = 25;
constexpr std::size_t kKeepaliveSize = 18;

Error malformed(const std::string& what) {
  return Error(ErrorCode::kConnection, "server sent " + what,
               "check that the server is PostgreSQL 15 or later and speaks the physical replication protocol");
}

std::optional<uint32_t> parse_u32(const std::string& text) {
  uint32_t v = 0;
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size()) return std::nullopt;
  return v;
}

// The next_tli / next_tli_startpos row that ends a historic timeline.
TimelineEnd parse_timeline_end(const Result& res) {
  if (res.rows() != 1 || res.columns() < 2) throw malformed("an unexpected end-of-timeline result");
  const auto tli = parse_u32(res.value(0, 0));
  const auto pos = wal::Lsn::parse(res.value(0, 1));
  if (!tli || !pos) throw malformed("a malformed end-of-timeline result");
  return TimelineEnd{wal::TimelineId(*tli), *pos};
}

// The walsender's "requested WAL segment ... has already been removed" (errcode_for_file_access on ENOENT).
constexpr std::string_view kUndefinedFile = "58P01";

bool is_wal_removed(const Result& res) {
  const char* state = libpq().PQresultErrorField(res.get(), PG_DIAG_SQLSTATE);
  return res.status() == PGRES_FATAL_ERROR && state != nullptr && kUndefinedFile == state;
}

// The server's own words, verbatim (one line).
Error wal_removed(const Result& res) {
  std::string message = libpq().PQresultErrorMessage(res.get());
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  for (char& c : message) {
    if (c == '\n') c = ' ';
  }
  return Error(ErrorCode::kConnection, message, "the server removed WAL this repository had not received",
               /*retryable=*/false, ErrorCause::kWalRemoved);
}

}  // namespace

std::optional<std::variant<XLogData, Keepalive>> parse_server_message(std::span<const std::byte> message) {
  if (message.empty()) return std::nullopt;
  const char type = static_cast<char>(message[0]);
  if (type == 'w') {
    if (message.size() < kXLogDataHeader) return std::nullopt;
    XLogData d;
    d.start = wal::Lsn(read_be64(message, 1));
    d.server_end = wal::Lsn(read_be64(message, 9));
    d.send_time = static_cast<int64_t>(read_be64(message, 17));
    d.bytes = message.subspan(kXLogDataHeader);
    return d;
  }
  if (type == 'k') {
    if (message.size() < kKeepaliveSize) return std::nullopt;
    Keepalive k;
    k.server_end = wal::Lsn(read_be64(message, 1));
    k.send_time = static_cast<int64_t>(read_be64(message, 9));
    k.reply_requested = message[17] != std::byte{0};
    return k;
  }
  return std::nullopt;
}

std::array<std::byte, kStatusUpdateSize> encode_status_update(wal::Lsn write, wal::Lsn flush, int64_t now,
                                                              bool reply_requested) {
  std::array<std::byte, kStatusUpdateSize> m{};
  m[0] = static_cast<std::byte>('r');
  write_be64(m, 1, write.value());
  write_be64(m, 9, flush.value());
  write_be64(m, 17, 0);  // apply: we replay nothing
  write_be64(m, 25, static_cast<uint64_t>(now));
  m[33] = reply_requested ? std::byte{1} : std::byte{0};
  return m;
}

bool valid_slot_name(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  for (const char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

void LibpqReplicationSource::FreeMem::operator()(char* p) const { libpq().PQfreemem(p); }

LibpqReplicationSource::LibpqReplicationSource(const std::string& conninfo)
    : conn_(conninfo, Mode::kPhysicalReplication) {}

LibpqReplicationSource::~LibpqReplicationSource() = default;

void LibpqReplicationSource::lost(const std::string& what) const {
  throw Error(ErrorCode::kConnection, what + ": " + conn_.error_message(), "the connection to the server was lost",
              /*retryable=*/true);
}

SystemIdentity LibpqReplicationSource::identify_system() { return conn_.identify_system(); }

int LibpqReplicationSource::server_version() { return conn_.server_version(); }

uint32_t LibpqReplicationSource::wal_segment_size() { return conn_.wal_segment_size(); }

std::optional<SlotInfo> LibpqReplicationSource::read_slot(const std::string& slot) {
  const Result res = conn_.exec("READ_REPLICATION_SLOT " + quote_identifier(slot));
  if (res.rows() != 1 || res.columns() < 3) throw malformed("an unexpected READ_REPLICATION_SLOT result");
  if (res.is_null(0, 0)) return std::nullopt;
  if (res.value(0, 0) != "physical") {
    throw Error(ErrorCode::kConnection, "replication slot \"" + slot + "\" is not a physical slot",
                "choose another slot name with 'walvault init --slot NAME'");
  }
  SlotInfo info;
  if (!res.is_null(0, 1)) {
    const auto lsn = wal::Lsn::parse(res.value(0, 1));
    const auto tli = parse_u32(res.value(0, 2));
    if (!lsn || !tli) throw malformed("a malformed READ_REPLICATION_SLOT result");
    info.restart_lsn = *lsn;
    info.restart_timeline = wal::TimelineId(*tli);
  }
  return info;
}

void LibpqReplicationSource::create_slot(const std::string& slot) {
  (void)conn_.exec("CREATE_REPLICATION_SLOT " + quote_identifier(slot) + " PHYSICAL (RESERVE_WAL)");
}

void LibpqReplicationSource::drop_slot(const std::string& slot) {
  (void)conn_.exec("DROP_REPLICATION_SLOT " + quote_identifier(slot), PGRES_COMMAND_OK);
}

TimelineHistoryFile LibpqReplicationSource::timeline_history(wal::TimelineId timeline) {
  const Result res = conn_.exec("TIMELINE_HISTORY " + std::to_string(timeline.value()));
  if (res.rows() != 1 || res.columns() < 2) throw malformed("an unexpected TIMELINE_HISTORY result");
  TimelineHistoryFile file;
  file.file_name = res.value(0, 0);
  file.content.assign(libpq().PQgetvalue(res.get(), 0, 1), static_cast<std::size_t>(libpq().PQgetlength(res.get(), 0, 1)));
  if (file.file_name != wal::history_file_name(timeline)) throw malformed("a history file for another timeline");
  return file;
}

std::optional<TimelineEnd> LibpqReplicationSource::start(const std::string& slot, wal::Lsn start,
                                                         wal::TimelineId timeline) {
  const std::string command = "START_REPLICATION SLOT " + quote_identifier(slot) + " PHYSICAL " +
                              start.to_string() + " TIMELINE " + std::to_string(timeline.value());
  if (libpq().PQsendQuery(conn_.get(), command.c_str()) == 0) lost("START_REPLICATION");
  Result res(libpq().PQgetResult(conn_.get()));
  if (res.status() == PGRES_COPY_BOTH) {
    streaming_ = true;
    return std::nullopt;
  }
  if (res.status() == PGRES_TUPLES_OK) {
    // Started exactly at the end of a historic timeline: the answer is the next timeline, without COPY.
    const TimelineEnd end = parse_timeline_end(res);
    while (Result(libpq().PQgetResult(conn_.get())).get() != nullptr) {
    }
    return end;
  }
  if (is_wal_removed(res)) throw wal_removed(res);
  const std::string message = conn_.error_message();
  while (Result(libpq().PQgetResult(conn_.get())).get() != nullptr) {
  }
  const bool gone = libpq().PQstatus(conn_.get()) != CONNECTION_OK;
  throw Error(ErrorCode::kConnection, "START_REPLICATION failed: " + message,
              gone ? "the connection to the server was lost"
                   : "the server no longer has this WAL or the timeline is not in its history; check the slot with "
                     "'SELECT * FROM pg_replication_slots'",
              /*retryable=*/gone);
}

StreamEvent LibpqReplicationSource::next(std::chrono::milliseconds timeout) {
  message_.reset();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    char* buffer = nullptr;
    const int n = libpq().PQgetCopyData(conn_.get(), &buffer, /*async=*/1);
    if (n > 0) {
      message_.reset(buffer);
      const auto parsed = parse_server_message(
          std::span<const std::byte>(reinterpret_cast<const std::byte*>(buffer), static_cast<std::size_t>(n)));
      if (!parsed) throw malformed("an unknown or truncated replication message");
      if (const auto* d = std::get_if<XLogData>(&*parsed)) return *d;
      return std::get<Keepalive>(*parsed);
    }
    if (n == -1) return finish_copy();
    if (n < -1) lost("reading the replication stream failed");
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return Idle{};
    pollfd fd{libpq().PQsocket(conn_.get()), POLLIN, 0};
    const int ready = ::poll(&fd, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR) lost("waiting for the server failed");
    if (ready <= 0) return Idle{};  // timeout, or a signal the caller may want to look at
    if (libpq().PQconsumeInput(conn_.get()) == 0) lost("reading from the server failed");
  }
}

StreamEvent LibpqReplicationSource::finish_copy() {
  // The server ended COPY: answer with CopyDone, then read the results (postgres-wal.md §8.2 step 4/5). When it
  // ended with an error (e.g. the WAL asked for was removed), there is no COPY left to end: the result names it.
  if (libpq().PQputCopyEnd(conn_.get(), nullptr) > 0 && libpq().PQflush(conn_.get()) != 0) {
    lost("ending the replication stream");
  }
  streaming_ = false;
  StreamEvent event = StreamEnded{};
  while (true) {
    Result res(libpq().PQgetResult(conn_.get()));
    if (res.get() == nullptr) break;
    if (res.status() == PGRES_TUPLES_OK) {
      event = parse_timeline_end(res);
    } else if (is_wal_removed(res)) {
      throw wal_removed(res);
    } else if (res.status() != PGRES_COMMAND_OK) {
      lost("the replication stream ended with an error");
    }
  }
  if (libpq().PQstatus(conn_.get()) != CONNECTION_OK) lost("the replication stream ended");
  return event;
}

void LibpqReplicationSource::send_status(wal::Lsn write, wal::Lsn flush, int64_t now, bool reply_requested) {
  if (!streaming_) return;
  const auto m = encode_status_update(write, flush, now, reply_requested);
  if (libpq().PQputCopyData(conn_.get(), reinterpret_cast<const char*>(m.data()), static_cast<int>(m.size())) <= 0 ||
      libpq().PQflush(conn_.get()) != 0) {
    lost("sending a status update failed");
  }
}

std::string LibpqReplicationSource::show(const std::string& setting) {
  const Result res = conn_.exec("SHOW " + setting);
  if (res.rows() != 1 || res.columns() != 1) {
    throw Error(ErrorCode::kConnection, "server answered SHOW " + setting + " with an unexpected result");
  }
  return res.value(0, 0);
}

std::optional<std::string> idle_slot_timeout_warning(int server_version, std::string_view shown) {
  if (server_version < kIdleSlotTimeoutVersion) return std::nullopt;
  std::size_t digits = 0;
  while (digits < shown.size() && shown[digits] >= '0' && shown[digits] <= '9') ++digits;
  const bool off = digits > 0 && shown.substr(0, digits).find_first_not_of('0') == std::string_view::npos;
  if (off) return std::nullopt;
  return "the server's idle_replication_slot_timeout is " + std::string(shown) +
         ": PostgreSQL invalidates walvault's slot once the streamer has been down that long, and the WAL from then "
         "on never reaches the repository (set it to 0, or keep 'walvault stream' running under a supervisor)";
}

}  // namespace walvault::pg

namespace walvault::pg {

std::optional<std::string> slot_problem(const std::string& slot, const std::optional<SlotInfo>& info,
                                        std::optional<wal::Lsn> needed_from, uint32_t segment_size) {
  const std::string name = "the replication slot \"" + slot + "\"";
  if (!info) return name + " does not exist: the server keeps no WAL for walvault";
  if (!info->restart_lsn) {
    return name + " reserves no WAL: it was invalidated (max_slot_wal_keep_size, idle_replication_slot_timeout) and "
                  "the server may have removed WAL the repository lacks";
  }
  if (needed_from && wal::segment_of(*info->restart_lsn, segment_size) > wal::segment_of(*needed_from, segment_size)) {
    return name + " is at " + info->restart_lsn->to_string() + ", ahead of the repository's durable " +
           needed_from->to_string() +
           ": something else acknowledges WAL on it (another repository?), and the server may remove WAL this "
           "repository lacks";
  }
  return std::nullopt;
}

std::string SlotView::describe() const {
  return " (pg_replication_slots: wal_status " + (wal_status.empty() ? std::string("null") : wal_status) +
         (invalidation_reason.empty() ? std::string() : ", invalidation_reason " + invalidation_reason) + ")";
}

std::optional<SlotView> read_slot_view(const std::string& conninfo, const std::string& slot) {
  if (!valid_slot_name(slot)) return std::nullopt;  // no such slot can exist; the name is quoted below
  const Connection conn(conninfo, Mode::kRegular);
  const bool has_reason = conn.server_version() >= 170000;  // invalidation_reason is new in 17
  const Result res = conn.exec("SELECT wal_status, safe_wal_size, " +
                               std::string(has_reason ? "invalidation_reason" : "NULL") +
                               " FROM pg_replication_slots WHERE slot_name = '" + slot + "'");
  if (res.rows() != 1) return std::nullopt;
  SlotView view;
  if (!res.is_null(0, 0)) view.wal_status = res.value(0, 0);
  if (!res.is_null(0, 1)) view.safe_wal_size = std::stoll(res.value(0, 1));
  if (!res.is_null(0, 2)) view.invalidation_reason = res.value(0, 2);
  return view;
}

std::string describe_slot(const std::string& conninfo, const std::string& slot) {
  try {
    const auto view = read_slot_view(conninfo, slot);
    return view ? view->describe() : "";
  } catch (const Error&) {
    return "";
  }
}

}  // namespace walvault::pg
