// The WAL record decoder: a non-blocking state machine over WAL bytes, in the manner of xlogreader.
//
// StreamDecoder is the push form. The caller feeds contiguous pieces of WAL (page headers included, split
// anywhere: mid-page, mid-header, across segments) with feed(start, bytes) and calls next() until it returns
// kNeedMore. next() yields, in order:
//   kRecord   a complete, CRC-checked record (Step::record);
//   kNeedMore every fed byte has been consumed; feed the bytes starting at wanted();
//   kEndOfWal the WAL ends here: zeroed, recycled or torn tail, invalid or bad-CRC record (Step::problem says
//             which and where). Everything returned before it is good. Terminal.
//   kError    the bytes are not this cluster's WAL or the caller broke the contract (unknown page magic,
//             another system identifier or segment size, a gap in the fed bytes). Terminal.
// Contract:
//   - feed() only after next() returned kNeedMore (or before the first next()). `start` must be <= wanted();
//     bytes before wanted() are skipped (so feeding whole segments or pages is fine), a start past wanted() is a
//     gap (kError). The fed bytes must stay alive and unchanged until next() returns kNeedMore again: records
//     that lie within one page are returned as views into them, without a copy.
//   - A Record (and every span in it) is valid until the next call to next() or feed().
//   - After XLOG_SWITCH, wanted() jumps to the next segment start; the zeroed rest of the segment is never
//     validated. If fed anyway, it is skipped.
//   - Starting at a segment or page start, a record continued from the previous page is skipped, as
//     XLogFindNextRecord does. Starting mid-page, `start` must be a record start.
// Memory: a 40-byte page-header buffer and one reassembly buffer that grows to the largest record spanning pages
// (capped by DecoderConfig::max_record_size; released after records over 1 MiB). Never a whole segment.
//
// Reader is the pull form for files and repository containers: it asks a PageSource for bytes at wanted()
// whenever the decoder needs more, and forwards kWouldBlock as kNeedMore. BufferSource serves one buffer.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "wal/lsn.hpp"
#include "wal/page.hpp"
#include "wal/record.hpp"

namespace walvault::wal {

struct DecoderConfig {
  uint32_t segment_size = kDefaultSegmentSize;
  // If set, every long page header must carry it; otherwise the first long header seen sets it.
  std::optional<uint64_t> system_identifier;
  // If set, every page must carry this PostgreSQL major version's magic (the repository's version); otherwise the
  // first page header sets the version, and a later change of magic is foreign WAL.
  std::optional<int> pg_major;
  // Cap on xl_tot_len (XLogRecordMaxSize, 1020 MiB); a larger length is an invalid record.
  uint32_t max_record_size = 1020U << 20;
};

enum class Status { kRecord, kNeedMore, kEndOfWal, kError };

enum class ProblemKind {
  // kEndOfWal reasons
  kZeroed,          // zero length record or all-zero page: unwritten WAL
  kRecycled,        // a page whose address is not its position: an old, recycled segment
  kInvalidPage,     // a page header that cannot continue the WAL (flags, contrecord, timeline)
  kInvalidRecord,   // a record header or fragment layout that is not valid
  kBadCrc,          // a record whose CRC-32C does not match
  kIncomplete,      // the source ended in the middle of a record
  kEndOfSource,     // the source has no more bytes, between records
  // kError reasons
  kUnknownMagic,    // the page magic of no supported PostgreSQL version
  kForeignWal,      // another system identifier, segment size, page size or major version, or a changed magic
  kContract,        // a gap in the fed bytes, or feed() while bytes were still pending
};

struct Problem {
  ProblemKind kind = ProblemKind::kEndOfSource;
  Lsn lsn;              // where it was found
  std::string message;  // lowercase, one line
};

struct Step {
  Status status = Status::kNeedMore;
  const Record* record = nullptr;    // kRecord only
  const Problem* problem = nullptr;  // kEndOfWal and kError only
};

class StreamDecoder {
 public:
  // start: a segment or page start, or the LSN of a record.
  StreamDecoder(DecoderConfig config, Lsn start);

  void feed(Lsn start, std::span<const std::byte> bytes);
  [[nodiscard]] Step next();
  // The source has nothing after wanted(): returns (and latches) kEndOfWal, kIncomplete when mid-record.
  [[nodiscard]] Step end_of_input();

