#include "command/backup.hpp"

#include <date/date.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "common/progress.hpp"
#include "format/checksum.hpp"
#include "format/segment_container.hpp"
#include "pg/base_backup.hpp"
#include "pg/connection.hpp"
#include "repo/lock.hpp"
#include "repo/repository.hpp"
#include "restore/backup_catalog.hpp"
#include "restore/plan_inputs.hpp"
#include "restore/tar.hpp"
#include "restore/wal_coverage.hpp"

namespace walvault::command {
namespace {

using restore::BackupEntry;
using restore::BackupStream;

// Level 1 with its minimum match of 5 (format::FrameEncoder) stores a data directory's tar as small as level 3 did
// (bench/results/backup.md: 22.78x against 22.80x) with a faster compressor (zstd -b by hand: 24 %).
constexpr int kZstdLevel = format::kDefaultZstdLevel;
constexpr std::size_t kMaxBackupLabelSize = 64 << 10;
constexpr std::chrono::milliseconds kWalPollInterval{200};

Error container_error(const std::string& object, const format::ContainerError& error) {
  return Error(ErrorCode::kInternal, "cannot write " + object + ": " + error.message);
}

// One tar archive streamed into a stream container object.
class StoredStream {
 public:
  StoredStream(storage::Storage& storage, std::string object, const format::ContainerHeader& header)
      : object_(std::move(object)), writer_(storage.open_writer(object_)) {
    storage::ObjectWriter* writer = writer_.get();
    auto created = format::ContainerWriter::create(
        header, [writer](std::span<const std::byte> bytes) { writer->write(bytes); },
        format::WriterOptions{kZstdLevel});
    if (!created) throw container_error(object_, created.error());
    container_.emplace(std::move(*created));
  }

  void write(std::span<const std::byte> raw) {
    const auto appended = container_->append(raw);
    if (!appended) throw container_error(object_, appended.error());
  }

  // Finishes the container and commits the object.
  format::ContainerInfo commit(wal::Lsn end) {
    auto info = container_->finish(format::ContainerSummary{}, end);
    if (!info) throw container_error(object_, info.error());
    writer_->commit();
    return std::move(*info);
  }

  [[nodiscard]] uint64_t stored_size() const { return writer_->size(); }
  [[nodiscard]] const std::string& object() const { return object_; }

 private:
  std::string object_;
  std::unique_ptr<storage::ObjectWriter> writer_;
  std::optional<format::ContainerWriter> container_;
};

// Reads base.tar as it passes, to validate it as a tar stream and keep backup_label's text for the catalog.
class LabelCapture final : public restore::TarHandler {
 public:
  void entry(const restore::TarEntry& entry) override {
    capturing_ = entry.path == "backup_label" || entry.path == "tablespace_map";
    target_ = entry.path == "backup_label" ? &label_ : &map_;
  }
  void data(std::span<const std::byte> bytes) override {
    if (!capturing_) return;
    if (target_->size() + bytes.size() > kMaxBackupLabelSize) {
      throw Error(ErrorCode::kConnection, "the server sent a backup_label larger than 64 KiB");
    }
    target_->append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
  void entry_end() override { capturing_ = false; }

  [[nodiscard]] const std::string& label() const { return label_; }
  [[nodiscard]] const std::string& tablespace_map() const { return map_; }

 private:
  bool capturing_ = false;
  std::string* target_ = nullptr;
  std::string label_;
  std::string map_;
};

// What the repository holds of the WAL right now, and whether a streamer is capturing more.
struct WalView {
  restore::WalCoverage coverage;
  std::optional<restore::TipState> tip;
  bool streamer_running = false;
};

WalView read_wal_view(const repo::Repository& repository) {
  const storage::Storage& storage = *repository.storage;
  const uint32_t segment_size = repository.config.segment_size;
  WalView view;
  view.streamer_running = repo::RepositoryLock::holder(storage, repo::kStreamLockName).has_value();
  view.tip = restore::read_tip_state(storage, segment_size);
  view.coverage = restore::read_wal_coverage(storage, segment_size);
  return view;
}

Error not_captured(const std::string& what) {
  return Error(ErrorCode::kNotRestorable, what,
               "run 'walvault stream' for this repository (it must keep running during and after the backup), "
               "then take the backup again");
}

std::string durable_text(const WalView& view) {
  return view.tip ? view.tip->durable_lsn.to_string() : std::string("nothing");
}

// Stores what BASE_BACKUP sends under backup/<id>/.
class RepositorySink final : public pg::BaseBackupSink {
 public:
  RepositorySink(const repo::Repository& repository, BackupEntry& entry, Clock& clock, ProgressMeter& progress,
                 std::chrono::seconds wal_wait)
      : repository_(repository), entry_(entry), clock_(clock), progress_(progress), wal_wait_(wal_wait) {}

