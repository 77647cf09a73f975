#include "pg/base_backup.hpp"

#include <charconv>
#include <cstring>

#include "common/error.hpp"

namespace walvault::pg {
namespace {

// 'x' + text + '\0' text fields: the next NUL-terminated string starting at pos, advancing pos.
std::optional<std::string> take_cstring(std::span<const std::byte> message, std::size_t& pos) {
  const auto* begin = reinterpret_cast<const char*>(message.data()) + pos;
  const std::size_t left = message.size() - pos;
  const void* nul = std::memchr(begin, '\0', left);
  if (nul == nullptr) return std::nullopt;
  const auto length = static_cast<std::size_t>(static_cast<const char*>(nul) - begin);
  pos += length + 1;
  return std::string(begin, length);
}

// A result of the form (recptr text, tli int8): the start or the stop position.
BackupPosition read_position(const Connection& connection, const char* which) {
  const Result res(libpq().PQgetResult(connection.get()));
  if (res.get() == nullptr || res.status() != PGRES_TUPLES_OK) connection.fail("BASE_BACKUP");
  if (res.rows() != 1 || res.columns() < 2) {
    throw Error(ErrorCode::kConnection, std::string("BASE_BACKUP returned a malformed ") + which + " position");
  }
  const auto lsn = wal::Lsn::parse(res.value(0, 0));
  const std::string tli_text = res.value(0, 1);
  uint32_t tli = 0;
  const auto [ptr, ec] = std::from_chars(tli_text.data(), tli_text.data() + tli_text.size(), tli);
  if (!lsn || ec != std::errc() || ptr != tli_text.data() + tli_text.size() || tli == 0) {
    throw Error(ErrorCode::kConnection, std::string("BASE_BACKUP returned a malformed ") + which + " position");
  }
  return BackupPosition{*lsn, wal::TimelineId(tli)};
}

std::vector<Tablespace> read_tablespaces(const Connection& connection) {
  const Result res(libpq().PQgetResult(connection.get()));
  if (res.get() == nullptr || res.status() != PGRES_TUPLES_OK) connection.fail("BASE_BACKUP");
  if (res.columns() < 3) throw Error(ErrorCode::kConnection, "BASE_BACKUP returned a malformed tablespace list");
  std::vector<Tablespace> out;
  for (int row = 0; row < res.rows(); ++row) {
    Tablespace ts;
    if (!res.is_null(row, 0)) {
      const std::string text = res.value(row, 0);
      uint32_t oid = 0;
      const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), oid);
      if (ec != std::errc()) throw Error(ErrorCode::kConnection, "BASE_BACKUP returned a malformed tablespace oid");
      ts.oid = oid;
    }
    if (!res.is_null(row, 1)) ts.location = res.value(row, 1);
    if (!res.is_null(row, 2)) {
      const std::string text = res.value(row, 2);
      uint64_t size = 0;
      const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), size);
      if (ec == std::errc()) ts.size_kib = size;
    }
    out.push_back(std::move(ts));
  }
  return out;
}

std::string quote_literal(const std::string& text) {
  std::string out = "'";
  for (const char c : text) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

}  // namespace

std::string base_backup_command(const BaseBackupOptions& options) {
  return "BASE_BACKUP (LABEL " + quote_literal(options.label) + ", PROGRESS, CHECKPOINT '" +
         (options.fast_checkpoint ? "fast" : "spread") +
         "', WAL false, WAIT false, MANIFEST 'yes', MANIFEST_CHECKSUMS 'CRC32C', TABLESPACE_MAP false)";
}

