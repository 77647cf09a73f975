#include "format/segment_container.hpp"

#include <zstd.h>

#include <algorithm>
#include <utility>

#include "format/checksum.hpp"

namespace walvault::format {
namespace {

constexpr uint64_t kMaxExpansion = 32768;

struct CCtxDeleter {
  void operator()(ZSTD_CCtx* c) const noexcept { ZSTD_freeCCtx(c); }
};
struct DCtxDeleter {
  void operator()(ZSTD_DCtx* d) const noexcept { ZSTD_freeDCtx(d); }
};

ContainerError error(ContainerErrorKind kind, std::string message) {
  ContainerError e;
  e.kind = kind;
  e.message = std::move(message);
  return e;
}

std::string hex(uint64_t v) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) out[static_cast<std::size_t>(i)] = kDigits[v & 0xF];
  return out;
}

std::optional<TimestampTz> time_or_none(int64_t v) { return v == kNoTime ? std::nullopt : std::optional(v); }

// The raw capacity of a container: up to the segment end, or the chunk-count cap for a stream.
uint64_t capacity_of(const ContainerHeader& h) {
  if (h.kind == ContainerKind::kStream) return uint64_t{h.chunk_size} * kMaxChunkCount;
  return wal::segment_start(h.segment_no.next(), h.segment_size) - h.start_lsn;
}

std::optional<ContainerError> check_header(const ContainerHeader& h) {
  const auto bad = [](std::string m) { return error(ContainerErrorKind::kBadHeader, std::move(m)); };
  if (h.kind != ContainerKind::kSegment && h.kind != ContainerKind::kStream) return bad("unknown container kind");
  if (h.chunk_size < kMinChunkSize || h.chunk_size > kMaxChunkSize) {
    return bad("chunk size " + std::to_string(h.chunk_size) + " out of range");
  }
  if (h.kind == ContainerKind::kSegment) {
    if (!h.timeline.valid()) return bad("segment container without a timeline");
    if (!wal::valid_segment_size(h.segment_size)) {
      return bad("invalid segment size " + std::to_string(h.segment_size));
    }
    if (h.segment_no.value() > (UINT64_MAX / h.segment_size) - 1 ||
        wal::segment_of(h.start_lsn, h.segment_size) != h.segment_no) {
      return bad("start lsn " + h.start_lsn.to_string() + " is not inside segment " +
                 std::to_string(h.segment_no.value()));
    }
  } else if (h.segment_no.value() != 0 || h.segment_size != 0) {
    return bad("stream container with segment fields set");
  }
  return std::nullopt;
}

void encode_header(const ContainerHeader& h, std::vector<std::byte>& out) {
  Appender a(out);
  a.put_text(kMagic);
  a.put<uint16_t>(kFormatVersion);
  a.put<uint16_t>(static_cast<uint16_t>(h.kind));
  a.put<uint32_t>(h.chunk_size);
  a.put<uint64_t>(h.system_identifier);
  a.put<uint32_t>(h.pg_version);
  a.put<uint32_t>(h.timeline.value());
  a.put<uint64_t>(h.segment_no.value());
  a.put<uint32_t>(h.segment_size);
  a.put<int32_t>(h.zstd_level);
  a.put<uint64_t>(h.start_lsn.value());
  a.put<uint64_t>(0);
  a.put<uint64_t>(checksum(std::span(out).subspan(out.size() - 64, 64)));
}

// "raw bytes A..B" plus, for a segment, the LSN range.
std::string describe_range(const ContainerHeader& h, uint64_t offset, uint64_t length) {
  std::string text = "raw bytes " + std::to_string(offset) + ".." + std::to_string(offset + length);
  if (h.kind == ContainerKind::kSegment) {
    text += ", lsn " + (h.start_lsn + offset).to_string() + ".." + (h.start_lsn + offset + length).to_string();
  }
  return text;
}

ContainerError chunk_error(const ContainerInfo& info, uint32_t index, const std::string& what) {
  const ChunkEntry& c = info.chunks[index];
  ContainerError e = error(ContainerErrorKind::kBadChunk,
                           "chunk " + std::to_string(index) + " of " + std::to_string(info.chunks.size()) + " (" +
                               describe_range(info.header, info.raw_offset(index), c.raw_size) + ") " + what);
  e.chunk = index;
  e.raw_offset = info.raw_offset(index);
  e.raw_length = c.raw_size;
  return e;
}

}  // namespace

