#include "archive/verifier.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "archive/history_files.hpp"
#include "archive/index_crosscheck.hpp"
#include "archive/index_problems.hpp"
#include "archive/mass_rows.hpp"
#include "archive/relation_names.hpp"
#include "archive/stream_state.hpp"
#include "archive/timeline_history.hpp"
#include "archive/tip.hpp"
#include "common/error.hpp"
#include "format/checksum.hpp"
#include "format/index.hpp"
#include "format/segment_container.hpp"
#include "format/tail_log.hpp"
#include "repo/lock.hpp"
#include "repo/wal_gaps.hpp"
#include "restore/backup_catalog.hpp"
#include "restore/backup_manifest.hpp"
#include "restore/plan_inputs.hpp"
#include "restore/tar.hpp"
#include "storage/container_store.hpp"
#include "storage/index_store.hpp"
#include "wal/crc32c.hpp"

namespace walvault::archive {
namespace {

using storage::Bytes;
using storage::ObjectInfo;
using storage::Storage;

constexpr std::string_view kWalPrefix = "wal/";
constexpr std::string_view kSegmentSuffix = ".wvs";
constexpr std::string_view kHistorySuffix = ".history";
constexpr std::string_view kIndexPrefix = "index/";
// The key of an object is the checksum of this many trailing bytes (a container's or run's footer).
constexpr uint64_t kKeyTailSize = 32;

std::string_view text_of(const Bytes& bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// What the containers say about one stored segment.
struct SegmentFacts {
  std::string object;
  wal::TimelineId timeline;
  wal::SegmentNo segno;
  uint64_t size = 0;
  VerifiedObject key;
  std::optional<format::ContainerInfo> info;  // unset when the header or trailer is damaged
  bool check_now = false;                     // read in full this run
  bool clean = true;
};

// Header, footer and trailer through ranged reads, and the object's key (checksum of its last bytes).
struct ContainerMeta {
  VerifiedObject key;
  Expected<format::ContainerInfo, format::ContainerError> info =
      Unexpected(format::ContainerError{format::ContainerErrorKind::kTruncated, "not read", {}, 0, 0});
};

// An object's key: the checksum of its last bytes and of the store's version token (Storage::version), so that a
// write in place that keeps the size and the last bytes still makes it new to verify.
uint64_t object_key(const Storage& storage, const std::string& name, std::span<const std::byte> tail) {
  format::Hasher hasher;
  hasher.update(tail);
  if (const auto version = storage.version(name)) hasher.update(std::as_bytes(std::span(&*version, 1)));
  return hasher.digest();
}

ContainerMeta read_container_meta(const Storage& storage, const std::string& name, uint64_t size) {
  ContainerMeta meta;
  const Bytes tail = storage.read_range(name, size - std::min(size, kKeyTailSize), kKeyTailSize);
  meta.key = VerifiedObject{size, object_key(storage, name, tail), 0};
  meta.info = storage::read_container_info(storage, name, size, tail);
  return meta;
}

// Measures every regular file of a tar stream (size, CRC-32C) without writing it anywhere.
class DigestHandler final : public restore::TarHandler {
 public:
  DigestHandler(std::string prefix, std::map<std::string, restore::FileDigest>& files)
      : prefix_(std::move(prefix)), files_(files) {}

  void entry(const restore::TarEntry& entry) override {
    active_ = entry.type == restore::TarEntryType::kFile;
    path_ = prefix_ + entry.path;
    crc_ = wal::kCrc32cInit;
    size_ = 0;
  }
  void data(std::span<const std::byte> bytes) override {
    crc_ = wal::crc32c_extend(crc_, bytes);
    size_ += bytes.size();
  }
  void entry_end() override {
    if (active_) files_[path_] = restore::FileDigest{size_, wal::crc32c_finish(crc_)};
    active_ = false;
  }

 private:
  std::string prefix_;
  std::map<std::string, restore::FileDigest>& files_;
  bool active_ = false;
  std::string path_;
  uint32_t crc_ = 0;
  uint64_t size_ = 0;
};

// One backup as found in the catalog, before its full check.
struct BackupFacts {
  std::string catalog_object;
  std::optional<restore::BackupEntry> entry;
  Bytes manifest;
  std::vector<ContainerMeta> streams;  // parallel to entry->streams
  VerifiedObject key;
  bool check_now = false;
  bool clean = true;
};

bool vanished(const Storage& storage, const std::string& name) { return !storage.info(name).has_value(); }

class Verifier {
 public:
  Verifier(const Storage& storage, const repo::RepoConfig& config, const VerifyState& previous,
           const VerifyOptions& options)
      : storage_(storage), config_(config), previous_(previous), options_(options) {}

  VerifyReport run() {
    // The durable position first: everything it covers is archived or in the tip by the time the WAL is listed,
    // while the streamer goes on.
    read_tip_state();
    const auto wal_objects = storage_.list(kWalPrefix);
    collect_segments(wal_objects);
    collect_backups();
    check_history(wal_objects);
    check_index();
    start_cross_checks();
    for (const auto& [key, facts] : segments_) progress_.total += facts.check_now ? facts.size : 0;
    for (const auto& facts : backups_) {
      if (!facts.check_now) continue;
      for (const auto& stream : facts.entry->streams) progress_.total += stream.stored_size;
    }
    for (auto& [key, facts] : segments_) {
      if (facts.check_now) check_segment(facts);
    }
    for (auto& facts : backups_) {
      if (facts.check_now) check_backup(facts);
    }
    for (const auto& [key, facts] : segments_) {
      if (facts.clean && facts.info) record(facts.object, facts.key, facts.check_now);
    }
    for (const auto& facts : backups_) {
      if (facts.clean) record(facts.catalog_object, facts.key, facts.check_now);
    }
    if (tip_) check_tip();
    finish_cross_checks();
    check_metadata();
    check_continuity();
    return std::move(report_);
  }

 private:
  // Remembers a clean object, with when it was last read in full: now, or as the previous state says.
  void record(const std::string& object, VerifiedObject key, bool read_now) {
    key.checked = read_now ? options_.recheck.now : previous_.checked(object);
    report_.state.objects[object] = key;
  }

  void problem(ProblemKind kind, std::string object, std::string message,
               std::optional<wal::TimelineId> timeline = std::nullopt, std::optional<wal::Lsn> from = std::nullopt,
               std::optional<wal::Lsn> to = std::nullopt) {
    report_.problems.push_back(
        Problem{kind, std::move(object), std::move(message), timeline, from, to});
  }

  void report_progress(const std::string& object) {
    if (!options_.progress) return;
    progress_.object = object;
    options_.progress(progress_);
  }

  // ---- segments

  void collect_segments(const std::vector<ObjectInfo>& objects) {
    for (const auto& object : objects) {
      const std::string_view name = object.name;
      if (!name.ends_with(kSegmentSuffix)) continue;
      const auto parsed = wal::parse_segment_file_name(
          name.substr(kWalPrefix.size(), name.size() - kWalPrefix.size() - kSegmentSuffix.size()),
          config_.segment_size);
      if (!parsed) {
        problem(ProblemKind::kSegment, object.name, "not a segment container name for this repository's segment size");
        continue;
      }
      ++report_.counts.segments;
      SegmentFacts facts;
      facts.object = object.name;
      facts.timeline = parsed->timeline;
      facts.segno = parsed->segno;
      facts.size = object.size;
      try {
        ContainerMeta meta = read_container_meta(storage_, object.name, object.size);
        facts.key = meta.key;
        if (!meta.info) {
          segment_problem(facts, meta.info.error());
        } else {
          facts.info = std::move(*meta.info);
          check_segment_header(facts);
        }
      } catch (const Error& e) {
        if (e.code() == ErrorCode::kNotFound && vanished(storage_, object.name)) continue;
        if (e.code() != ErrorCode::kCorrupt) throw;
        whole_segment_problem(facts, e.what());  // an encrypted object that fails authentication
      }
      facts.check_now =
          facts.info && (options_.full || !previous_.verified(facts.object, facts.key, options_.recheck));
      segments_.emplace(std::pair(facts.timeline.value(), facts.segno.value()), std::move(facts));
    }
  }

  void segment_problem(SegmentFacts& facts, const format::ContainerError& error) {
    facts.clean = false;
    std::optional<wal::Lsn> from;
    std::optional<wal::Lsn> to;
    if (error.chunk && facts.info) {
      from = facts.info->header.start_lsn + error.raw_offset;
      to = *from + error.raw_length;
    } else {
      from = wal::segment_start(facts.segno, config_.segment_size);
      to = wal::segment_start(facts.segno.next(), config_.segment_size);
    }
    problem(ProblemKind::kSegment, facts.object, error.message, facts.timeline, from, to);
  }

  void whole_segment_problem(SegmentFacts& facts, const std::string& message) {
    facts.clean = false;
    problem(ProblemKind::kSegment, facts.object, message, facts.timeline,
            wal::segment_start(facts.segno, config_.segment_size),
            wal::segment_start(facts.segno.next(), config_.segment_size));
  }

  void check_segment_header(SegmentFacts& facts) {
    const format::ContainerHeader& h = facts.info->header;
    std::string wrong;
    if (h.kind != format::ContainerKind::kSegment) wrong = "is not a segment container";
    else if (h.system_identifier != config_.system_identifier) wrong = "belongs to another cluster (system identifier " + std::to_string(h.system_identifier) + ")";
    else if (h.timeline != facts.timeline || h.segment_no != facts.segno) wrong = "holds another segment than its name says";
    else if (h.segment_size != config_.segment_size) wrong = "has segment size " + std::to_string(h.segment_size) + ", the repository " + std::to_string(config_.segment_size);
    if (wrong.empty()) return;
    whole_segment_problem(facts, "segment container " + wrong);
  }

  void check_segment(SegmentFacts& facts) {
    report_progress(facts.object);
    std::unique_ptr<storage::ObjectView> view;
    try {
      view = storage_.view(facts.object);
    } catch (const Error& e) {
      if (e.code() == ErrorCode::kNotFound && vanished(storage_, facts.object)) {
        facts.info.reset();
        return;
      }
      if (e.code() != ErrorCode::kCorrupt) throw;
      whole_segment_problem(facts, e.what());
      return;
    }
    const std::span<const std::byte> object = view->bytes();
    ++report_.counts.segments_checked;
    report_.counts.stored_bytes += object.size();
    progress_.done += facts.size;
    const auto info = format::parse_container(object);
    if (!info) {
      segment_problem(facts, info.error());
      return;
    }
    // With --full the raw WAL goes on to the index cross-check, up to the first bad chunk.
    const auto cross = cross_checks_.find(facts.timeline.value());
    bool intact = true;
    const auto report = [&](const format::ContainerError& e) {
      intact = false;
      segment_problem(facts, e);
    };
    const auto raw = [&](uint32_t chunk, std::span<const std::byte> bytes) {
      if (intact && options_.full && cross != cross_checks_.end())
        cross->second.feed(info->header.start_lsn + info->raw_offset(chunk), bytes);
    };
    if (!check_chunks(*info, object, report, raw)) facts.clean = false;
  }

  // Decodes every chunk of a whole container held in memory, handing each good chunk's raw bytes to on_raw;
  // reports each bad chunk and a whole-content mismatch. Returns whether everything was good.
  template <typename Report, typename OnRaw>
  bool check_chunks(const format::ContainerInfo& info, std::span<const std::byte> object, Report report, OnRaw on_raw) {
    bool good = true;
    format::Hasher whole;
    for (uint32_t i = 0; i < info.chunks.size(); ++i) {
      const format::ChunkEntry& chunk = info.chunks[i];
      raw_.resize(std::max<std::size_t>(raw_.size(), chunk.raw_size));
      const std::span<std::byte> out(raw_.data(), chunk.raw_size);
      const auto decoded = reader_.decode_chunk(
          info, i, object.subspan(chunk.offset, format::kChunkFrameHeaderSize + chunk.stored_size), out);
      if (!decoded) {
        report(decoded.error());
        good = false;
        continue;
      }
      whole.update(out);
      report_.counts.raw_bytes += chunk.raw_size;
      on_raw(i, std::span<const std::byte>(out));
    }
    if (good && whole.digest() != info.raw_checksum) {
      report(format::ContainerError{format::ContainerErrorKind::kBadChecksum, "whole-content checksum mismatch", {},
                                    0, info.raw_length});
      good = false;
    }
    return good;
  }

  // ---- backups

  void collect_backups() {
    for (const auto& object : storage_.list(restore::kBackupPrefix)) {
      const std::string_view name = object.name;
      const std::size_t slash = name.find('/', restore::kBackupPrefix.size());
      if (slash == std::string_view::npos || name.substr(slash + 1) != restore::kCatalogObjectName) continue;
      ++report_.counts.backups;
      BackupFacts facts;
      facts.catalog_object = object.name;
      try {
        collect_backup(facts, std::string(name.substr(restore::kBackupPrefix.size(),
                                                      slash - restore::kBackupPrefix.size())));
      } catch (const Error& e) {
        if (e.code() == ErrorCode::kNotFound && vanished(storage_, facts.catalog_object)) continue;
        if (e.code() != ErrorCode::kNotFound && e.code() != ErrorCode::kCorrupt) throw;
        backup_problem(facts, facts.catalog_object, e.what());
      }
      facts.check_now =
          facts.clean && (options_.full || !previous_.verified(facts.catalog_object, facts.key, options_.recheck));
      backups_.push_back(std::move(facts));
    }
    check_uncatalogued_backups();
  }

  // A backup directory without its catalog entry: restores cannot see that backup. A backup writes its catalog
  // entry last, so while one runs (it holds the backup lock) that is normal; otherwise the entry was lost, or a
  // backup was interrupted (the next backup removes what it left).
  void check_uncatalogued_backups() {
    const auto files = restore::uncatalogued_backup_objects(storage_.list(restore::kBackupPrefix));
    if (files.empty()) return;
    if (repo::RepositoryLock::holder(storage_, repo::kBackupLockName)) {
      return;  // a backup is being written
    }
    for (const auto& [id, names] : files) {
      const std::string catalog = restore::backup_object_name(id, std::string(restore::kCatalogObjectName));
      const std::string manifest = restore::backup_object_name(id, "backup_manifest");
      const bool has_manifest =
          std::any_of(names.begin(), names.end(), [&](const storage::ObjectInfo& o) { return o.name == manifest; });
      problem(ProblemKind::kBackup, catalog,
              "backup " + id + " has no backup.json" +
                  (has_manifest
                       ? " although its backup_manifest and streams are there: restores cannot use it"
                       : ": an interrupted backup left " + std::to_string(names.size()) +
                             " object(s) (the next 'walvault backup' removes them), or its catalog entry was lost"));
    }
  }

  void backup_problem(BackupFacts& facts, const std::string& object, const std::string& message) {
    facts.clean = false;
    std::optional<wal::TimelineId> timeline;
    std::optional<wal::Lsn> from;
    std::optional<wal::Lsn> to;
    if (facts.entry) {
      timeline = facts.entry->timeline;
      from = facts.entry->start_lsn;
      to = facts.entry->stop_lsn;
    }
    problem(ProblemKind::kBackup, object, message, timeline, from, to);
  }

  void collect_backup(BackupFacts& facts, const std::string& id) {
    const Bytes catalog = storage_.read(facts.catalog_object);
    facts.entry =
        restore::decode_backup_entry(text_of(catalog), facts.catalog_object, repo::seal_rule(config_));
    const restore::BackupEntry& entry = *facts.entry;
    format::Hasher key;
    key.update(catalog);
    if (entry.id != id) backup_problem(facts, facts.catalog_object, "catalog entry names backup \"" + entry.id + "\"");
    if (entry.system_identifier != config_.system_identifier) {
      backup_problem(facts, facts.catalog_object, "backup belongs to another cluster (system identifier " +
                                                      std::to_string(entry.system_identifier) + ")");
    }
    if (!storage_.info(entry.manifest_object)) {
      backup_problem(facts, entry.manifest_object, "backup_manifest is missing");
    } else {
      facts.manifest = storage_.read(entry.manifest_object);
      key.update(facts.manifest);
      if (facts.manifest.size() != entry.manifest_size || format::checksum(facts.manifest) != entry.manifest_checksum) {
        backup_problem(facts, entry.manifest_object, "backup_manifest differs from the size and checksum in the catalog");
      }
    }
    for (const auto& stream : entry.streams) {
      const auto size = storage_.info(stream.object);
      if (!size) {
        backup_problem(facts, stream.object, "backup stream is missing");
        facts.streams.emplace_back();
        continue;
      }
      ContainerMeta meta = read_container_meta(storage_, stream.object, *size);
      const uint64_t k = meta.key.key;
      key.update(std::as_bytes(std::span(&k, 1)));
      if (!meta.info) {
        backup_problem(facts, stream.object, meta.info.error().message);
      } else if (meta.info->header.kind != format::ContainerKind::kStream) {
        backup_problem(facts, stream.object, "backup stream is not a stream container");
      } else if (meta.info->raw_length != stream.raw_size || meta.info->raw_checksum != stream.checksum) {
        backup_problem(facts, stream.object, "backup stream differs from the size and checksum in the catalog");
      }
      facts.streams.push_back(std::move(meta));
    }
    for (const std::string& object : {facts.catalog_object, entry.manifest_object}) {
      if (const auto version = storage_.info(object) ? storage_.version(object) : std::nullopt) {
        key.update(std::as_bytes(std::span(&*version, 1)));
      }
    }
    facts.key = VerifiedObject{catalog.size(), key.digest(), 0};
  }

  void check_backup(BackupFacts& facts) {
    const restore::BackupEntry& entry = *facts.entry;
    const auto manifest = restore::parse_backup_manifest(text_of(facts.manifest));
    if (!manifest) {
      backup_problem(facts, entry.manifest_object, "backup_manifest does not parse: " + manifest.error());
      return;
    }
    if (const auto system = restore::check_manifest_system(*manifest, config_.system_identifier); !system) {
      backup_problem(facts, entry.manifest_object, "backup " + entry.id + " is foreign: its " + system.error());
    }
    ++report_.counts.backups_checked;
    std::map<std::string, restore::FileDigest> files;
    for (std::size_t i = 0; i < entry.streams.size(); ++i) {
      const restore::BackupStream& stream = entry.streams[i];
      const std::string prefix =
          stream.tablespace_oid == 0 ? "" : "pg_tblspc/" + std::to_string(stream.tablespace_oid) + "/";
      DigestHandler digests(prefix, files);
      if (!check_stream(facts, stream.object, *facts.streams[i].info, digests)) return;
    }
    for (const auto& mismatch : restore::check_files(*manifest, files)) {
      backup_problem(facts, entry.manifest_object, "backup " + entry.id + " does not match its manifest: " + mismatch);
    }
  }

  // Reads a stream container a chunk at a time, checking every chunk and feeding the tar reader.
  bool check_stream(BackupFacts& facts, const std::string& object, const format::ContainerInfo& info,
                    DigestHandler& digests) {
    restore::TarReader tar(digests);
    format::Hasher whole;
    bool tar_good = true;
    bool good = true;
    for (uint32_t i = 0; i < info.chunks.size(); ++i) {
      const format::ChunkEntry& chunk = info.chunks[i];
      report_progress(object);
      Bytes frame;
      try {
        frame = storage::read_chunk_frame(storage_, object, chunk);
      } catch (const Error& e) {
        if (e.code() != ErrorCode::kCorrupt) throw;
        backup_problem(facts, object, e.what());  // an encrypted object that fails authentication
        good = false;
        continue;
      }
      report_.counts.stored_bytes += frame.size();
      progress_.done += frame.size();
      raw_.resize(std::max<std::size_t>(raw_.size(), chunk.raw_size));
      const std::span<std::byte> out(raw_.data(), chunk.raw_size);
      const auto decoded = reader_.decode_chunk(info, i, frame, out);
      if (!decoded) {
        backup_problem(facts, object, decoded.error().message);
        good = false;
        continue;
      }
      report_.counts.raw_bytes += chunk.raw_size;
      whole.update(out);
      if (good && tar_good) {
        if (const auto fed = tar.feed(out); !fed) {
          backup_problem(facts, object, "not a valid tar stream: " + fed.error());
          tar_good = false;
        }
      }
    }
    if (good && whole.digest() != info.raw_checksum) {
      backup_problem(facts, object, "whole-content checksum mismatch");
      good = false;
    }
    if (good && tar_good) {
      if (const auto finished = tar.finish(); !finished) {
        backup_problem(facts, object, "not a valid tar stream: " + finished.error());
        tar_good = false;
      }
    }
    return good && tar_good;
  }

  // ---- history

  void check_history(const std::vector<ObjectInfo>& objects) {
    for (const auto& object : objects) {
      const std::string_view name = object.name;
      if (!name.ends_with(kHistorySuffix)) continue;
      const auto tli = wal::parse_history_file_name(name.substr(kWalPrefix.size()));
      if (!tli) {
        problem(ProblemKind::kHistory, object.name, "not a timeline history file name");
        continue;
      }
      ++report_.counts.history_files;
      std::string text;
      try {
        text = read_history_file(storage_, object.name, repo::seal_rule(config_));
      } catch (const Error& e) {
        if (e.code() == ErrorCode::kNotFound && vanished(storage_, object.name)) continue;
        if (e.code() != ErrorCode::kCorrupt) throw;
        problem(ProblemKind::kHistory, object.name, e.what(), *tli);
        continue;
      }
      auto entries = parse_timeline_history(*tli, text);
      if (!entries) {
        problem(ProblemKind::kHistory, object.name, "history file does not parse: " + entries.error(), *tli);
        continue;
      }
      // The check wal-fetch makes before it serves the file (PostgreSQL follows its switch points blindly).
      if (!coverage_) {
        // Archived segments only (the tip's state is checked on its own): presence is all the rules need.
        std::vector<std::string> names;
        for (const auto& o : objects) names.push_back(o.name);
        coverage_ = restore::wal_coverage(names, std::nullopt, config_.segment_size);
      }
      if (const auto disagreement = restore::history_disagreement(*tli, *entries, *coverage_, config_.segment_size)) {
        problem(ProblemKind::kHistory, object.name, *disagreement, *tli);
      }
      timelines_.add(*tli, std::move(*entries));
      history_.insert(tli->value());
    }
    for (const auto& message : timelines_.inconsistencies()) problem(ProblemKind::kHistory, "", message);
    std::set<uint32_t> reported;
    for (const auto& [key, facts] : segments_) {
      const uint32_t tli = key.first;
      if (tli > 1 && !history_.contains(tli) && reported.insert(tli).second) {
        problem(ProblemKind::kHistory, std::string(kWalPrefix) + wal::history_file_name(facts.timeline),
                "timeline " + std::to_string(tli) + " holds WAL but its history file is missing", facts.timeline);
      }
    }
  }

  // ---- index

  void check_index() {
    for (const auto& object : storage_.list(kIndexPrefix)) {
      try {
        if (const auto run = format::parse_run_object_name(object.name)) {
          runs_[run->timeline.value()].push_back(*run);
          check_run(object, *run);
        } else if (const auto tip_log = format::parse_tip_log_object_name(object.name, config_.segment_size)) {
          tip_logs_[tip_log->timeline.value()].insert(tip_log->segno.value());
          // The readers' rule (storage::read_tip_log): a log cut short before its header was whole, as a full disk
          // leaves it, holds no entries; anything else that does not parse is damage.
          try {
            (void)storage::read_tip_log(storage_, object.name);
          } catch (const Error& e) {
            if (e.code() != ErrorCode::kCorrupt) throw;
            problem(ProblemKind::kIndex, object.name, e.what());
          }
        } else if (format::parse_problem_object_name(object.name)) {
          check_recorded_problem(object.name);
        }
      } catch (const Error& e) {
        if (e.code() == ErrorCode::kNotFound && vanished(storage_, object.name)) continue;
        if (e.code() != ErrorCode::kCorrupt) throw;
        problem(ProblemKind::kIndex, object.name, e.what());  // an encrypted object that fails authentication
      }
    }
  }

  // WAL the streamer could not index (archive/index_problems.hpp): each is a problem until the operator deals with
  // it, since the index and events miss what it names.
  void check_recorded_problem(const std::string& object) {
    const IndexProblem recorded = read_index_problem(storage_, object);
    problem(ProblemKind::kIndex, object, recorded.message, recorded.timeline, recorded.lsn, recorded.until);
  }

  void check_run(const ObjectInfo& object, const format::RunName& name) {
    ++report_.counts.index_runs;
    const VerifiedObject key{
        object.size,
        object_key(storage_, object.name,
                   storage_.read_range(object.name, object.size - std::min(object.size, kKeyTailSize), kKeyTailSize)),
        0};
    bool segments_changed = false;
    for (auto it = segments_.lower_bound({name.timeline.value(), wal::segment_of(name.first, config_.segment_size).value()});
         it != segments_.end() && it->first.first == name.timeline.value() &&
         wal::segment_start(wal::SegmentNo(it->first.second), config_.segment_size) < name.end;
         ++it) {
      segments_changed = segments_changed || it->second.check_now || !it->second.clean;
    }
    if (!options_.full && !segments_changed && previous_.verified(object.name, key, options_.recheck)) {
      record(object.name, key, /*read_now=*/false);
      return;
    }
    ++report_.counts.index_runs_checked;
    const auto view = storage_.view(object.name);
    const std::span<const std::byte> bytes = view->bytes();
    report_.counts.stored_bytes += bytes.size();
    const auto damaged = [&](const format::IndexError& e) {
      problem(ProblemKind::kIndex, object.name, "index run is damaged: " + e.message, name.timeline, name.first,
              name.end);
    };
    auto reader = format::RunReader::open(bytes);
    if (!reader) {
      damaged(reader.error());
      return;
    }
    auto tally = tally_run(*reader);
    if (!tally) {
      damaged(tally.error());
      return;
    }
    const std::size_t before = report_.problems.size();
    if (reader->system_identifier() != config_.system_identifier || reader->timeline() != name.timeline ||
        reader->first_lsn() != name.first || reader->end_lsn() != name.end) {
      problem(ProblemKind::kIndex, object.name, "index run header does not match its name or the repository",
              name.timeline, name.first, name.end);
    }
    cross_check(object.name, reader->timeline(), reader->segments(), *tally);
    if (report_.problems.size() == before) record(object.name, key, /*read_now=*/true);
  }

  // A run's entries per segment, and those outside the WAL held. "whole" counts the entries whose commit record
  // ends inside the segment too: those are what the container's summary counts (FORMAT.md).
  struct Tally {
    uint64_t commits = 0;
    uint64_t events = 0;
    uint64_t whole_commits = 0;
    uint64_t whole_events = 0;
    uint64_t outside = 0;
    wal::Lsn first_outside;
  };
  using RunTally = std::map<uint64_t, Tally>;  // by segment number

  // Verifies every block of the run (as decode_run does, with its errors) and tallies its entries in the same
  // pass, keeping no commit in memory: a run holds ~40 bytes per commit, 70 MB for 1 GB of pgbench WAL.
  format::IndexResult<RunTally> tally_run(format::RunReader& reader) {
    auto events = reader.events();
    if (!events) {
      if (auto v = reader.verify(); !v) return Unexpected(v.error());  // a bad block comes first, as in decode_run
      return Unexpected(events.error());
    }
    const uint32_t tli = reader.timeline().value();
    const auto first_held = segments_.lower_bound({tli, 0});
    const std::optional<uint64_t> first_segno =
        first_held != segments_.end() && first_held->first.first == tli ? std::optional(first_held->first.second)
                                                                        : std::nullopt;
    RunTally tally;
    // Consecutive entries share a segment: its tally and bounds are looked up once per segment, not per entry.
    struct Segment {
      Tally* tally = nullptr;
      wal::Lsn start{UINT64_MAX};  // the segment's bounds (none yet: every LSN is outside them)
      wal::Lsn end;
      std::optional<std::pair<wal::Lsn, wal::Lsn>> held;  // the WAL its container holds, when known
      bool inside = true;                                   // otherwise: whether entries there are inside
    } seg;
    const auto place = [&](wal::Lsn lsn, std::optional<wal::Lsn> end, bool is_event) {
      if (lsn >= seg.end || lsn < seg.start) {
        const uint64_t segno = wal::segment_of(lsn, config_.segment_size).value();
        seg = Segment{};
        seg.start = wal::segment_start(wal::SegmentNo(segno), config_.segment_size);
        seg.tally = &tally[segno];
        seg.end = wal::segment_start(wal::SegmentNo(segno).next(), config_.segment_size);
        const auto it = segments_.find({tli, segno});
        if (it == segments_.end()) {
          seg.inside = first_segno && segno < *first_segno;  // expired WAL: the index may outlive it
        } else if (it->second.info) {
          seg.held = std::pair(it->second.info->header.start_lsn, it->second.info->end_lsn);
        }
      }
      Tally& t = *seg.tally;
      (is_event ? t.events : t.commits) += 1;
      if (end && *end <= seg.end) (is_event ? t.whole_events : t.whole_commits) += 1;
      const bool inside = seg.held ? lsn >= seg.held->first && lsn < seg.held->second : seg.inside;
      if (!inside && t.outside++ == 0) t.first_outside = lsn;
    };
    // Commits come in LSN order and events are sorted by commit LSN (encode_run refuses anything else), so one
    // merge finds the commit record, and so its end, of each event.
    std::vector<std::optional<wal::Lsn>> event_ends(events->size());
    std::size_t next_event = 0;
    const auto verified = reader.verify([&](const format::CommitEntry& c) {
      place(c.lsn, c.end_lsn, false);
      while (next_event < events->size() && (*events)[next_event].commit_lsn < c.lsn) ++next_event;
      for (std::size_t i = next_event; i < events->size() && (*events)[i].commit_lsn == c.lsn; ++i) {
        if (!event_ends[i]) event_ends[i] = c.end_lsn;
      }
    });
    if (!verified) return Unexpected(verified.error());
    for (std::size_t i = 0; i < events->size(); ++i) place((*events)[i].commit_lsn, event_ends[i], true);
    return tally;
  }

  // The run's tally and segment summaries against the containers.
  void cross_check(const std::string& object, wal::TimelineId timeline,
                   const std::vector<format::SegmentSummary>& segments, RunTally& tally) {
    const uint32_t tli = timeline.value();
    for (const auto& [segno, t] : tally) {
      if (t.outside == 0) continue;
      const wal::SegmentNo s(segno);
      problem(ProblemKind::kIndex, object,
              std::to_string(t.outside) + " index entries (the first at " + t.first_outside.to_string() + ") name WAL of segment " +
                  wal::segment_file_name(timeline, s, config_.segment_size) + " that the repository does not hold",
              timeline, wal::segment_start(s, config_.segment_size),
              wal::segment_start(s.next(), config_.segment_size));
    }
    for (const auto& summary : segments) {
      const Tally& t = tally[summary.segment_no.value()];
      const std::string segment = wal::segment_file_name(timeline, summary.segment_no, config_.segment_size);
      const auto report = [&](const std::string& what) {
        problem(ProblemKind::kIndex, object, "segment " + segment + ": " + what, timeline, summary.start_lsn,
                summary.end_lsn);
      };
      if (t.commits != summary.commit_count || t.events != summary.event_count) {
        report("the run holds " + std::to_string(t.commits) + " commits and " + std::to_string(t.events) +
               " events, its summary says " + std::to_string(summary.commit_count) + " and " +
               std::to_string(summary.event_count));
      }
      const auto it = segments_.find({tli, summary.segment_no.value()});
      if (it == segments_.end() || !it->second.info) continue;
      const format::ContainerInfo& info = *it->second.info;
      if (info.header.start_lsn != summary.start_lsn || info.end_lsn != summary.end_lsn) {
        report("the index covers " + summary.start_lsn.to_string() + ".." + summary.end_lsn.to_string() +
               ", the container holds " + info.header.start_lsn.to_string() + ".." + info.end_lsn.to_string());
      }
      if (info.summary.commit_count != t.whole_commits || info.summary.event_count != t.whole_events) {
        report("the index holds " + std::to_string(t.whole_commits) + " commits and " +
               std::to_string(t.whole_events) + " events wholly inside the segment, the container " +
               std::to_string(info.summary.commit_count) + " and " + std::to_string(info.summary.event_count));
      }
    }
  }

  // ---- sealed metadata: relation-name snapshots and verify's own state (small: always read)

  void check_metadata() {
    for (const auto& object : storage_.list(kNamesPrefix)) {
      try {
        (void)read_name_snapshot(storage_, object.name);
      } catch (const Error& e) {
        if (e.code() == ErrorCode::kNotFound && vanished(storage_, object.name)) continue;
        if (e.code() != ErrorCode::kCorrupt) throw;
        problem(ProblemKind::kMetadata, object.name, e.what());
      }
    }
    for (auto& [object, message] : damaged_verify_states(storage_)) {
      problem(ProblemKind::kMetadata, std::move(object), std::move(message));
    }
    try {
      chain_breaks_ = repo::read_chain_breaks(storage_);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kCorrupt) throw;
      problem(ProblemKind::kMetadata, "chains/", e.what());  // its gap then shows as lost WAL too
    }
  }

  // ---- the durable position and the tip

  struct TipRange {
    wal::TimelineId timeline;
    wal::SegmentNo segno;
    wal::Lsn start;
    wal::Lsn end;  // the durable end inside the segment
  };

  // tip/stream.state: the streamer's acknowledged end of WAL. A tip without a readable state is a problem: nothing
  // then says how much of it was acknowledged.
  void read_tip_state() {
    std::optional<restore::TipState> tip;
    try {
      tip = restore::read_tip_state(storage_, config_.segment_size);
    } catch (const Error& e) {
      if (e.code() == ErrorCode::kNotFound) return;  // the streamer replaced it meanwhile
      if (e.code() != ErrorCode::kCorrupt) throw;
      problem(ProblemKind::kMetadata, std::string(kStreamStateObject), e.what());
      return;
    }
    if (!tip) {
      const std::string state(kStreamStateObject);
      const bool present = storage_.info(state).has_value();
      for (const auto& object : storage_.list("tip/")) {
        if (!object.name.ends_with(".partial")) continue;
        problem(ProblemKind::kSegment, state,
                std::string(present ? "the streamer's state does not decode" : "the streamer's state is missing") +
                    ": the durable position it acknowledged for " + object.name + " is unknown");
        break;
      }
      return;
    }
    durable_ = repo::DurableEnd{tip->timeline, tip->durable_lsn};
    const wal::Lsn start = wal::segment_start(tip->segno, config_.segment_size);
    if (tip->durable_lsn <= start) return;
    tip_ = TipRange{tip->timeline, tip->segno, start,
                    std::min(tip->durable_lsn, wal::segment_start(tip->segno.next(), config_.segment_size))};
  }

  // The in-progress segment must hold, in intact frames, every byte the streamer acknowledged as durable; what it
  // holds goes to the index cross-check.
  void check_tip() {
    const auto& t = *tip_;
    const std::string object = tip_object_name(t.timeline, t.segno, config_.segment_size);
    std::optional<std::vector<std::byte>> held;
    try {
      held = archive::read_tip(storage_, t.timeline, t.segno, config_.segment_size);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kCorrupt) throw;
      problem(ProblemKind::kSegment, object, e.what(), t.timeline, t.start, t.end);
      return;
    }
    if (!held) {
      if (storage_.info(format::segment_object_name(t.timeline, t.segno, config_.segment_size))) return;  // archived
      problem(ProblemKind::kSegment, object,
              "the in-progress segment is missing or its header is damaged: the WAL from " + t.start.to_string() +
                  " to " + t.end.to_string() + ", which the streamer acknowledged as durable, is lost",
              t.timeline, t.start, t.end);
      return;
    }
    const wal::Lsn reaches = t.start + held->size();
    if (reaches < t.end) {
      problem(ProblemKind::kSegment, short_tip_object(t, reaches),
              "the in-progress segment holds intact WAL only up to " + reaches.to_string() + ", short of the " +
                  t.end.to_string() + " the streamer acknowledged as durable: the rest is lost",
              t.timeline, reaches, t.end);
    }
    if (const auto it = cross_checks_.find(t.timeline.value()); it != cross_checks_.end()) {
      const auto bytes = std::span<const std::byte>(*held).first(std::min<std::size_t>(held->size(), t.end - t.start));
      it->second.feed(t.start, bytes);
    }
  }