Expected<CopyMessage, std::string> parse_copy_message(std::span<const std::byte> message) {
  if (message.empty()) return Unexpected(std::string("empty message"));
  const char type = static_cast<char>(message[0]);
  switch (type) {
    case 'n': {
      std::size_t pos = 1;
      auto name = take_cstring(message, pos);
      auto path = name ? take_cstring(message, pos) : std::nullopt;
      if (!name || !path) return Unexpected(std::string("truncated 'n' message"));
      if (pos != message.size()) return Unexpected(std::string("trailing bytes in 'n' message"));
      if (name->empty()) return Unexpected(std::string("'n' message with an empty archive name"));
      return CopyMessage(NewArchive{std::move(*name), std::move(*path)});
    }
    case 'd':
      return CopyMessage(ArchiveData{message.subspan(1)});
    case 'p': {
      if (message.size() != 9)
        return Unexpected(std::string("'p' message of ") + std::to_string(message.size()) + " bytes, expected 9");
      uint64_t value = 0;
      for (std::size_t i = 1; i < 9; ++i) value = (value << 8) | static_cast<uint8_t>(message[i]);
      return CopyMessage(Progress{value});
    }
    case 'm':
      if (message.size() != 1) return Unexpected(std::string("trailing bytes in 'm' message"));
      return CopyMessage(ManifestStart{});
    default:
      return Unexpected(std::string("unknown message type 0x") + "0123456789abcdef"[static_cast<uint8_t>(type) >> 4] +
                        "0123456789abcdef"[static_cast<uint8_t>(type) & 0xF]);
  }
}

BackupPosition run_base_backup(const Connection& connection, const BaseBackupOptions& options, BaseBackupSink& sink) {
  PGconn* conn = connection.get();
  if (libpq().PQsendQuery(conn, base_backup_command(options).c_str()) != 1) connection.fail("BASE_BACKUP");

  const BackupPosition start = read_position(connection, "start");
  sink.begin(start, read_tablespaces(connection));

  {
    const Result copy(libpq().PQgetResult(conn));
    if (copy.get() == nullptr || copy.status() != PGRES_COPY_OUT) connection.fail("BASE_BACKUP");
  }
  enum class Phase { kNone, kArchive, kManifest } phase = Phase::kNone;
  while (true) {
    char* buffer = nullptr;
    const int n = libpq().PQgetCopyData(conn, &buffer, /*async=*/0);
    if (n == -1) break;
    if (n < 0) connection.fail("BASE_BACKUP data transfer");
    const std::unique_ptr<char, decltype(libpq().PQfreemem)> owned(buffer, libpq().PQfreemem);
    const auto parsed =
        parse_copy_message(std::span(reinterpret_cast<const std::byte*>(buffer), static_cast<std::size_t>(n)));
    if (!parsed) throw Error(ErrorCode::kConnection, "BASE_BACKUP sent a malformed message: " + parsed.error());
    if (const auto* archive = std::get_if<NewArchive>(&*parsed)) {
      if (phase == Phase::kManifest)
        throw Error(ErrorCode::kConnection, "BASE_BACKUP sent an archive after the manifest");
      phase = Phase::kArchive;
      sink.archive(*archive);
    } else if (const auto* data = std::get_if<ArchiveData>(&*parsed)) {
      if (phase == Phase::kNone) throw Error(ErrorCode::kConnection, "BASE_BACKUP sent data before any archive");
      sink.data(data->bytes);
    } else if (const auto* progress = std::get_if<Progress>(&*parsed)) {
      sink.progress(progress->bytes_done);
    } else {
      if (phase == Phase::kManifest) throw Error(ErrorCode::kConnection, "BASE_BACKUP sent two manifests");
      phase = Phase::kManifest;
      sink.manifest();
    }
  }
  if (phase != Phase::kManifest) throw Error(ErrorCode::kConnection, "BASE_BACKUP ended without a manifest");

  const BackupPosition stop = read_position(connection, "stop");
  {
    const Result done(libpq().PQgetResult(conn));
    if (done.get() == nullptr || done.status() != PGRES_COMMAND_OK) connection.fail("BASE_BACKUP");
  }
  while (true) {
    const Result extra(libpq().PQgetResult(conn));
    if (extra.get() == nullptr) break;
    if (extra.status() != PGRES_COMMAND_OK) connection.fail("BASE_BACKUP");
  }
  return stop;
}

}  // namespace walvault::pg