std::string segment_object_name(wal::TimelineId tli, wal::SegmentNo segno, uint32_t segment_size) {
  return "wal/" + wal::segment_file_name(tli, segno, segment_size) + ".wvs";
}

bool ContainerInfo::partial() const {
  return header.kind == ContainerKind::kSegment &&
         end_lsn < wal::segment_start(header.segment_no.next(), header.segment_size);
}

uint64_t ContainerFooter::trailer_size() const {
  return uint64_t{chunk_count} * kChunkEntrySize + kContainerSummarySize + kContainerFooterSize;
}

// ------------------------------------------------------------------------------------------------ frames

struct FrameEncoder::State {
  std::unique_ptr<ZSTD_CCtx, CCtxDeleter> cctx{ZSTD_createCCtx()};
  // Allocated without zeroing: the pages zstd does not write (most of the bound) never become resident.
  std::unique_ptr<std::byte[]> frame;
  std::size_t capacity = 0;
};

FrameEncoder::FrameEncoder(int zstd_level) : state_(std::make_unique<State>()) {
  ZSTD_CCtx_setParameter(state_->cctx.get(), ZSTD_c_compressionLevel, zstd_level);
  // zstd's fast strategy (level 1 and below) looks for matches of 6 bytes or more. WAL and heap pages repeat
  // shorter: with 5, format.sh's WAL stores 9 % less (14.68x -> 16.19x) at the same CPU per GB
  // (bench/results/format.md); by hand with zstd -b, stream-shaped WAL 5 % less and a data directory's tar 4 %.
  if (zstd_level <= 1) ZSTD_CCtx_setParameter(state_->cctx.get(), ZSTD_c_minMatch, kFastMinMatch);
}
FrameEncoder::FrameEncoder(FrameEncoder&&) noexcept = default;
FrameEncoder& FrameEncoder::operator=(FrameEncoder&&) noexcept = default;
FrameEncoder::~FrameEncoder() = default;

ContainerResult<FrameEncoder::Frame> FrameEncoder::encode(std::span<const std::byte> raw) {
  State& s = *state_;
  if (raw.empty() || raw.size() > kMaxChunkSize) {
    return Unexpected(error(ContainerErrorKind::kInvalidArgument, "a frame holds 1 byte to 8 MiB"));
  }
  const std::size_t bound = kChunkFrameHeaderSize + ZSTD_compressBound(raw.size());
  if (bound > s.capacity) {
    s.frame.reset(new std::byte[bound]);
    s.capacity = bound;
  }
  std::byte* frame = s.frame.get();
  const std::size_t n = ZSTD_compress2(s.cctx.get(), frame + kChunkFrameHeaderSize, bound - kChunkFrameHeaderSize,
                                       raw.data(), raw.size());
  if (ZSTD_isError(n) != 0U) {
    return Unexpected(error(ContainerErrorKind::kInvalidArgument,
                            std::string("zstd compression failed: ") + ZSTD_getErrorName(n)));
  }
  const ChunkEntry entry{0, static_cast<uint32_t>(n), static_cast<uint32_t>(raw.size()), checksum(raw),
                         checksum(std::span(frame + kChunkFrameHeaderSize, n))};
  put_le<uint32_t>(frame, entry.stored_size);
  put_le<uint32_t>(frame + 4, entry.raw_size);
  put_le<uint64_t>(frame + 8, entry.raw_checksum);
  put_le<uint64_t>(frame + 16, entry.stored_checksum);
  return Frame{std::span<const std::byte>(frame, kChunkFrameHeaderSize + n), entry};
}

ContainerResult<ChunkEntry> parse_frame_header(std::span<const std::byte> bytes, uint64_t offset, uint32_t max_raw) {
  if (bytes.size() < kChunkFrameHeaderSize) {
    return Unexpected(error(ContainerErrorKind::kTruncated, "chunk frame header cut short"));
  }
  const std::byte* p = bytes.data();
  const ChunkEntry e{offset, get_le<uint32_t>(p), get_le<uint32_t>(p + 4), get_le<uint64_t>(p + 8),
                     get_le<uint64_t>(p + 16)};
  // zstd needs at least 4 bytes per 128 KiB block (an RLE block), so no frame expands more than 32768-fold.
  if (e.stored_size == 0 || e.raw_size == 0 || e.raw_size > max_raw || e.stored_size > ZSTD_compressBound(max_raw) ||
      e.raw_size > uint64_t{e.stored_size} * kMaxExpansion) {
    return Unexpected(error(ContainerErrorKind::kBadChunk, "chunk frame header has impossible sizes"));
  }
  return e;
}