  // Which of the tip's two objects lost the WAL between reaches and the durable end: the tail log, unless the
  // .partial file lost whole chunks that a tail log with a later base continued.
  std::string short_tip_object(const TipRange& t, wal::Lsn reaches) const {
    const std::string partial = tip_object_name(t.timeline, t.segno, config_.segment_size);
    const std::string tail = tail_object_name(t.timeline, t.segno, config_.segment_size);
    const auto prefix = format::parse_container_prefix(storage::range_reader(storage_, partial));
    if (!prefix) return partial;
    if (reaches > t.start + prefix->raw_length) return tail;  // the tail log contributed, then stopped short
    if (!storage_.info(tail)) return tail;
    const auto log = format::parse_tail_log(storage_.read(tail), config_.segment_size);
    return !log || log->base_offset == prefix->raw_length ? tail : partial;
  }

  // ---- index against WAL

  // The index objects of each timeline as a reader uses them: runs not covered by a wider one, and tip logs past
  // them; for WAL held that none covers, the object that should (an archived segment waits for its run only while
  // it is the newest one before the tip: its last record may continue into the tip).
  void start_cross_checks() {
    std::set<uint32_t> timelines;
    for (const auto& [key, facts] : segments_) timelines.insert(key.first);
    if (tip_) timelines.insert(tip_->timeline.value());
    for (const uint32_t t : timelines) {
      const wal::TimelineId tli(t);
      const auto& runs = runs_[t];
      const auto& logs = tip_logs_[t];
      const auto in_run = [&](wal::Lsn from, wal::Lsn to) {
        return std::any_of(runs.begin(), runs.end(), [&](const auto& r) { return r.first <= from && to <= r.end; });
      };
      std::vector<IndexUnit> units;
      for (const auto& r : runs) {
        const bool covered = std::any_of(runs.begin(), runs.end(), [&](const auto& w) {
          return (w.first <= r.first && r.end <= w.end) && (w.first != r.first || w.end != r.end);
        });
        if (!covered)
          units.push_back(
              IndexUnit{IndexUnit::Kind::kRun, format::run_object_name(tli, r.first, r.end), r.first, r.end});
      }
      const auto segment_unit = [&](wal::SegmentNo segno, wal::Lsn held_from, wal::Lsn held_to,
                                    const std::string& absent) {
        const wal::Lsn start = wal::segment_start(segno, config_.segment_size);
        const wal::Lsn end = wal::segment_start(segno.next(), config_.segment_size);
        if (in_run(held_from, held_to)) return;
        if (logs.contains(segno.value())) {
          units.push_back(IndexUnit{IndexUnit::Kind::kTipLog,
                                    format::tip_log_object_name(tli, segno, config_.segment_size), start, end});
        } else {
          units.push_back(IndexUnit{IndexUnit::Kind::kAbsent, absent, start, end});
        }
      };
      const std::optional<uint64_t> newest = newest_archived(t);
      for (auto it = segments_.lower_bound({t, 0}); it != segments_.end() && it->first.first == t; ++it) {
        const SegmentFacts& facts = it->second;
        if (!facts.info) continue;
        const std::string expected =
            format::run_object_name(tli, wal::segment_start(facts.segno, config_.segment_size), facts.info->end_lsn);
        segment_unit(facts.segno, facts.info->header.start_lsn, facts.info->end_lsn, expected);
        const bool covered =
            in_run(facts.info->header.start_lsn, facts.info->end_lsn) || logs.contains(facts.segno.value());
        if (!covered && newest != facts.segno.value()) {
          unindexed_.push_back(Problem{ProblemKind::kIndex, expected,
                                       "no index run or tip log covers segment " +
                                           wal::segment_file_name(tli, facts.segno, config_.segment_size) +
                                           ": its commits and events are missing from the index",
                                       tli, facts.info->header.start_lsn, facts.info->end_lsn});
        }
      }
      if (tip_ && tip_->timeline == tli) {
        segment_unit(tip_->segno, tip_->start, tip_->end,
                     format::tip_log_object_name(tli, tip_->segno, config_.segment_size));
      }
      std::sort(units.begin(), units.end(), [](const IndexUnit& a, const IndexUnit& b) { return a.from < b.from; });
      if (!options_.full) {
        // Incremental: the in-progress segment only (its tip log changes all the time; it is small to decode).
        std::erase_if(units,
                      [&](const IndexUnit& u) { return !tip_ || tip_->timeline != tli || u.from != tip_->start; });
        if (units.empty()) continue;
      }
      auto mass_rows = read_mass_rows_schedule(storage_, tli);
      if (!mass_rows) {
        problem(ProblemKind::kIndex, mass_rows.error().object,
                mass_rows.error().message + ": the index cannot be checked against the WAL of this timeline", tli);
        continue;
      }
      cross_checks_.try_emplace(t, storage_, config_, tli, std::move(units), std::move(mass_rows).value());
    }
  }