  void begin(const pg::BackupPosition& start, const std::vector<pg::Tablespace>& tablespaces) override {
    std::string user_tablespaces;
    uint64_t total_kib = 0;
    for (const auto& ts : tablespaces) {
      total_kib += ts.size_kib.value_or(0);
      if (!ts.oid) continue;
      if (!user_tablespaces.empty()) user_tablespaces += ", ";
      user_tablespaces += std::to_string(*ts.oid) + " at " + ts.location;
    }
    if (!user_tablespaces.empty()) {
      throw Error(ErrorCode::kNotRestorable,
                  "the cluster has user tablespaces (" + user_tablespaces + "), which walvault backup does not support",
                  "move their objects to pg_default (ALTER TABLE/INDEX ... SET TABLESPACE pg_default) and drop the "
                  "tablespaces, or back this cluster up with another tool");
    }
    progress_.set_total(total_kib * 1024);
    entry_.timeline = start.timeline;
    entry_.start_lsn = start.lsn;
    entry_.start_time = format_time(clock_.now());
    check_wal_start();
    log::info("backup " + entry_.id + " started at " + start.lsn.to_string() + " on timeline " +
              std::to_string(start.timeline.value()));
  }

  void archive(const pg::NewArchive& archive) override {
    close_current();
    std::string stem = archive.name;
    if (stem.size() > 4 && stem.ends_with(".tar")) stem.resize(stem.size() - 4);
    if (stem != "base") {
      throw Error(ErrorCode::kConnection, "the server sent an unexpected archive \"" + archive.name + "\"");
    }
    format::ContainerHeader header;
    header.kind = format::ContainerKind::kStream;
    header.chunk_size = format::kStreamChunkSize;
    header.system_identifier = entry_.system_identifier;
    header.pg_version = static_cast<uint32_t>(entry_.pg_version);
    header.timeline = entry_.timeline;
    header.zstd_level = kZstdLevel;
    header.start_lsn = entry_.start_lsn;
    current_.emplace(*repository_.storage, restore::backup_object_name(entry_.id, stem + ".wvt"), header);
    current_stream_ = BackupStream{};
    current_stream_.name = stem;
    current_stream_.object = current_->object();
    current_stream_.tablespace_path = archive.tablespace_path;
    tar_.emplace(capture_);
  }

  void manifest() override {
    close_current();
    manifest_writer_ = repository_.storage->open_writer(restore::backup_object_name(entry_.id, "backup_manifest"));
    manifest_hash_ = format::Hasher();
  }

  void data(std::span<const std::byte> bytes) override {
    if (manifest_writer_) {
      manifest_writer_->write(bytes);
      manifest_hash_.update(bytes);
      return;
    }
    current_->write(bytes);
    const auto parsed = tar_->feed(bytes);
    if (!parsed) throw Error(ErrorCode::kConnection, "the server sent a malformed tar archive: " + parsed.error());
    done_ += bytes.size();
    progress_.update(done_);
  }

  void progress(uint64_t) override {}

  // After BASE_BACKUP: commits the manifest, waits for the WAL up to stop, and fills in the entry.
  void finish(const pg::BackupPosition& stop) {
    if (!manifest_writer_) throw Error(ErrorCode::kConnection, "BASE_BACKUP sent no backup_manifest");
    entry_.manifest_object = restore::backup_object_name(entry_.id, "backup_manifest");
    entry_.manifest_size = manifest_writer_->size();
    entry_.manifest_checksum = manifest_hash_.digest();
    manifest_writer_->commit();
    manifest_writer_.reset();
    if (stop.timeline != entry_.timeline) {
      throw Error(ErrorCode::kNotRestorable,
                  "the server changed timeline during the backup (" + std::to_string(entry_.timeline.value()) + " to " +
                      std::to_string(stop.timeline.value()) + ")",
                  "take the backup again");
    }
    entry_.stop_lsn = stop.lsn;
    entry_.stop_time = format_time(clock_.now());
    entry_.backup_label = capture_.label();
    entry_.tablespace_map = capture_.tablespace_map();
    if (entry_.backup_label.empty()) throw Error(ErrorCode::kConnection, "base.tar holds no backup_label");
    wait_for_wal();
  }