// ------------------------------------------------------------------------------------------------ writer

struct ContainerWriter::State {
  ContainerHeader header;
  Sink sink;
  std::function<void(uint64_t)> cut;  // resumed writers
  FrameEncoder encoder{kDefaultZstdLevel};
  std::vector<std::byte> raw;  // the chunk being filled (capacity chunk_size)
  std::vector<ChunkEntry> chunks;
  std::vector<ChunkEntry> adopted;  // resumed writers: chunks a previous writer emitted, not checked yet
  std::optional<uint32_t> mismatched;
  Hasher whole;
  uint64_t raw_length = 0;
  uint64_t stored = 0;
  uint64_t capacity = 0;
  bool finished = false;

  void emit(std::span<const std::byte> bytes) {
    sink(bytes);
    stored += bytes.size();
  }

  [[nodiscard]] bool adopting() const { return chunks.size() < adopted.size(); }

  // Forgets the adopted chunks from the next one on: the output continues at its frame offset.
  void drop_adopted() {
    stored = adopted[chunks.size()].offset;
    adopted.resize(chunks.size());
    cut(stored);
  }

  // The next adopted chunk's raw bytes arrived again: kept when they are the same, else cut off with every later one.
  bool adopt_chunk() {
    const ChunkEntry& entry = adopted[chunks.size()];
    if (entry.raw_size == raw.size() && checksum(raw) == entry.raw_checksum) {
      chunks.push_back(entry);
      return true;
    }
    mismatched = static_cast<uint32_t>(chunks.size());
    drop_adopted();
    return false;
  }

  ContainerResult<void> flush_chunk() {
    if (raw.empty()) return {};
    if (!adopting() || !adopt_chunk()) {
      auto frame = encoder.encode(raw);
      if (!frame) return Unexpected(frame.error());
      frame->entry.offset = stored;
      chunks.push_back(frame->entry);
      emit(frame->bytes);
    }
    whole.update(raw);
    raw.clear();
    return {};
  }
};

ContainerWriter::ContainerWriter(std::unique_ptr<State> state) : state_(std::move(state)) {}
ContainerWriter::ContainerWriter(ContainerWriter&&) noexcept = default;
ContainerWriter& ContainerWriter::operator=(ContainerWriter&&) noexcept = default;
ContainerWriter::~ContainerWriter() = default;

ContainerResult<std::unique_ptr<ContainerWriter::State>> ContainerWriter::new_state(const ContainerHeader& header,
                                                                                  Sink sink, WriterOptions options) {
  if (auto e = check_header(header)) return Unexpected(std::move(*e));
  if (options.zstd_level < ZSTD_minCLevel() || options.zstd_level > ZSTD_maxCLevel()) {
    return Unexpected(error(ContainerErrorKind::kInvalidArgument,
                            "zstd level " + std::to_string(options.zstd_level) + " out of range"));
  }
  auto state = std::make_unique<State>();
  state->header = header;
  state->header.zstd_level = options.zstd_level;
  state->sink = std::move(sink);
  state->encoder = FrameEncoder(options.zstd_level);
  state->raw.reserve(header.chunk_size);
  state->capacity = capacity_of(header);
  return state;
}

ContainerResult<ContainerWriter> ContainerWriter::create(const ContainerHeader& header, Sink sink,
                                                         WriterOptions options) {
  auto state = new_state(header, std::move(sink), options);
  if (!state) return Unexpected(state.error());
  std::vector<std::byte> head;
  encode_header((*state)->header, head);
  (*state)->emit(head);
  return ContainerWriter(std::move(*state));
}

ContainerResult<ContainerWriter> ContainerWriter::resume(const ContainerInfo& prefix, Sink sink,
                                                         std::function<void(uint64_t)> cut, WriterOptions options) {
  if (prefix.header.kind != ContainerKind::kSegment) {
    return Unexpected(error(ContainerErrorKind::kInvalidArgument, "only segment containers can be resumed"));
  }
  auto state = new_state(prefix.header, std::move(sink), options);
  if (!state) return Unexpected(state.error());
  (*state)->header.zstd_level = prefix.header.zstd_level;  // the header on disk is the one that was written
  (*state)->cut = std::move(cut);
  (*state)->adopted = prefix.chunks;
  (*state)->stored = prefix.trailer_offset;
  return ContainerWriter(std::move(*state));
}

