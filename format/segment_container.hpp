// The chunked container (FORMAT.md, "Segment container"): one WAL segment (.wvs) or one arbitrary byte stream
// such as a base backup tar (.wvt), cut into independently decompressible zstd chunks with xxh3 checksums.
//
// Writing is streaming: ContainerWriter takes raw bytes in any pieces and hands each finished part of the object
// (header, every chunk frame as soon as its chunk is full, the trailer) to a sink, so memory stays at one chunk
// plus a reused zstd context whatever the object size. The sink does the IO (an ObjectWriter in src/); if it
// throws, the exception passes through and the writer must be discarded.
//
// Reading verifies everything: parse_container() checks header, trailer and chunk table without decompressing;
// ContainerReader decompresses one chunk or the whole content, checking every chunk checksum and the whole-
// content checksum. Readers that fetch only parts of an object (ranged reads) use parse_header(), parse_footer()
// and parse_trailer() and then decode_chunk() on one frame.
//
// Both the compressed bytes and the raw bytes of every chunk are checksummed, so any changed byte is detected,
// even one zstd would ignore. Errors are values (ContainerError), never exceptions: they name the part that is bad and, for a chunk, its
// index and raw byte range. Nothing returned refers to the input bytes; all results own their memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "format/endian.hpp"
#include "wal/expected.hpp"
#include "wal/lsn.hpp"

namespace walvault::format {

inline constexpr uint32_t kContainerHeaderSize = 72;
inline constexpr uint32_t kChunkFrameHeaderSize = 24;
inline constexpr uint32_t kChunkEntrySize = 32;
inline constexpr uint32_t kContainerSummarySize = 64;
inline constexpr uint32_t kContainerFooterSize = 32;
inline constexpr uint32_t kMinChunkSize = 4U << 10;
inline constexpr uint32_t kMaxChunkSize = 8U << 20;
inline constexpr uint32_t kSegmentChunkSize = 256U << 10;  // default for WAL segments
inline constexpr uint32_t kStreamChunkSize = 1U << 20;     // default for stream containers
inline constexpr int kDefaultZstdLevel = 1;
inline constexpr int kFastMinMatch = 5;  // zstd's minimum match at levels <= 1 (its default there is 6)
// A stream container holds at most this many chunks (8 TiB at 1 MiB chunks), which caps the trailer size.
inline constexpr uint32_t kMaxChunkCount = 1U << 23;
// ContainerReader::read() allocates at most this much (a whole 1 GiB segment).
inline constexpr uint64_t kMaxReadLength = 1ULL << 30;

// The object name of a segment container: "wal/<24-hex segment name>.wvs".
[[nodiscard]] std::string segment_object_name(wal::TimelineId tli, wal::SegmentNo segno, uint32_t segment_size);

enum class ContainerKind : uint16_t { kSegment = 1, kStream = 2 };

struct ContainerHeader {
  ContainerKind kind = ContainerKind::kSegment;
  uint32_t chunk_size = kSegmentChunkSize;
  uint64_t system_identifier = 0;
  uint32_t pg_version = 0;  // server_version_num
  wal::TimelineId timeline;
  wal::SegmentNo segment_no;  // segments only
  uint32_t segment_size = 0;  // segments only
  int32_t zstd_level = kDefaultZstdLevel;
  wal::Lsn start_lsn;  // segment: first LSN held; stream: backup start LSN or 0/0
  bool operator==(const ContainerHeader&) const = default;
};

// Caller-supplied facts about the content, stored in the trailer (for WAL: from the decoder).
struct ContainerSummary {
  std::optional<TimestampTz> first_commit_time;
  std::optional<TimestampTz> last_commit_time;
  uint64_t commit_count = 0;
  uint64_t event_count = 0;
  bool operator==(const ContainerSummary&) const = default;
};

struct ChunkEntry {
  uint64_t offset = 0;  // of the frame in the object
  uint32_t stored_size = 0;
  uint32_t raw_size = 0;
  uint64_t raw_checksum = 0;
  uint64_t stored_checksum = 0;  // of the zstd frame bytes
  bool operator==(const ChunkEntry&) const = default;
};

struct ContainerInfo {
  ContainerHeader header;
  ContainerSummary summary;
  std::vector<ChunkEntry> chunks;
  uint64_t raw_length = 0;
  uint64_t raw_checksum = 0;
  wal::Lsn end_lsn;  // segment: start_lsn + raw_length
  uint64_t trailer_offset = 0;

