// A streaming reader of the tar archives PostgreSQL's BASE_BACKUP sends (ustar; pax and GNU long names are
// understood too), push-driven so it works on bytes as they arrive from the server or from the repository.
//
// TarReader parses headers and hands each entry to a TarHandler: entry() once with the header, data() with the
// file's content in pieces (spans valid only during the call), and entry_end() when the entry is complete. It
// holds at most one 512-byte header and one bounded extended header (pax or GNU long name, ≤ 1 MiB), never
// file contents.
//
// It is also the first line of defence for extraction: it refuses, as an error value naming the entry, any
// name that is absolute, empty, or has a ".." component, and any entry other than a regular file, a directory
// or a symbolic link (hard links, devices, FIFOs). Header checksums are verified. Whatever the handler throws
// propagates out of feed() unchanged. After an error the reader is unusable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "wal/expected.hpp"

namespace walvault::restore {

enum class TarEntryType { kFile, kDirectory, kSymlink };

struct TarEntry {
  std::string path;  // relative, '/'-separated, without "./" prefix or trailing '/', no "." or ".." parts
  TarEntryType type = TarEntryType::kFile;
  uint32_t mode = 0;        // permission bits from the header
  uint64_t size = 0;        // content bytes (files only; 0 otherwise)
  int64_t mtime = 0;        // seconds since the Unix epoch
  std::string link_target;  // symbolic links only
};

class TarHandler {
 public:
  virtual ~TarHandler() = default;
  TarHandler() = default;
  TarHandler(const TarHandler&) = delete;
  TarHandler& operator=(const TarHandler&) = delete;

  virtual void entry(const TarEntry& entry) = 0;
  virtual void data(std::span<const std::byte> bytes) = 0;
  virtual void entry_end() = 0;
};

class TarReader {
 public:
  explicit TarReader(TarHandler& handler) : handler_(handler) {}

  // Parses the next bytes of the archive. Bytes after the end-of-archive marker must be zeros.
  [[nodiscard]] Expected<void, std::string> feed(std::span<const std::byte> bytes);
  // Call when the input ends: an error unless the archive ended with its end-of-archive marker.
  [[nodiscard]] Expected<void, std::string> finish() const;
  [[nodiscard]] bool finished() const { return state_ == State::kEnd; }

 private:
  enum class State { kHeader, kData, kExtended, kPadding, kEnd };
  enum class Extended { kPax, kLongName, kLongLink };

  Expected<void, std::string> parse_header();
  Expected<void, std::string> apply_extended();
  void finish_entry();

  TarHandler& handler_;
  State state_ = State::kHeader;
  std::vector<std::byte> block_;  // header bytes collected so far (≤ 512)
  std::vector<std::byte> extended_;
  Extended extended_kind_ = Extended::kPax;
  uint64_t remaining_ = 0;  // content (or extended header) bytes still to come
  uint64_t padding_ = 0;    // zero bytes after the content up to the next 512 boundary
  int zero_blocks_ = 0;
  // Overrides from a pax or GNU header for the next entry.
  std::string next_path_;
  std::string next_link_;
  bool next_size_set_ = false;
  uint64_t next_size_ = 0;
};

// Checks a tar member name and returns it normalized (no "./" prefix, no trailing '/'), or an error naming it.
[[nodiscard]] Expected<std::string, std::string> normalize_entry_path(std::string_view name);

}  // namespace walvault::restore