ContainerResult<void> ContainerWriter::append(std::span<const std::byte> raw) {
  State& s = *state_;
  if (s.finished) return Unexpected(error(ContainerErrorKind::kInvalidArgument, "container already finished"));
  if (raw.size() > s.capacity - s.raw_length) {
    return Unexpected(error(ContainerErrorKind::kInvalidArgument,
                            "container full: " + std::to_string(s.raw_length + raw.size()) +
                                " raw bytes exceed its capacity of " + std::to_string(s.capacity)));
  }
  while (!raw.empty()) {
    const std::size_t take = std::min<std::size_t>(raw.size(), s.header.chunk_size - s.raw.size());
    s.raw.insert(s.raw.end(), raw.begin(), raw.begin() + static_cast<std::ptrdiff_t>(take));
    raw = raw.subspan(take);
    s.raw_length += take;
    if (s.raw.size() == s.header.chunk_size) {
      if (auto r = s.flush_chunk(); !r) return r;
    }
  }
  return {};
}

ContainerResult<ContainerInfo> ContainerWriter::finish(const ContainerSummary& summary, wal::Lsn end_lsn) {
  State& s = *state_;
  if (s.finished) return Unexpected(error(ContainerErrorKind::kInvalidArgument, "container already finished"));
  if (s.adopting()) s.drop_adopted();  // the content ends before the adopted (whole) chunks do: they go
  if (auto r = s.flush_chunk(); !r) return Unexpected(r.error());
  s.finished = true;

  ContainerInfo info;
  info.header = s.header;
  info.summary = summary;
  info.chunks = s.chunks;
  info.raw_length = s.raw_length;
  info.raw_checksum = s.whole.digest();
  info.end_lsn = s.header.kind == ContainerKind::kSegment ? s.header.start_lsn + s.raw_length : end_lsn;
  info.trailer_offset = s.stored;

  std::vector<std::byte> trailer;
  trailer.reserve(s.chunks.size() * kChunkEntrySize + kContainerSummarySize + kContainerFooterSize);
  Appender a(trailer);
  for (const ChunkEntry& c : s.chunks) {
    a.put<uint64_t>(c.offset);
    a.put<uint32_t>(c.stored_size);
    a.put<uint32_t>(c.raw_size);
    a.put<uint64_t>(c.raw_checksum);
    a.put<uint64_t>(c.stored_checksum);
  }
  a.put<uint64_t>(info.raw_length);
  a.put<uint64_t>(info.end_lsn.value());
  a.put<uint64_t>(info.raw_checksum);
  a.put<int64_t>(summary.first_commit_time.value_or(kNoTime));
  a.put<int64_t>(summary.last_commit_time.value_or(kNoTime));
  a.put<uint64_t>(summary.commit_count);
  a.put<uint64_t>(summary.event_count);
  a.put<uint64_t>(0);
  a.put<uint64_t>(info.trailer_offset);
  a.put<uint32_t>(static_cast<uint32_t>(s.chunks.size()));
  a.put<uint32_t>(0);
  a.put<uint64_t>(checksum(trailer));
  a.put_text(kEndMagic);
  s.emit(trailer);
  return info;
}

uint64_t ContainerWriter::raw_length() const { return state_->raw_length; }
uint64_t ContainerWriter::stored_length() const { return state_->stored; }
std::span<const std::byte> ContainerWriter::pending() const { return state_->raw; }
uint64_t ContainerWriter::adopted_end() const {
  return state_->adopting() ? uint64_t{state_->header.chunk_size} * state_->adopted.size() : 0;
}
std::optional<uint32_t> ContainerWriter::mismatched_chunk() const { return state_->mismatched; }
FrameEncoder& ContainerWriter::encoder() { return state_->encoder; }