  // Raw offset of chunk i (i · chunk_size).
  [[nodiscard]] uint64_t raw_offset(std::size_t i) const { return uint64_t{header.chunk_size} * i; }
  // A segment holding less than up to its segment's end (the live tip, or a timeline switch).
  [[nodiscard]] bool partial() const;
};

enum class ContainerErrorKind {
  kTruncated,           // the object is shorter than its structure says
  kBadMagic,            // not a walvault container
  kUnsupportedVersion,  // a newer format version
  kBadHeader,           // header checksum or field out of range
  kBadTrailer,          // footer, chunk table or summary inconsistent or checksum mismatch
  kBadChunk,            // one chunk fails to decompress or its checksum mismatches
  kBadChecksum,         // every chunk is fine but the whole-content checksum mismatches
  kInvalidArgument,     // the writer was given something it cannot store
};

struct ContainerError {
  ContainerErrorKind kind = ContainerErrorKind::kInvalidArgument;
  std::string message;           // lowercase, one line
  std::optional<uint32_t> chunk;  // kBadChunk: which one
  uint64_t raw_offset = 0;       // kBadChunk: the raw byte range [raw_offset, raw_offset + raw_length)
  uint64_t raw_length = 0;
};

template <typename T>
using ContainerResult = Expected<T, ContainerError>;

struct WriterOptions {
  int zstd_level = kDefaultZstdLevel;
};

// Compresses raw bytes into chunk frames (frame header + one zstd frame), reusing one zstd context and buffer.
// Levels 1 and below look for matches from kFastMinMatch bytes.
class FrameEncoder {
 public:
  explicit FrameEncoder(int zstd_level);
  FrameEncoder(FrameEncoder&&) noexcept;
  FrameEncoder& operator=(FrameEncoder&&) noexcept;
  ~FrameEncoder();

  struct Frame {
    std::span<const std::byte> bytes;  // the whole frame; valid until the next encode()
    ChunkEntry entry;                  // its fields (offset 0)
  };
  // raw: 1 .. kMaxChunkSize bytes. kInvalidArgument when zstd fails.
  [[nodiscard]] ContainerResult<Frame> encode(std::span<const std::byte> raw);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// The header of the chunk frame at `offset`: its first kChunkFrameHeaderSize bytes. kTruncated when fewer,
// kBadChunk when its sizes are impossible (zero, more raw bytes than max_raw, more stored bytes than zstd can
// produce for them, or a larger expansion than zstd can reach).
[[nodiscard]] ContainerResult<ChunkEntry> parse_frame_header(std::span<const std::byte> bytes, uint64_t offset,
                                                             uint32_t max_raw);

// Builds a container and streams it to a sink. Memory: one chunk of raw bytes, one compressed frame, a zstd
// context (sized for one chunk) and the chunk table (24 bytes per chunk).
class ContainerWriter {
 public:
  using Sink = std::function<void(std::span<const std::byte>)>;

  // Validates the header (chunk size, segment size, start LSN inside the segment) and emits it to sink.
  [[nodiscard]] static ContainerResult<ContainerWriter> create(const ContainerHeader& header, Sink sink,
                                                               WriterOptions options = {});
  ContainerWriter(ContainerWriter&&) noexcept;
  ContainerWriter& operator=(ContainerWriter&&) noexcept;
  ~ContainerWriter();

  // Continues an unfinished segment container (the streamer's tip, FORMAT.md "Streamer objects") whose header and
  // whole chunks a previous writer emitted: `prefix` describes them (header, chunks, trailer_offset = the bytes
  // they take). The sink receives only what follows them. Their raw bytes must be appended again first: each
  // such chunk is checked against its raw checksum instead of being compressed. When one differs, cut(offset)
  // is called with its frame offset, that chunk and the later adopted ones are forgotten, and writing continues
  // from there with the new bytes (mismatched_chunk() tells which).
  [[nodiscard]] static ContainerResult<ContainerWriter> resume(const ContainerInfo& prefix, Sink sink,
                                                               std::function<void(uint64_t)> cut,
                                                               WriterOptions options = {});

  // Adds raw bytes; every chunk that fills is compressed and emitted. kInvalidArgument when a segment would
  // grow past its segment end, a stream past kMaxChunkCount chunks, or after finish().
  [[nodiscard]] ContainerResult<void> append(std::span<const std::byte> raw);
  // Emits the last (short) chunk, the chunk table, the summary and the footer. For a stream, end_lsn may be set
  // (e.g. the backup stop LSN); segments ignore it. The writer is done afterwards.
  [[nodiscard]] ContainerResult<ContainerInfo> finish(const ContainerSummary& summary, wal::Lsn end_lsn = {});

