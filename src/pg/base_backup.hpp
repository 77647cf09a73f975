// BASE_BACKUP over a physical replication connection (PostgreSQL 15 option syntax), streamed to a sink.
//
// run_base_backup() sends one BASE_BACKUP command and walks the response exactly as the server sends it (see
// the reference, §9): the start position, the tablespace list, one COPY stream carrying every archive ('n' new
// archive, 'd' data, 'p' progress, 'm' manifest start), the stop position, and the command completion. Archive
// and manifest bytes go to the sink as they arrive, one CopyData message at a time, so memory stays bounded by
// the server's message size whatever the size of the database. The spans handed to the sink are valid only
// during the call.
//
// Errors: run_base_backup() throws walvault::Error kConnection for anything the server or the connection does
// (including a malformed CopyData message), and lets whatever the sink throws propagate; either way it returns
// only after a complete, successful backup. A throw abandons the connection: the caller must destroy it, which
// makes the server abort the backup. parse_copy_message() is pure and returns its errors as values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "pg/connection.hpp"
#include "wal/expected.hpp"
#include "wal/lsn.hpp"

namespace walvault::pg {

struct BaseBackupOptions {
  std::string label;             // LABEL, written into backup_label (quotes are escaped)
  bool fast_checkpoint = false;  // CHECKPOINT 'fast' instead of 'spread'
};

// The BASE_BACKUP command for these options: a manifest with CRC32C file checksums, no WAL (the repository has
// it), no wait for archiving (walvault captures WAL itself), progress sizes, and pg_tblspc symlinks rather than
// a tablespace_map.
[[nodiscard]] std::string base_backup_command(const BaseBackupOptions& options);

// A WAL position and its timeline, as BASE_BACKUP reports the start and stop of a backup.
struct BackupPosition {
  wal::Lsn lsn;
  wal::TimelineId timeline;
};

// One row of BASE_BACKUP's tablespace result. The data directory is the row with no oid.
struct Tablespace {
  std::optional<uint32_t> oid;
  std::string location;              // empty for the data directory
  std::optional<uint64_t> size_kib;  // estimated size (PROGRESS)
};

// One CopyData message of the BASE_BACKUP stream, decoded. Spans point into the message.
struct NewArchive {
  std::string name;             // "base.tar" or "<oid>.tar"
  std::string tablespace_path;  // empty for base.tar
};
struct ArchiveData {
  std::span<const std::byte> bytes;
};
struct Progress {
  uint64_t bytes_done = 0;
};
struct ManifestStart {};
using CopyMessage = std::variant<NewArchive, ArchiveData, Progress, ManifestStart>;

// Decodes one CopyData payload. Errors name what is wrong ("unknown message type 'x'", "truncated 'p'
// message", ...).
[[nodiscard]] Expected<CopyMessage, std::string> parse_copy_message(std::span<const std::byte> message);

// Receives a base backup in stream order: begin() once, then for each archive archive() followed by its data,
// then manifest() followed by the manifest's data. progress() may come at any time after begin().
class BaseBackupSink {
 public:
  virtual ~BaseBackupSink() = default;
  BaseBackupSink() = default;
  BaseBackupSink(const BaseBackupSink&) = delete;
  BaseBackupSink& operator=(const BaseBackupSink&) = delete;

  // The checkpoint is done and the copy is about to start. Throwing here abandons the backup before any data.
  virtual void begin(const BackupPosition& start, const std::vector<Tablespace>& tablespaces) = 0;
  virtual void archive(const NewArchive& archive) = 0;
  virtual void manifest() = 0;
  // Bytes of the current archive or of the manifest.
  virtual void data(std::span<const std::byte> bytes) = 0;
  virtual void progress(uint64_t bytes_done) = 0;
};

// Runs BASE_BACKUP on a physical replication connection and returns the stop position (the backup is
// consistent once WAL up to it has been replayed).
BackupPosition run_base_backup(const Connection& connection, const BaseBackupOptions& options, BaseBackupSink& sink);

}  // namespace walvault::pg