ContainerResult<std::vector<std::byte>> encode_container(const ContainerHeader& header,
                                                         std::span<const std::byte> raw,
                                                         const ContainerSummary& summary, WriterOptions options) {
  std::vector<std::byte> out;
  auto writer = ContainerWriter::create(
      header, [&out](std::span<const std::byte> b) { out.insert(out.end(), b.begin(), b.end()); }, options);
  if (!writer) return Unexpected(writer.error());
  if (auto r = writer->append(raw); !r) return Unexpected(r.error());
  if (auto r = writer->finish(summary); !r) return Unexpected(r.error());
  return out;
}

// ------------------------------------------------------------------------------------------------ parsing

ContainerResult<ContainerHeader> parse_header(std::span<const std::byte> first_bytes) {
  if (first_bytes.size() < kContainerHeaderSize) {
    return Unexpected(error(ContainerErrorKind::kTruncated, "container shorter than its header"));
  }
  const std::byte* p = first_bytes.data();
  if (!has_magic(p, kMagic)) return Unexpected(error(ContainerErrorKind::kBadMagic, "not a walvault container"));
  const auto version = get_le<uint16_t>(p + 8);
  if (version != kFormatVersion) {
    return Unexpected(error(ContainerErrorKind::kUnsupportedVersion,
                            "container format version " + std::to_string(version) + " is not supported"));
  }
  if (checksum(first_bytes.first(64)) != get_le<uint64_t>(p + 64)) {
    return Unexpected(error(ContainerErrorKind::kBadHeader, "container header checksum mismatch"));
  }
  ContainerHeader h;
  h.kind = static_cast<ContainerKind>(get_le<uint16_t>(p + 10));
  h.chunk_size = get_le<uint32_t>(p + 12);
  h.system_identifier = get_le<uint64_t>(p + 16);
  h.pg_version = get_le<uint32_t>(p + 24);
  h.timeline = wal::TimelineId(get_le<uint32_t>(p + 28));
  h.segment_no = wal::SegmentNo(get_le<uint64_t>(p + 32));
  h.segment_size = get_le<uint32_t>(p + 40);
  h.zstd_level = get_le<int32_t>(p + 44);
  h.start_lsn = wal::Lsn(get_le<uint64_t>(p + 48));
  if (auto e = check_header(h)) return Unexpected(std::move(*e));
  return h;
}

ContainerResult<ContainerFooter> parse_footer(std::span<const std::byte> last_bytes, uint64_t object_size) {
  constexpr uint64_t kMinObject = kContainerHeaderSize + kContainerSummarySize + kContainerFooterSize;
  if (last_bytes.size() < kContainerFooterSize || object_size < kMinObject) {
    return Unexpected(error(ContainerErrorKind::kTruncated, "container shorter than its header and trailer"));
  }
  const std::byte* p = last_bytes.data() + last_bytes.size() - kContainerFooterSize;
  if (!has_magic(p + 24, kEndMagic)) {
    return Unexpected(error(ContainerErrorKind::kTruncated, "container footer missing (truncated object?)"));
  }
  ContainerFooter f{get_le<uint64_t>(p), get_le<uint32_t>(p + 8)};
  if (f.chunk_count > kMaxChunkCount || f.trailer_offset < kContainerHeaderSize ||
      f.trailer_offset > object_size || object_size - f.trailer_offset != f.trailer_size()) {
    return Unexpected(error(ContainerErrorKind::kBadTrailer, "container footer does not match the object size"));
  }
  return f;
}

