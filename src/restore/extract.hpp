// Extraction of a base backup into a data directory: the code `walvault restore` uses, and the check behind it.
//
// prepare_target_directory() enforces restore's first safety rule: the destination must not exist (it is then
// created, mode 0700) or must be an empty directory; anything else is refused with kUnsafe.
// DirectoryWriter is a TarHandler that writes entries under that directory with the permissions PostgreSQL
// requires (directories 0700, files 0600, symbolic links as they are), never through a symbolic link it
// created, never over an existing path, and measures each file (size, CRC-32C) on the way. Every file is
// fsync'ed when complete; finish() fsyncs the directories.
// extract_backup() reads a stored backup (see command/backup.hpp for the objects) back through its stream
// containers, extracts every archive, writes backup_manifest beside the files, and checks every file against it
// (and, for a version 2 manifest, its System-Identifier against the repository's).
//
// Errors: kUnsafe (destination), kIo (filesystem), kCorrupt (an archive that is not a valid tar stream, a
// refused entry such as "../x", or a file that differs from backup_manifest; the message names the first
// problem and how many there are), kNotFound (no such backup), and what storage/format reading throws. On error
// the destination is left as it is (partially written): the caller decides whether to remove it.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "common/progress.hpp"
#include "restore/backup_manifest.hpp"
#include "restore/tar.hpp"
#include "storage/storage.hpp"

namespace walvault::restore {

// Throws kUnsafe unless dest does not exist or is an empty directory; creates it (mode 0700) when missing.
void prepare_target_directory(const std::string& dest);

class DirectoryWriter final : public TarHandler {
 public:
  // root: an existing directory (see prepare_target_directory).
  explicit DirectoryWriter(std::string root);
  ~DirectoryWriter() override;

  void entry(const TarEntry& entry) override;
  void data(std::span<const std::byte> bytes) override;
  void entry_end() override;

  // fsyncs every directory written, deepest first, and the root.
  void finish();

  // The regular files written so far, by path relative to the root.
  [[nodiscard]] const std::map<std::string, FileDigest>& files() const { return files_; }
  [[nodiscard]] uint64_t bytes_written() const { return bytes_; }

 private:
  void make_parents(const std::string& path);
  void make_directory(const std::string& path);

  std::string root_;
  std::set<std::string> directories_;  // relative paths created or adopted, for finish()
  std::set<std::string> symlinks_;
  std::map<std::string, FileDigest> files_;
  int fd_ = -1;  // the file being written
  std::string current_;
  FileDigest digest_;
  uint32_t crc_ = 0;
  uint64_t bytes_ = 0;
};

struct ExtractSummary {
  uint64_t files = 0;
  uint64_t bytes = 0;
};

// Extracts backup `backup_id` from the repository into dest (see prepare_target_directory) and verifies it. A
// version 2 backup_manifest must name repository_system_identifier (else kCorrupt, before anything is written).
// progress (optional) is told the raw bytes read so far, of the backup's raw size.
ExtractSummary extract_backup(const storage::Storage& storage, const std::string& backup_id, const std::string& dest,
                              uint64_t repository_system_identifier, ProgressMeter* progress = nullptr);

}  // namespace walvault::restore
