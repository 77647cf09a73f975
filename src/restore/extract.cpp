#include "restore/extract.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/error.hpp"
#include "repo/repository.hpp"
#include "storage/container_store.hpp"
#include "storage/io_bytes.hpp"
#include "format/checksum.hpp"
#include "format/segment_container.hpp"
#include "restore/backup_catalog.hpp"
#include "wal/crc32c.hpp"

namespace walvault::restore {
namespace {

constexpr mode_t kDirMode = 0700;
constexpr mode_t kFileMode = 0600;

[[noreturn]] void io_error(const std::string& what, const std::string& path, int err) {
  throw Error(ErrorCode::kIo, what + " \"" + path + "\": " + std::strerror(err));
}

void fsync_path(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) io_error("cannot open", path, errno);
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    io_error("cannot fsync", path, err);
  }
  ::close(fd);
}

[[noreturn]] void corrupt(const std::string& object, const std::string& what) {
  throw Error(ErrorCode::kCorrupt, "backup object " + object + " is damaged: " + what,
              "restore from another backup; the repository's copy of this one cannot be trusted");
}

// Writes a whole small file (backup_manifest) with mode 0600 and fsyncs it.
void write_file(const std::string& path, std::span<const std::byte> bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, kFileMode);
  if (fd < 0) io_error("cannot create", path, errno);
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      io_error("cannot write", path, err);
    }
    bytes = bytes.subspan(static_cast<std::size_t>(n));
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    io_error("cannot fsync", path, err);
  }
  ::close(fd);
}

// Streams one stored tar archive (a stream container) into the tar reader, chunk by chunk, verifying every
// chunk, the whole-content checksum, and the catalog's size and checksum.
void extract_stream(const storage::Storage& storage, const BackupStream& stream, TarReader& tar,
                    ProgressMeter* progress) {
  const std::string& object = stream.object;
  const auto size = storage.info(object);
  if (!size) throw Error(ErrorCode::kCorrupt, "backup object " + object + " is missing", "restore from another backup");
  const auto info = storage::read_container_info(storage, object, *size);
  if (!info) corrupt(object, info.error().message);
  if (info->raw_length != stream.raw_size || info->raw_checksum != stream.checksum) {
    corrupt(object, "its size or checksum differs from the backup catalog");
  }
  format::ContainerReader reader;
  format::Hasher hasher;
  storage::IoBytes raw;
  uint64_t done = 0;
  if (progress != nullptr) progress->set_total(info->raw_length);
  for (uint32_t i = 0; i < info->chunks.size(); ++i) {
    const format::ChunkEntry& chunk = info->chunks[i];
    const auto frame = storage::read_chunk_frame(storage, object, chunk);
    raw.resize(chunk.raw_size);
    const auto decoded = reader.decode_chunk(*info, i, frame, raw);
    if (!decoded) corrupt(object, decoded.error().message);
    hasher.update(raw);
    const auto fed = tar.feed(raw);
    if (!fed) corrupt(object, fed.error());
    done += raw.size();
    if (progress != nullptr) progress->update(done);
  }
  if (hasher.digest() != info->raw_checksum) corrupt(object, "the whole-content checksum does not match");
  const auto finished = tar.finish();
  if (!finished) corrupt(object, finished.error());
}

}  // namespace

void prepare_target_directory(const std::string& dest) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const auto status = fs::symlink_status(dest, ec);
  if (ec && ec != std::errc::no_such_file_or_directory) io_error("cannot inspect", dest, ec.value());
  if (!fs::exists(status)) {
    const fs::path path = fs::absolute(dest);
    if (path.has_parent_path()) fs::create_directories(path.parent_path(), ec);
    if (ec) io_error("cannot create", path.parent_path().string(), ec.value());
    if (::mkdir(dest.c_str(), kDirMode) != 0) io_error("cannot create", dest, errno);
    return;
  }
  if (!fs::is_directory(status)) {
    throw Error(ErrorCode::kUnsafe, "target \"" + dest + "\" exists and is not a directory",
                "give a directory that does not exist yet, or an empty one");
  }
  if (!fs::is_empty(dest, ec) || ec) {
    throw Error(ErrorCode::kUnsafe, "target directory \"" + dest + "\" is not empty",
                "give a directory that does not exist yet, or an empty one; walvault never overwrites files");
  }
  if (::chmod(dest.c_str(), kDirMode) != 0) io_error("cannot set permissions on", dest, errno);
}

DirectoryWriter::DirectoryWriter(std::string root) : root_(std::move(root)) {}

DirectoryWriter::~DirectoryWriter() {
  if (fd_ >= 0) ::close(fd_);
}