ContainerResult<ContainerInfo> parse_trailer(const ContainerHeader& header, const ContainerFooter& footer,
                                             std::span<const std::byte> trailer) {
  const auto bad = [](std::string m) { return Unexpected(error(ContainerErrorKind::kBadTrailer, std::move(m))); };
  if (trailer.size() != footer.trailer_size()) return bad("container trailer has the wrong size");
  const std::size_t covered = trailer.size() - 16;
  if (checksum(trailer.first(covered)) != get_le<uint64_t>(trailer.data() + covered)) {
    return bad("container trailer checksum mismatch");
  }
  Cursor c(trailer);
  ContainerInfo info;
  info.header = header;
  info.trailer_offset = footer.trailer_offset;
  info.chunks.resize(footer.chunk_count);
  const uint64_t max_stored = ZSTD_compressBound(header.chunk_size);
  uint64_t expected_offset = kContainerHeaderSize;
  uint64_t raw_total = 0;
  for (uint32_t i = 0; i < footer.chunk_count; ++i) {
    ChunkEntry& e = info.chunks[i];
    e.offset = c.get<uint64_t>();
    e.stored_size = c.get<uint32_t>();
    e.raw_size = c.get<uint32_t>();
    e.raw_checksum = c.get<uint64_t>();
    e.stored_checksum = c.get<uint64_t>();
    const bool last = i + 1 == footer.chunk_count;
    // zstd needs at least 4 bytes per 128 KiB block (an RLE block), so no frame expands more than 32768-fold.
    if (e.offset != expected_offset || e.stored_size == 0 || e.stored_size > max_stored || e.raw_size == 0 ||
        e.raw_size > uint64_t{e.stored_size} * kMaxExpansion ||
        e.raw_size > header.chunk_size || (!last && e.raw_size != header.chunk_size)) {
      return bad("chunk table entry " + std::to_string(i) + " is inconsistent");
    }
    expected_offset += kChunkFrameHeaderSize + e.stored_size;
    raw_total += e.raw_size;
  }
  if (expected_offset != footer.trailer_offset) return bad("chunk table does not end at the trailer");
  info.raw_length = c.get<uint64_t>();
  info.end_lsn = wal::Lsn(c.get<uint64_t>());
  info.raw_checksum = c.get<uint64_t>();
  info.summary.first_commit_time = time_or_none(c.get<int64_t>());
  info.summary.last_commit_time = time_or_none(c.get<int64_t>());
  info.summary.commit_count = c.get<uint64_t>();
  info.summary.event_count = c.get<uint64_t>();
  if (info.raw_length != raw_total) return bad("summary raw length does not match the chunk table");
  if (header.kind == ContainerKind::kSegment &&
      (info.raw_length > capacity_of(header) || info.end_lsn != header.start_lsn + info.raw_length)) {
    return bad("summary lsn range does not fit the segment");
  }
  if (c.get<uint64_t>() != 0 || c.get<uint64_t>() != footer.trailer_offset ||
      c.get<uint32_t>() != footer.chunk_count) {
    return bad("container footer fields are inconsistent");
  }
  return info;
}

ContainerResult<ContainerInfo> parse_container_prefix(
    const RangeReader& read_range, const std::function<void(std::span<const std::byte> raw)>& on_chunk) {
  auto header = parse_header(read_range(0, kContainerHeaderSize));
  if (!header) return Unexpected(header.error());
  if (header->kind != ContainerKind::kSegment) {
    return Unexpected(error(ContainerErrorKind::kBadHeader, "an unfinished container must be a segment container"));
  }
  ContainerInfo info;
  info.header = *header;
  uint64_t offset = kContainerHeaderSize;
  const uint64_t capacity = capacity_of(info.header);
  ContainerReader reader;
  std::vector<std::byte> raw(info.header.chunk_size);
  while (info.raw_length + info.header.chunk_size <= capacity) {
    const auto entry = parse_frame_header(read_range(offset, kChunkFrameHeaderSize), offset, info.header.chunk_size);
    if (!entry || entry->raw_size != info.header.chunk_size) break;
    const auto frame = read_range(offset, kChunkFrameHeaderSize + uint64_t{entry->stored_size});
    if (!reader.decode_frame(frame, raw)) break;
    if (on_chunk) on_chunk(raw);
    info.chunks.push_back(*entry);
    info.raw_length += entry->raw_size;
    offset += kChunkFrameHeaderSize + entry->stored_size;
  }
  info.trailer_offset = offset;
  info.end_lsn = info.header.start_lsn + info.raw_length;
  return info;
}

ContainerResult<ContainerInfo> parse_container(std::span<const std::byte> object) {
  auto header = parse_header(object);
  if (!header) return Unexpected(header.error());
  auto footer = parse_footer(object, object.size());
  if (!footer) return Unexpected(footer.error());
  return parse_trailer(*header, *footer, object.subspan(footer->trailer_offset));
}

// ------------------------------------------------------------------------------------------------ reader

struct ContainerReader::State {
  std::unique_ptr<ZSTD_DCtx, DCtxDeleter> dctx{ZSTD_createDCtx()};
};

ContainerReader::ContainerReader() : state_(std::make_unique<State>()) {}
ContainerReader::ContainerReader(ContainerReader&&) noexcept = default;
ContainerReader& ContainerReader::operator=(ContainerReader&&) noexcept = default;
ContainerReader::~ContainerReader() = default;