 private:
  void close_current() {
    if (!current_) return;
    const auto finished = tar_->finish();
    if (!finished) throw Error(ErrorCode::kConnection, "the server sent a malformed tar archive: " + finished.error());
    const format::ContainerInfo info = current_->commit(wal::Lsn{});
    current_stream_.raw_size = info.raw_length;
    current_stream_.stored_size = current_->stored_size();
    current_stream_.checksum = info.raw_checksum;
    current_stream_.chunk_size = info.header.chunk_size;
    current_stream_.chunk_count = static_cast<uint32_t>(info.chunks.size());
    entry_.streams.push_back(current_stream_);
    current_.reset();
    tar_.reset();
  }

  // The repository must be capturing WAL from the backup's start segment: a streamer runs, and the WAL it holds
  // on this timeline does not start after that segment. An empty repository gets wal_wait to receive its first
  // bytes (a streamer started just before the backup).
  void check_wal_start() {
    const uint32_t segment_size = repository_.config.segment_size;
    const wal::SegmentNo start_segment = wal::segment_of(entry_.start_lsn, segment_size);
    const std::string segment_name = wal::segment_file_name(entry_.timeline, start_segment, segment_size);
    const auto deadline = clock_.steady() + wal_wait_;
    while (true) {
      const WalView view = read_wal_view(repository_);
      if (!view.streamer_running) {
        throw not_captured(
            "no streamer is capturing WAL into this repository, so this backup could never be "
            "restored");
      }
      const restore::WalRun* newest = nullptr;
      for (const auto& run : view.coverage.runs) {
        if (run.timeline == entry_.timeline) newest = &run;
      }
      if (newest != nullptr) {
        if (newest->first > start_segment) {
          throw not_captured("the repository's WAL on timeline " + std::to_string(entry_.timeline.value()) +
                             " starts after the backup's start segment " + segment_name +
                             ", so this backup could never be restored");
        }
        return;
      }
      if (clock_.steady() >= deadline) {
        throw not_captured("the repository holds no WAL on timeline " + std::to_string(entry_.timeline.value()) +
                           " (needed from segment " + segment_name + ")");
      }
      clock_.sleep_for(kWalPollInterval);
    }
  }

  // Waits until the repository holds every byte of WAL from start to stop (bounded by wal_wait).
  void wait_for_wal() {
    const uint32_t segment_size = repository_.config.segment_size;
    const auto deadline = clock_.steady() + wal_wait_;
    const wal::Lsn from = wal::segment_start(wal::segment_of(entry_.start_lsn, segment_size), segment_size);
    log::info("waiting for the repository's WAL to reach the backup's stop LSN " + entry_.stop_lsn.to_string());
    while (true) {
      const WalView view = read_wal_view(repository_);
      if (view.coverage.holds(entry_.timeline, from, entry_.stop_lsn, segment_size)) return;
      if (!view.streamer_running) {
        throw not_captured("the streamer stopped before the repository held the backup's WAL up to " +
                           entry_.stop_lsn.to_string() + " (durable up to " + durable_text(view) + ")");
      }
      if (clock_.steady() >= deadline) {
        const restore::WalRun* run = view.coverage.run_at(entry_.timeline, from, segment_size);
        const std::string reason = run == nullptr ? "the WAL from " + from.to_string() + " is missing"
                                                  : "it holds WAL without a gap only up to " + run->end_lsn.to_string();
        throw not_captured("the repository did not capture the backup's WAL up to its stop LSN " +
                           entry_.stop_lsn.to_string() + " within " + std::to_string(wal_wait_.count()) +
                           " s: " + reason);
      }
      clock_.sleep_for(kWalPollInterval);
    }
  }