  // The LSN of the next byte the decoder needs.
  [[nodiscard]] Lsn wanted() const { return pos_; }
  // The format of the pages seen so far (nullopt before the first page header).
  [[nodiscard]] const std::optional<WalFormat>& format() const { return format_; }
  [[nodiscard]] TimelineId timeline() const { return timeline_; }
  [[nodiscard]] std::optional<uint64_t> system_identifier() const { return system_identifier_; }
  [[nodiscard]] const DecoderConfig& config() const { return config_; }

 private:
  enum class Phase { kSkipContinuation, kStart, kAssemble };

  [[nodiscard]] size_t available() const { return input_.size() - input_off_; }
  [[nodiscard]] const std::byte* cursor() const { return input_.data() + input_off_; }
  void consume(size_t n) {
    input_off_ += n;
    pos_ = pos_ + n;
  }
  [[nodiscard]] bool sync_input();
  [[nodiscard]] bool read_page_header(Step& step);
  [[nodiscard]] bool check_page(const PageHeader& h, Lsn page, Step& step);
  [[nodiscard]] bool check_record_header(std::span<const std::byte> header, Lsn at, Step& step);
  [[nodiscard]] bool check_length(uint32_t tot_len, Lsn at, Step& step);
  [[nodiscard]] Step emit(std::span<const std::byte> bytes, Lsn at, Lsn end);
  Step stop(Status status, ProblemKind kind, Lsn at, std::string message);

  DecoderConfig config_;
  Lsn pos_;
  Phase phase_;
  bool first_record_ = true;
  Lsn prev_record_;

  std::span<const std::byte> input_;
  Lsn input_lsn_;
  size_t input_off_ = 0;
  std::optional<Problem> pending_error_;

  // Page header in progress (may be split across feeds).
  bool in_page_header_ = false;
  Lsn header_page_;
  std::array<std::byte, kLongPageHeaderSize> header_buf_{};
  size_t header_have_ = 0;
  Lsn checked_page_{~uint64_t{0}};
  uint32_t page_rem_len_ = 0;
  uint16_t page_info_ = 0;

  uint32_t skip_left_ = 0;  // kSkipContinuation: continuation bytes still to skip

  // Record being reassembled.
  std::vector<std::byte> rec_buf_;
  Lsn rec_lsn_;
  size_t rec_have_ = 0;
  uint32_t rec_tot_len_ = 0;  // 0 until the first 4 bytes are in
  bool rec_header_ok_ = false;
  bool release_buffer_ = false;

  std::optional<WalFormat> format_;
  TimelineId timeline_;
  std::optional<uint64_t> system_identifier_;

  Record record_;
  BlockTable blocks_;
  Problem problem_;
  std::optional<Step> terminal_;
};

// Where the pull Reader gets bytes.
struct SourceRead {
  enum class Kind { kData, kWouldBlock, kEnd };
  Kind kind = Kind::kEnd;
  Lsn start;                          // kData: LSN of bytes[0]; must be <= the wanted LSN
  std::span<const std::byte> bytes;   // kData: at least one byte at or after wanted; valid until the next read()
};

// A file set, a repository container, a buffer: anything that can serve WAL bytes by LSN. read() may return
// more or fewer bytes than the decoder will use, from the wanted LSN or earlier (a whole page or segment).
class PageSource {
 public:
  virtual ~PageSource() = default;
  [[nodiscard]] virtual SourceRead read(Lsn wanted) = 0;
};

class Reader {
 public:
  Reader(PageSource& source, DecoderConfig config, Lsn start) : source_(source), decoder_(config, start) {}
  // kRecord, kEndOfWal, kError as StreamDecoder; kNeedMore only when the source would block.
  [[nodiscard]] Step next();
  [[nodiscard]] const StreamDecoder& decoder() const { return decoder_; }

 private:
  PageSource& source_;
  StreamDecoder decoder_;
};

// Serves one in-memory buffer that holds WAL from `start`. The buffer must outlive the source.
class BufferSource : public PageSource {
 public:
  BufferSource(Lsn start, std::span<const std::byte> bytes) : start_(start), bytes_(bytes) {}
  [[nodiscard]] SourceRead read(Lsn wanted) override;

 private:
  Lsn start_;
  std::span<const std::byte> bytes_;
};

}  // namespace walvault::wal