  [[nodiscard]] uint64_t raw_length() const;
  [[nodiscard]] uint64_t stored_length() const;  // bytes emitted so far
  // The raw bytes of the chunk being filled (not emitted yet): the last pending().size() of raw_length().
  [[nodiscard]] std::span<const std::byte> pending() const;
  // Resumed writers: the raw end of the adopted chunks not yet checked again (0 once all are checked).
  [[nodiscard]] uint64_t adopted_end() const;
  // Resumed writers: the first adopted chunk that differed, if any did.
  [[nodiscard]] std::optional<uint32_t> mismatched_chunk() const;
  // The writer's encoder, for frames of other bytes (the streamer's tail log) that share its zstd context.
  [[nodiscard]] FrameEncoder& encoder();

 private:
  struct State;
  explicit ContainerWriter(std::unique_ptr<State> state);
  [[nodiscard]] static ContainerResult<std::unique_ptr<State>> new_state(const ContainerHeader& header, Sink sink,
                                                                         WriterOptions options);
  std::unique_ptr<State> state_;
};

// Encodes a whole container in memory (tests, small objects).
[[nodiscard]] ContainerResult<std::vector<std::byte>> encode_container(const ContainerHeader& header,
                                                                       std::span<const std::byte> raw,
                                                                       const ContainerSummary& summary,
                                                                       WriterOptions options = {});

// Pieces for ranged reads: the first kContainerHeaderSize bytes, the last kContainerFooterSize bytes.
struct ContainerFooter {
  uint64_t trailer_offset = 0;
  uint32_t chunk_count = 0;
  // Bytes from trailer_offset to the end of the object.
  [[nodiscard]] uint64_t trailer_size() const;
};
[[nodiscard]] ContainerResult<ContainerHeader> parse_header(std::span<const std::byte> first_bytes);
[[nodiscard]] ContainerResult<ContainerFooter> parse_footer(std::span<const std::byte> last_bytes,
                                                            uint64_t object_size);
// trailer: bytes [trailer_offset, object end). Checks the trailer checksum and the table's consistency.
[[nodiscard]] ContainerResult<ContainerInfo> parse_trailer(const ContainerHeader& header,
                                                           const ContainerFooter& footer,
                                                           std::span<const std::byte> trailer);

// An unfinished segment container (header and whole chunk frames, no trailer), read from its beginning: the
// header, then the chunk frames of chunk_size raw bytes that decode and match both checksums, up to the first
// torn, damaged or shorter one; on_chunk (if set) gets each one's raw bytes, in order. trailer_offset is where
// the valid frames end, raw_length what they hold. read_range returns up to `length` bytes at `offset` of the
// object (fewer only at its end). kTruncated/kBadMagic/kUnsupportedVersion/kBadHeader when the header itself
// is unusable.
[[nodiscard]] ContainerResult<ContainerInfo> parse_container_prefix(
    const RangeReader& read_range, const std::function<void(std::span<const std::byte> raw)>& on_chunk = {});

// All of the above over a whole object, without decompressing.
[[nodiscard]] ContainerResult<ContainerInfo> parse_container(std::span<const std::byte> object);

// Decompresses containers, reusing one zstd context. Not thread-safe; one per thread.
class ContainerReader {
 public:
  ContainerReader();
  ContainerReader(ContainerReader&&) noexcept;
  ContainerReader& operator=(ContainerReader&&) noexcept;
  ~ContainerReader();

  // frame: one whole chunk frame. out: exactly its raw_size bytes. Checks the stored checksum, decompresses, checks
  // the raw checksum. Errors are kBadChunk without a chunk number.
  [[nodiscard]] ContainerResult<void> decode_frame(std::span<const std::byte> frame, std::span<std::byte> out);
  // frame: the frame bytes of chunk `index` (kChunkFrameHeaderSize + stored_size bytes at its offset).
  // out: exactly its raw_size bytes. Verifies the frame header against the table and the raw checksum.
  [[nodiscard]] ContainerResult<void> decode_chunk(const ContainerInfo& info, uint32_t index,
                                                   std::span<const std::byte> frame, std::span<std::byte> out);
  // Every chunk of a whole object into out (exactly info.raw_length bytes), then the whole-content checksum.
  [[nodiscard]] ContainerResult<void> decode_all(const ContainerInfo& info, std::span<const std::byte> object,
                                                 std::span<std::byte> out);
  // parse_container + decode_all into a new buffer. Refuses (kInvalidArgument) more than kMaxReadLength raw
  // bytes: read big streams chunk by chunk.
  [[nodiscard]] ContainerResult<std::vector<std::byte>> read(std::span<const std::byte> object);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace walvault::format