void DirectoryWriter::make_directory(const std::string& path) {
  const std::string full = root_ + "/" + path;
  if (::mkdir(full.c_str(), kDirMode) != 0) {
    const int err = errno;
    struct stat st {};
    if (err != EEXIST || ::lstat(full.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      io_error("cannot create directory", full, err);
    }
    if (::chmod(full.c_str(), kDirMode) != 0) io_error("cannot set permissions on", full, errno);
  }
  directories_.insert(path);
}

void DirectoryWriter::make_parents(const std::string& path) {
  std::size_t slash = path.find('/');
  while (slash != std::string::npos) {
    const std::string parent = path.substr(0, slash);
    if (symlinks_.contains(parent)) {
      throw Error(ErrorCode::kCorrupt, "backup entry \"" + path + "\" lies under the symbolic link \"" + parent + "\"",
                  "the backup is malformed or malicious; it was not extracted further");
    }
    if (!directories_.contains(parent)) make_directory(parent);
    slash = path.find('/', slash + 1);
  }
}

void DirectoryWriter::entry(const TarEntry& entry) {
  make_parents(entry.path);
  const std::string full = root_ + "/" + entry.path;
  switch (entry.type) {
    case TarEntryType::kDirectory:
      if (symlinks_.contains(entry.path) || files_.contains(entry.path)) {
        throw Error(ErrorCode::kCorrupt, "backup entry \"" + entry.path + "\" appears twice");
      }
      make_directory(entry.path);
      break;
    case TarEntryType::kSymlink:
      if (::symlink(entry.link_target.c_str(), full.c_str()) != 0) io_error("cannot create symbolic link", full, errno);
      symlinks_.insert(entry.path);
      break;
    case TarEntryType::kFile:
      fd_ = ::open(full.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, kFileMode);
      if (fd_ < 0) io_error("cannot create", full, errno);
      current_ = entry.path;
      digest_ = FileDigest{};
      crc_ = wal::kCrc32cInit;
      break;
  }
}

void DirectoryWriter::data(std::span<const std::byte> bytes) {
  crc_ = wal::crc32c_extend(crc_, bytes);
  digest_.size += bytes.size();
  bytes_ += bytes.size();
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      io_error("cannot write", root_ + "/" + current_, errno);
    }
    bytes = bytes.subspan(static_cast<std::size_t>(n));
  }
}

void DirectoryWriter::entry_end() {
  if (fd_ < 0) return;
  const std::string full = root_ + "/" + current_;
  const int fd = fd_;
  fd_ = -1;
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    io_error("cannot fsync", full, err);
  }
  if (::close(fd) != 0) io_error("cannot close", full, errno);
  digest_.crc32c = wal::crc32c_finish(crc_);
  files_.emplace(current_, digest_);
}

void DirectoryWriter::finish() {
  for (auto it = directories_.rbegin(); it != directories_.rend(); ++it) {
    fsync_path(root_ + "/" + *it, O_RDONLY | O_DIRECTORY);
  }
  fsync_path(root_, O_RDONLY | O_DIRECTORY);
}

ExtractSummary extract_backup(const storage::Storage& storage, const std::string& backup_id, const std::string& dest,
                              uint64_t repository_system_identifier, ProgressMeter* progress) {
  const auto catalog_object = backup_object_name(backup_id, kCatalogObjectName);
  if (!storage.info(catalog_object)) {
    throw Error(ErrorCode::kNotFound, "no backup \"" + backup_id + "\" in the repository",
                "run 'walvault list' to see the backups");
  }
  const auto catalog = storage.read(catalog_object);
  const BackupEntry entry = decode_backup_entry(
      std::string_view(reinterpret_cast<const char*>(catalog.data()), catalog.size()), catalog_object,
      repo::seal_rule(storage));
  if (entry.streams.size() != 1 || entry.streams.front().tablespace_oid != 0) {
    throw Error(ErrorCode::kRepository, "backup " + backup_id +
                                            " has tablespace archives, which this walvault "
                                            "cannot restore");
  }
  const auto manifest_bytes = storage.read(entry.manifest_object);
  if (manifest_bytes.size() != entry.manifest_size || format::checksum(manifest_bytes) != entry.manifest_checksum) {
    corrupt(entry.manifest_object, "its size or checksum differs from the backup catalog");
  }
  const auto manifest = parse_backup_manifest(
      std::string_view(reinterpret_cast<const char*>(manifest_bytes.data()), manifest_bytes.size()));
  if (!manifest) corrupt(entry.manifest_object, manifest.error());
  if (const auto system = check_manifest_system(*manifest, repository_system_identifier); !system) {
    throw Error(ErrorCode::kCorrupt, "backup " + backup_id + " is foreign: its " + system.error(),
                "restore from another backup; this one is of another cluster, and 'walvault verify' reports it");
  }

  prepare_target_directory(dest);
  DirectoryWriter writer(dest);
  TarReader tar(writer);
  extract_stream(storage, entry.streams.front(), tar, progress);
  write_file(dest + "/backup_manifest", manifest_bytes);
  const auto problems = check_files(*manifest, writer.files());
  if (!problems.empty()) {
    throw Error(ErrorCode::kCorrupt,
                "backup " + backup_id + " does not match its backup_manifest: " + problems.front() +
                    (problems.size() > 1 ? " (and " + std::to_string(problems.size() - 1) + " more)" : ""),
                "restore from another backup");
  }
  writer.finish();
  return ExtractSummary{writer.files().size(), writer.bytes_written()};
}

}  // namespace walvault::restore