  const repo::Repository& repository_;
  BackupEntry& entry_;
  Clock& clock_;
  ProgressMeter& progress_;
  std::chrono::seconds wal_wait_;
  std::optional<StoredStream> current_;
  BackupStream current_stream_;
  LabelCapture capture_;
  std::optional<restore::TarReader> tar_;
  std::unique_ptr<storage::ObjectWriter> manifest_writer_;
  format::Hasher manifest_hash_;
  uint64_t done_ = 0;
};

void remove_backup_objects(storage::Storage& storage, const std::string& id) noexcept {
  try {
    for (const auto& object : storage.list(restore::backup_object_name(id, ""))) storage.remove(object.name);
  } catch (const Error& e) {
    log::warning("could not remove the objects of failed backup " + id +
                 " (the next backup removes them): " + e.what());
  }
}

std::string new_backup_id(const storage::Storage& storage, Clock& clock) {
  while (true) {
    const std::string id =
        date::format("%Y%m%dT%H%M%SZ", std::chrono::time_point_cast<std::chrono::seconds>(clock.now()));
    if (storage.list(restore::backup_object_name(id, "")).empty()) return id;
    clock.sleep_for(std::chrono::milliseconds(200));
  }
}

void print_summary(const BackupEntry& entry, std::chrono::steady_clock::duration elapsed) {
  const double seconds = std::chrono::duration<double>(elapsed).count();
  const uint64_t raw = entry.raw_size();
  const uint64_t stored = entry.stored_size();
  char ratio[32];
  std::snprintf(ratio, sizeof ratio, "%.2f",
                stored == 0 ? 0.0 : static_cast<double>(raw) / static_cast<double>(stored));
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.1f", seconds);
  std::printf(
      "backup %s complete\n  timeline %u, start %s, stop %s\n  started %s, stopped %s (%s s)\n"
      "  %s raw, %s stored (%sx)\n",
      entry.id.c_str(), entry.timeline.value(), entry.start_lsn.to_string().c_str(), entry.stop_lsn.to_string().c_str(),
      entry.start_time.c_str(), entry.stop_time.c_str(), secs, format_size(raw).c_str(), format_size(stored).c_str(),
      ratio);
}

}  // namespace

std::string format_size(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, unit == 0 ? "%.0f %s" : "%.1f %s", value, units[unit]);
  return buf;
}

int run_backup(const BackupOptions& options) {
  SystemClock clock;
  const repo::Repository repository = repo::open_repository(options.repo);
  storage::Storage& storage = *repository.storage;
  const repo::RepositoryLock lock(storage, repo::kBackupLockName, "backup");

  pg::Connection connection(repository.config.conninfo, pg::Mode::kPhysicalReplication);
  repo::check_server_version(connection.server_version());
  const pg::SystemIdentity identity = connection.identify_system();
  repo::check_system_identifier(repository.config, identity.system_identifier);

  for (const auto& removed : restore::remove_interrupted_backups(storage, /*dry_run=*/false)) {
    log::info("removed " + removed.name + ", left by an interrupted backup");
  }
  BackupEntry entry;
  entry.id = new_backup_id(storage, clock);
  entry.label = options.label.empty() ? "walvault " + entry.id : options.label;
  entry.system_identifier = identity.system_identifier;
  entry.pg_version = connection.server_version();

  const auto started = clock.steady();
  try {
    ProgressMeter progress("backup");
    RepositorySink sink(repository, entry, clock, progress, options.wal_wait);
    if (!options.fast) {
      progress.note("waiting for the server's checkpoint before the backup starts: a spread checkpoint takes up to "
                    "checkpoint_timeout x checkpoint_completion_target (--fast asks for an immediate one)");
    }
    const pg::BackupPosition stop =
        pg::run_base_backup(connection, pg::BaseBackupOptions{entry.label, options.fast}, sink);
    sink.finish(stop);
    const std::string catalog = restore::encode_backup_entry(entry);
    storage.write_atomic(restore::backup_object_name(entry.id, restore::kCatalogObjectName),
                         std::as_bytes(std::span(catalog.data(), catalog.size())));
  } catch (...) {
    remove_backup_objects(storage, entry.id);
    throw;
  }

  if (options.json) {
    std::fputs(restore::encode_backup_entry(entry).c_str(), stdout);
  } else {
    print_summary(entry, clock.steady() - started);
  }
  return 0;
}

}  // namespace walvault::command