  // The newest archived segment of timeline t when it directly precedes the tip (or there is no tip): its run is
  // sealed only once the record after it is decoded.
  std::optional<uint64_t> newest_archived(uint32_t t) const {
    const auto it = segments_.lower_bound({t + 1, 0});
    if (it == segments_.begin()) return std::nullopt;
    const auto& [key, facts] = *std::prev(it);
    if (key.first != t) return std::nullopt;
    // The tip read before the listing may be this very segment, archived in between (its run follows at once).
    if (!tip_ || (tip_->timeline.value() == t &&
                  (tip_->segno.value() == key.second + 1 || tip_->segno.value() == key.second))) {
      return key.second;
    }
    return std::nullopt;
  }

  void finish_cross_checks() {
    std::set<std::string> named;
    for (auto& [t, check] : cross_checks_) {
      for (const auto& m : check.finish()) {
        problem(ProblemKind::kIndex, m.object, m.message, wal::TimelineId(t), m.from, m.to);
        named.insert(m.object);
      }
    }
    for (auto& p : unindexed_) {
      if (!named.contains(p.object)) report_.problems.push_back(std::move(p));
    }
  }

  // ---- continuity

  // Every gap in the WAL the backups need and the streamer acknowledged (repo/wal_gaps.hpp, as `list` shows them).
  void check_continuity() {
    repo::HeldWal held;
    for (const auto& [key, facts] : segments_) {
      const wal::Lsn seg_start = wal::segment_start(facts.segno, config_.segment_size);
      const wal::Lsn seg_end = wal::segment_start(facts.segno.next(), config_.segment_size);
      // A damaged container is reported already; for continuity it counts as the whole segment.
      held[key.first][key.second] = facts.info ? repo::LsnRange{facts.info->header.start_lsn, facts.info->end_lsn}
                                               : repo::LsnRange{seg_start, seg_end};
    }
    // The tip's own shortfalls are reported by check_tip, naming its objects.
    if (tip_) held[tip_->timeline.value()].try_emplace(tip_->segno.value(), repo::LsnRange{tip_->start, tip_->end});
    std::vector<repo::BackupStart> backups;
    for (const auto& facts : backups_) {
      if (facts.entry)
        backups.push_back(repo::BackupStart{facts.entry->id, facts.entry->timeline, facts.entry->start_lsn});
    }
    for (const auto& gap :
         repo::find_wal_gaps(held, backups, timelines_, durable_, chain_breaks_, config_.segment_size)) {
      if (gap.declared) {
        report_.declared_gaps.push_back(gap.message(config_.segment_size));
        continue;
      }
      problem(ProblemKind::kWalGap, gap_object(gap), gap.message(config_.segment_size), gap.timeline, gap.from, gap.to);
    }
  }