ContainerResult<void> ContainerReader::decode_frame(std::span<const std::byte> frame, std::span<std::byte> out) {
  const auto bad = [](std::string m) { return Unexpected(error(ContainerErrorKind::kBadChunk, std::move(m))); };
  const auto entry = parse_frame_header(frame, 0, kMaxChunkSize);
  if (!entry) return bad(entry.error().message);
  if (frame.size() != kChunkFrameHeaderSize + entry->stored_size) return bad("is truncated");
  if (out.size() != entry->raw_size) {
    return Unexpected(error(ContainerErrorKind::kInvalidArgument, "output buffer size does not match the chunk"));
  }
  if (checksum(frame.subspan(kChunkFrameHeaderSize)) != entry->stored_checksum) {
    return bad("compressed bytes checksum mismatch");
  }
  const std::size_t n = ZSTD_decompressDCtx(state_->dctx.get(), out.data(), out.size(),
                                            frame.data() + kChunkFrameHeaderSize, entry->stored_size);
  if (ZSTD_isError(n) != 0U) return bad(std::string("fails to decompress: ") + ZSTD_getErrorName(n));
  if (n != entry->raw_size) return bad("decompresses to the wrong size");
  if (checksum(out) != entry->raw_checksum) {
    return bad("checksum mismatch (expected " + hex(entry->raw_checksum) + ")");
  }
  return {};
}

ContainerResult<void> ContainerReader::decode_chunk(const ContainerInfo& info, uint32_t index,
                                                    std::span<const std::byte> frame, std::span<std::byte> out) {
  if (index >= info.chunks.size()) {
    return Unexpected(error(ContainerErrorKind::kInvalidArgument, "chunk " + std::to_string(index) + " does not exist"));
  }
  const ChunkEntry& e = info.chunks[index];
  if (frame.size() != kChunkFrameHeaderSize + e.stored_size) return Unexpected(chunk_error(info, index, "is truncated"));
  if (out.size() != e.raw_size) {
    return Unexpected(error(ContainerErrorKind::kInvalidArgument, "output buffer size does not match the chunk"));
  }
  const std::byte* p = frame.data();
  if (get_le<uint32_t>(p) != e.stored_size || get_le<uint32_t>(p + 4) != e.raw_size ||
      get_le<uint64_t>(p + 8) != e.raw_checksum || get_le<uint64_t>(p + 16) != e.stored_checksum) {
    return Unexpected(chunk_error(info, index, "frame header does not match the chunk table"));
  }
  if (auto r = decode_frame(frame, out); !r) return Unexpected(chunk_error(info, index, r.error().message));
  return {};
}

ContainerResult<void> ContainerReader::decode_all(const ContainerInfo& info, std::span<const std::byte> object,
                                                  std::span<std::byte> out) {
  if (out.size() != info.raw_length) {
    return Unexpected(error(ContainerErrorKind::kInvalidArgument, "output buffer size does not match the container"));
  }
  if (object.size() < info.trailer_offset) {
    return Unexpected(error(ContainerErrorKind::kTruncated, "container shorter than its chunk table says"));
  }
  Hasher whole;
  for (uint32_t i = 0; i < info.chunks.size(); ++i) {
    const ChunkEntry& e = info.chunks[i];
    const auto raw = out.subspan(info.raw_offset(i), e.raw_size);
    if (auto r = decode_chunk(info, i, object.subspan(e.offset, kChunkFrameHeaderSize + e.stored_size), raw); !r) {
      return r;
    }
    whole.update(raw);
  }
  if (whole.digest() != info.raw_checksum) {
    return Unexpected(error(ContainerErrorKind::kBadChecksum, "whole-content checksum mismatch (" +
                                                                  describe_range(info.header, 0, info.raw_length) +
                                                                  ")"));
  }
  return {};
}

ContainerResult<std::vector<std::byte>> ContainerReader::read(std::span<const std::byte> object) {
  auto info = parse_container(object);
  if (!info) return Unexpected(info.error());
  if (info->raw_length > kMaxReadLength) {
    return Unexpected(error(ContainerErrorKind::kInvalidArgument,
                            "container holds " + std::to_string(info->raw_length) +
                                " raw bytes, too many to read at once; decode it chunk by chunk"));
  }
  std::vector<std::byte> out(info->raw_length);
  if (auto r = decode_all(*info, object, out); !r) return Unexpected(r.error());
  return out;
}

}  // namespace walvault::format