  // The object that should hold the first byte of a gap: its segment's container, or the tip.
  std::string gap_object(const repo::WalGap& gap) const {
    if (!gap.to) return "";
    const wal::SegmentNo segno = wal::segment_of(gap.from, config_.segment_size);
    if (tip_ && tip_->timeline == gap.timeline && tip_->segno == segno) {
      return tip_object_name(gap.timeline, segno, config_.segment_size);
    }
    return format::segment_object_name(gap.timeline, segno, config_.segment_size);
  }

  const Storage& storage_;
  const repo::RepoConfig& config_;
  const VerifyState& previous_;
  const VerifyOptions& options_;
  VerifyReport report_;
  VerifyProgress progress_;
  std::map<std::pair<uint32_t, uint64_t>, SegmentFacts> segments_;  // by (timeline, segno)
  std::vector<BackupFacts> backups_;
  TimelineTree timelines_;
  std::set<uint32_t> history_;
  std::optional<restore::WalCoverage> coverage_;  // of the archived segments, when a history file is checked
  std::optional<repo::DurableEnd> durable_;
  std::vector<repo::ChainBreak> chain_breaks_;
  std::optional<TipRange> tip_;
  std::map<uint32_t, std::vector<format::RunName>> runs_;  // index runs by timeline
  std::map<uint32_t, std::set<uint64_t>> tip_logs_;        // index tip logs by timeline: segment numbers
  std::map<uint32_t, IndexCrossCheck> cross_checks_;       // by timeline
  std::vector<Problem> unindexed_;                         // WAL no index object covers, by name
  format::ContainerReader reader_;
  std::vector<std::byte> raw_;
};

}  // namespace

std::string_view problem_kind_name(ProblemKind kind) {
  switch (kind) {
    case ProblemKind::kSegment: return "segment";
    case ProblemKind::kBackup: return "backup";
    case ProblemKind::kIndex: return "index";
    case ProblemKind::kWalGap: return "wal_gap";
    case ProblemKind::kHistory: return "history";
    case ProblemKind::kMetadata: return "metadata";
  }
  return "unknown";
}

VerifyReport verify_repository(const Storage& storage, const repo::RepoConfig& config, const VerifyState& previous,
                               const VerifyOptions& options) {
  return Verifier(storage, config, previous, options).run();
}

}  // namespace walvault::archive
