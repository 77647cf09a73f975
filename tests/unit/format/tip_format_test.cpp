// The pieces the streamer's tip is made of (FORMAT.md, "Streamer objects"): single chunk frames (FrameEncoder,
// parse_frame_header, ContainerReader::decode_frame), the unfinished container read back by
// parse_container_prefix, a ContainerWriter resumed over such a prefix, and the tail log.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstring>
#include <random>
#include <string>

#include "../sample_bytes.hpp"
#include "format/checksum.hpp"
#include "format/endian.hpp"
#include "format/segment_container.hpp"
#include "format/tail_log.hpp"

namespace {

using walvault::test::sample;
using walvault::test::segment_header;

using namespace walvault::format;
using walvault::wal::Lsn;
using walvault::wal::SegmentNo;
using walvault::wal::TimelineId;

constexpr uint32_t kSegSize = 1U << 20;
constexpr uint32_t kChunk = kMinChunkSize;  // small chunks: many frames in little time

using Bytes = std::vector<std::byte>;

const ContainerSummary kSummary{TimestampTz{100}, TimestampTz{200}, 3, 1};

Bytes first(std::span<const std::byte> bytes, std::size_t n) {
  const auto head = bytes.first(n);
  return Bytes(head.begin(), head.end());
}

// parse_container_prefix over bytes in memory, reading like Storage::read_range (fewer bytes at the end).
ContainerResult<ContainerInfo> prefix_of(std::span<const std::byte> object) {
  return parse_container_prefix(ranges_of(object));
}

// A container written by a ContainerWriter: what it had emitted before finish() and the whole object.
struct Written {
  Bytes unfinished;
  Bytes whole;
  ContainerInfo info;
};

Written write_container(const ContainerHeader& header, std::span<const std::byte> raw, std::size_t piece = 3001) {
  Written out;
  auto writer = ContainerWriter::create(header, [&](auto b) { out.whole.insert(out.whole.end(), b.begin(), b.end()); });
  REQUIRE(writer);
  for (std::size_t pos = 0; pos < raw.size(); pos += piece) {
    REQUIRE(writer->append(raw.subspan(pos, std::min(piece, raw.size() - pos))));
  }
  out.unfinished = out.whole;
  auto info = writer->finish(kSummary);
  REQUIRE(info);
  out.info = *info;
  return out;
}

// A writer resumed over `prefix`: the object holds the prefix's bytes, then what the writer emits; cut() cuts it.
struct Resumed {
  Bytes object;
  std::vector<uint64_t> cuts;
  std::optional<ContainerWriter> writer;

  Resumed(std::span<const std::byte> unfinished, const ContainerInfo& prefix)
      : object(first(unfinished, prefix.trailer_offset)) {
    auto w = ContainerWriter::resume(
        prefix, [this](auto b) { object.insert(object.end(), b.begin(), b.end()); },
        [this](uint64_t at) {
          CHECK(at <= object.size());
          cuts.push_back(at);
          object.resize(at);
        });
    REQUIRE(w);
    writer.emplace(std::move(*w));
  }
  Resumed(const Resumed&) = delete;
  Resumed& operator=(const Resumed&) = delete;
};

Bytes decode(const Bytes& object) {
  auto raw = ContainerReader().read(object);
  REQUIRE(raw);
  return *raw;
}

Bytes encoded(std::span<const std::byte> raw) {
  auto object = encode_container(segment_header(), raw, kSummary);
  REQUIRE(object);
  return *object;
}

}  // namespace

// ------------------------------------------------------------------------------------------------ frames

TEST_CASE("tip format: a frame round trips through FrameEncoder and decode_frame", "[format][tip-format]") {
  FrameEncoder encoder(kDefaultZstdLevel);
  ContainerReader reader;
  for (const std::size_t n : {std::size_t{1}, std::size_t{100}, std::size_t{kChunk}, std::size_t{kSegmentChunkSize}}) {
    INFO("raw size " << n);
    const auto raw = sample(n, static_cast<uint32_t>(n));
    auto frame = encoder.encode(raw);
    REQUIRE(frame);
    const Bytes bytes(frame->bytes.begin(), frame->bytes.end());
    CHECK(frame->entry.offset == 0);
    CHECK(frame->entry.raw_size == n);
    CHECK(bytes.size() == kChunkFrameHeaderSize + frame->entry.stored_size);
    CHECK(frame->entry.raw_checksum == checksum(raw));
    CHECK(frame->entry.stored_checksum == checksum(std::span(bytes).subspan(kChunkFrameHeaderSize)));
    CHECK(checksum(std::span(bytes).subspan(kChunkFrameHeaderSize)) == frame->entry.stored_checksum);

    // The header in front of the zstd bytes says the same as the entry.
    auto header = parse_frame_header(bytes, 1234, kSegmentChunkSize);
    REQUIRE(header);
    CHECK(header->offset == 1234);
    CHECK(header->stored_size == frame->entry.stored_size);
    CHECK(header->raw_size == frame->entry.raw_size);
    CHECK(header->raw_checksum == frame->entry.raw_checksum);
    CHECK(header->stored_checksum == frame->entry.stored_checksum);

    Bytes out(n);
    REQUIRE(reader.decode_frame(bytes, out));
    CHECK_SAME_BYTES(out, raw);
  }
  // Compressible bytes really are compressed.
  auto frame = encoder.encode(sample(kSegmentChunkSize));
  REQUIRE(frame);
  CHECK(frame->entry.stored_size < kSegmentChunkSize / 2);
}

TEST_CASE("tip format: FrameEncoder refuses empty and oversized input", "[format][tip-format]") {
  FrameEncoder encoder(kDefaultZstdLevel);
  CHECK(encoder.encode({}).error().kind == ContainerErrorKind::kInvalidArgument);
  const Bytes huge(kMaxChunkSize + 1, std::byte{7});
  CHECK(encoder.encode(huge).error().kind == ContainerErrorKind::kInvalidArgument);
  // The encoder still works afterwards.
  const auto raw = sample(5000);
  auto frame = encoder.encode(raw);
  REQUIRE(frame);
  Bytes out(raw.size());
  REQUIRE(ContainerReader().decode_frame(Bytes(frame->bytes.begin(), frame->bytes.end()), out));
  CHECK_SAME_BYTES(out, raw);
}

TEST_CASE("tip format: every flipped byte of a frame is rejected by decode_frame", "[format][tip-format]") {
  FrameEncoder encoder(kDefaultZstdLevel);
  const auto raw = sample(kChunk, 5);
  auto frame = encoder.encode(raw);
  REQUIRE(frame);
  const Bytes good(frame->bytes.begin(), frame->bytes.end());
  ContainerReader reader;
  Bytes out(raw.size());
  for (std::size_t i = 0; i < good.size(); ++i) {
    for (const uint8_t mask : {uint8_t{0x01}, uint8_t{0x80}}) {
      auto bad = good;
      bad[i] ^= std::byte{mask};
      INFO("offset " << i << " mask " << int{mask});
      auto r = reader.decode_frame(bad, out);
      REQUIRE_FALSE(r);
      // A damaged zstd payload is a bad chunk; a damaged header is either a bad chunk or (raw size changed to a
      // plausible value) a buffer that no longer matches.
      if (i >= kChunkFrameHeaderSize || i < 4 || i >= 8) {
        CHECK(r.error().kind == ContainerErrorKind::kBadChunk);
      } else {
        CHECK((r.error().kind == ContainerErrorKind::kBadChunk ||
               r.error().kind == ContainerErrorKind::kInvalidArgument));
      }
    }
  }
  // Still decodes the intact frame.
  REQUIRE(reader.decode_frame(good, out));
  CHECK_SAME_BYTES(out, raw);
}

TEST_CASE("tip format: decode_frame checks the frame length and the output size", "[format][tip-format]") {
  FrameEncoder encoder(kDefaultZstdLevel);
  const auto raw = sample(3000);
  auto frame = encoder.encode(raw);
  REQUIRE(frame);
  const Bytes good(frame->bytes.begin(), frame->bytes.end());
  ContainerReader reader;
  Bytes out(raw.size());
  CHECK(reader.decode_frame(std::span(good).first(good.size() - 1), out).error().kind == ContainerErrorKind::kBadChunk);
  CHECK(reader.decode_frame(std::span(good).first(kChunkFrameHeaderSize - 1), out).error().kind ==
        ContainerErrorKind::kBadChunk);
  auto longer = good;
  longer.push_back(std::byte{0});
  CHECK(reader.decode_frame(longer, out).error().kind == ContainerErrorKind::kBadChunk);
  Bytes small(raw.size() - 1);
  CHECK_FALSE(reader.decode_frame(good, small));
  Bytes big(raw.size() + 1);
  CHECK_FALSE(reader.decode_frame(good, big));
  REQUIRE(reader.decode_frame(good, out));
  CHECK_SAME_BYTES(out, raw);
}

TEST_CASE("tip format: parse_frame_header rejects impossible sizes", "[format][tip-format]") {
  const auto header = [](uint32_t stored, uint32_t raw) {
    Bytes h(kChunkFrameHeaderSize);
    put_le<uint32_t>(h.data(), stored);
    put_le<uint32_t>(h.data() + 4, raw);
    put_le<uint64_t>(h.data() + 8, 0x1111);
    put_le<uint64_t>(h.data() + 16, 0x2222);
    return h;
  };
  constexpr uint32_t kMax = 64U << 10;
  auto ok = parse_frame_header(header(100, 4096), 77, kMax);
  REQUIRE(ok);
  CHECK(ok->offset == 77);
  CHECK(ok->stored_size == 100);
  CHECK(ok->raw_size == 4096);
  CHECK(ok->raw_checksum == 0x1111);
  CHECK(ok->stored_checksum == 0x2222);
  CHECK(parse_frame_header(header(2, kMax), 0, kMax));       // raw == max_raw
  CHECK(parse_frame_header(header(1, 32768), 0, 1U << 20));  // the largest expansion zstd can reach
  CHECK(parse_frame_header(header(kMax, kMax), 0, kMax));    // incompressible

  CHECK(parse_frame_header(Bytes(kChunkFrameHeaderSize - 1), 0, kMax).error().kind == ContainerErrorKind::kTruncated);
  CHECK(parse_frame_header({}, 0, kMax).error().kind == ContainerErrorKind::kTruncated);
  for (const auto& [stored, raw] :
       std::vector<std::pair<uint32_t, uint32_t>>{{0, 100},          // no stored bytes
                                                  {100, 0},          // no raw bytes
                                                  {100, kMax + 1},   // more raw bytes than a frame may hold
                                                  {2 * kMax, kMax},  // more stored bytes than zstd produces for max_raw
                                                  {0xFFFFFFFF, 100},  // absurd
                                                  {1, 32769},         // beyond zstd's maximal expansion
                                                  {2, 2 * 32768 + 1}}) {
    INFO("stored " << stored << " raw " << raw);
    auto r = parse_frame_header(header(stored, raw), 0, stored == 1 || stored == 2 ? 1U << 20 : kMax);
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == ContainerErrorKind::kBadChunk);
  }
}

// ------------------------------------------------------------------------------------------------ prefix

TEST_CASE("tip format: parse_container_prefix adopts every whole chunk emitted before finish()",
          "[format][tip-format]") {
  const auto raw = sample(10 * kChunk + 1000);
  const auto w = write_container(segment_header(), raw);
  auto prefix = prefix_of(w.unfinished);
  REQUIRE(prefix);
  CHECK(prefix->header == w.info.header);
  REQUIRE(prefix->chunks.size() == 10);
  CHECK(std::equal(prefix->chunks.begin(), prefix->chunks.end(), w.info.chunks.begin()));
  CHECK(prefix->raw_length == 10 * kChunk);
  CHECK(prefix->trailer_offset == w.unfinished.size());
  CHECK(prefix->end_lsn == Lsn(4ULL * kSegSize + 10 * kChunk));

  // Header only: no chunks.
  auto empty = prefix_of(first(w.unfinished, kContainerHeaderSize));
  REQUIRE(empty);
  CHECK(empty->chunks.empty());
  CHECK(empty->raw_length == 0);
  CHECK(empty->trailer_offset == kContainerHeaderSize);
}

TEST_CASE("tip format: parse_container_prefix stops at a torn or damaged frame", "[format][tip-format]") {
  const auto raw = sample(10 * kChunk + 1000, 2);
  const auto w = write_container(segment_header(), raw);
  const auto& chunks = w.info.chunks;
  const auto expect_stop_at = [&](std::span<const std::byte> object, std::size_t k) {
    auto prefix = prefix_of(object);
    REQUIRE(prefix);
    CHECK(prefix->chunks.size() == k);
    if (prefix->chunks.size() != k) return;
    CHECK(std::equal(prefix->chunks.begin(), prefix->chunks.end(), chunks.begin()));
    CHECK(prefix->raw_length == k * kChunk);
    CHECK(prefix->trailer_offset == (k < chunks.size() ? chunks[k].offset : w.unfinished.size()));
  };

  SECTION("torn last frame, cut anywhere inside it") {
    const auto& last = chunks[9];
    for (uint64_t len = last.offset; len < last.offset + kChunkFrameHeaderSize + last.stored_size; len += 7) {
      INFO("length " << len);
      expect_stop_at(std::span(w.unfinished).first(len), 9);
    }
  }
  SECTION("a flipped byte in frame k, in its sizes, its stored checksum or its zstd bytes") {
    for (const std::size_t k : {std::size_t{0}, std::size_t{3}, std::size_t{9}}) {
      const auto& e = chunks[k];
      for (const uint64_t at : {e.offset, e.offset + 5, e.offset + 20, e.offset + kChunkFrameHeaderSize,
                                e.offset + kChunkFrameHeaderSize + e.stored_size / 2,
                                e.offset + kChunkFrameHeaderSize + e.stored_size - 1}) {
        auto bad = w.unfinished;
        bad[at] ^= std::byte{0x04};
        INFO("chunk " << k << " offset " << at);
        expect_stop_at(bad, k);
      }
    }
  }
  SECTION("a flipped byte in frame k's raw checksum field") {
    // Bytes 8..15 of a frame header (the raw checksum) are not covered by the stored checksum: only decoding the
    // frame finds the damage, and it must end the prefix (else resuming reports a spurious mismatch and read_tip
    // fails to decode the chunk).
    for (const std::size_t k : {std::size_t{0}, std::size_t{3}, std::size_t{9}}) {
      for (const uint64_t at : {chunks[k].offset + 8, chunks[k].offset + 12, chunks[k].offset + 15}) {
        auto bad = w.unfinished;
        bad[at] ^= std::byte{0x04};
        INFO("chunk " << k << " offset " << at);
        expect_stop_at(bad, k);
      }
    }
  }
  SECTION("garbage after the frames") {
    auto longer = w.unfinished;
    const auto junk = sample(3 * kChunk, 99);
    longer.insert(longer.end(), junk.begin(), junk.end());
    expect_stop_at(longer, 10);
    auto zeros = w.unfinished;
    zeros.resize(zeros.size() + 5000);
    expect_stop_at(zeros, 10);
  }
  SECTION("a frame that copies an earlier one's header but not its bytes") {
    // A valid-looking header followed by the wrong zstd bytes: the stored checksum must catch it.
    auto bad = w.unfinished;
    const auto& e3 = chunks[3];
    const auto& e4 = chunks[4];
    std::copy_n(bad.begin() + static_cast<std::ptrdiff_t>(e3.offset), kChunkFrameHeaderSize,
                bad.begin() + static_cast<std::ptrdiff_t>(e4.offset));
    expect_stop_at(bad, 4);
  }
}

TEST_CASE("tip format: parse_container_prefix over a finished container takes only the whole chunks",
          "[format][tip-format]") {
  SECTION("short last chunk") {
    const auto raw = sample(6 * kChunk + 123, 4);
    const auto w = write_container(segment_header(), raw);
    REQUIRE(w.info.chunks.size() == 7);
    auto prefix = prefix_of(w.whole);
    REQUIRE(prefix);
    CHECK(prefix->chunks.size() == 6);
    CHECK(prefix->raw_length == 6 * kChunk);
    CHECK(prefix->trailer_offset == w.info.chunks[6].offset);
  }
  SECTION("content a multiple of the chunk size: the chunk table is not a frame") {
    const auto raw = sample(6 * kChunk, 4);
    const auto w = write_container(segment_header(), raw);
    auto prefix = prefix_of(w.whole);
    REQUIRE(prefix);
    CHECK(prefix->chunks.size() == 6);
    CHECK(prefix->trailer_offset == w.info.trailer_offset);
  }
  SECTION("a full segment: no chunk past the segment end") {
    const auto raw = sample(kSegSize, 4);
    const auto w = write_container(segment_header(kChunk), raw, 100000);
    auto prefix = prefix_of(w.whole);
    REQUIRE(prefix);
    CHECK(prefix->chunks.size() == kSegSize / kChunk);
    CHECK(prefix->raw_length == kSegSize);
    CHECK(prefix->trailer_offset == w.info.trailer_offset);
  }
}

TEST_CASE("tip format: parse_container_prefix fails on an unusable header", "[format][tip-format]") {
  const auto w = write_container(segment_header(), sample(3 * kChunk));
  CHECK(prefix_of({}).error().kind == ContainerErrorKind::kTruncated);
  CHECK(prefix_of(std::span(w.unfinished).first(kContainerHeaderSize - 1)).error().kind ==
        ContainerErrorKind::kTruncated);
  auto bad_magic = w.unfinished;
  bad_magic[0] ^= std::byte{1};
  CHECK(prefix_of(bad_magic).error().kind == ContainerErrorKind::kBadMagic);
  for (std::size_t i = 16; i < kContainerHeaderSize; ++i) {
    auto bad = w.unfinished;
    bad[i] ^= std::byte{0x20};
    INFO("header byte " << i);
    CHECK_FALSE(prefix_of(bad));
  }
  // A stream container cannot be an unfinished segment.
  ContainerHeader stream;
  stream.kind = ContainerKind::kStream;
  stream.chunk_size = kChunk;
  stream.system_identifier = 1;
  stream.pg_version = 150018;
  stream.timeline = TimelineId(1);
  auto object = encode_container(stream, sample(2 * kChunk), {});
  REQUIRE(object);
  CHECK(prefix_of(*object).error().kind == ContainerErrorKind::kBadHeader);
}

// ------------------------------------------------------------------------------------------------ resume

TEST_CASE("tip format: a resumed writer fed the same bytes yields the fresh container byte for byte",
          "[format][tip-format]") {
  const auto raw = sample(10 * kChunk + 1000, 6);
  const auto w = write_container(segment_header(), raw);
  const auto fresh = encoded(raw);
  REQUIRE(w.whole == fresh);

  std::size_t adopted = 10;
  Bytes unfinished = w.unfinished;
  SECTION("whole prefix") {}
  SECTION("torn in frame 7") {
    adopted = 7;
    unfinished.resize(w.info.chunks[7].offset + 30);
  }
  SECTION("header only") {
    adopted = 0;
    unfinished.resize(kContainerHeaderSize);
  }
  auto prefix = prefix_of(unfinished);
  REQUIRE(prefix);
  REQUIRE(prefix->chunks.size() == adopted);

  Resumed r(unfinished, *prefix);
  ContainerWriter& writer = *r.writer;
  CHECK(writer.raw_length() == 0);
  CHECK(writer.pending().empty());
  CHECK(writer.adopted_end() == adopted * kChunk);
  CHECK(writer.stored_length() == prefix->trailer_offset);
  CHECK_FALSE(writer.mismatched_chunk());

  for (std::size_t pos = 0; pos < raw.size();) {
    const std::size_t n = std::min<std::size_t>(pos % 3 == 0 ? 2500 : 5300, raw.size() - pos);
    REQUIRE(writer.append(std::span(raw).subspan(pos, n)));
    pos += n;
    INFO("at " << pos);
    CHECK(writer.raw_length() == pos);
    const auto pending = writer.pending();
    CHECK(pending.size() == pos % kChunk);
    CHECK(std::equal(pending.begin(), pending.end(), raw.begin() + static_cast<std::ptrdiff_t>(pos - pending.size())));
    CHECK(writer.adopted_end() == (pos < adopted * kChunk ? adopted * kChunk : 0));
    if (pos < adopted * kChunk) {
      // Adopted chunks are checked, not emitted again.
      CHECK(r.object.size() == prefix->trailer_offset);
      CHECK(writer.stored_length() == prefix->trailer_offset);
    }
    CHECK(writer.stored_length() == r.object.size());
  }
  CHECK(r.cuts.empty());
  CHECK_FALSE(writer.mismatched_chunk());
  auto info = writer.finish(kSummary);
  REQUIRE(info);
  CHECK(r.cuts.empty());
  CHECK_SAME_BYTES(r.object, fresh);
  CHECK(info->chunks == w.info.chunks);
  CHECK(info->raw_checksum == w.info.raw_checksum);
  CHECK_SAME_BYTES(decode(r.object), raw);
}

TEST_CASE("tip format: a resumed writer given different bytes in adopted chunk k cuts there", "[format][tip-format]") {
  const auto raw = sample(10 * kChunk + 1000, 7);
  const auto w = write_container(segment_header(), raw);
  const auto prefix = *prefix_of(w.unfinished);
  REQUIRE(prefix.chunks.size() == 10);

  const uint32_t k = GENERATE(0U, 4U, 9U);
  INFO("chunk " << k);
  auto changed = raw;
  changed[k * kChunk + kChunk / 2] ^= std::byte{0x40};
  if (k + 2 < 10) changed[(k + 2) * kChunk + 10] ^= std::byte{0x40};  // a later adopted chunk differs too

  Resumed r(w.unfinished, prefix);
  ContainerWriter& writer = *r.writer;
  for (std::size_t pos = 0; pos < changed.size();) {
    const std::size_t n = std::min<std::size_t>(1500, changed.size() - pos);
    REQUIRE(writer.append(std::span(changed).subspan(pos, n)));
    pos += n;
    INFO("at " << pos);
    if (pos < (k + 1) * kChunk) {
      // The differing byte is in, but chunk k is not complete: nothing is known yet.
      CHECK(r.cuts.empty());
      CHECK_FALSE(writer.mismatched_chunk());
      CHECK(writer.adopted_end() == 10 * kChunk);
    } else {
      REQUIRE(r.cuts.size() == 1);
      CHECK(r.cuts[0] == prefix.chunks[k].offset);
      CHECK(writer.mismatched_chunk() == std::optional<uint32_t>(k));
      CHECK(writer.adopted_end() == 0);
      CHECK(writer.stored_length() == r.object.size());
    }
  }
  auto info = writer.finish(kSummary);
  REQUIRE(info);
  CHECK(r.cuts.size() == 1);
  CHECK_SAME_BYTES(decode(r.object), changed);
  CHECK_SAME_BYTES(r.object, encoded(changed));
  // The chunks before k were kept as they were.
  CHECK(std::equal(info->chunks.begin(), info->chunks.begin() + k, prefix.chunks.begin()));
}

TEST_CASE("tip format: finish() while still adopting cuts the adopted chunks the content does not reach",
          "[format][tip-format]") {
  const auto raw = sample(10 * kChunk + 1000, 8);
  const auto w = write_container(segment_header(), raw);
  const auto prefix = *prefix_of(w.unfinished);
  REQUIRE(prefix.chunks.size() == 10);

  const std::size_t length = GENERATE(std::size_t{0}, std::size_t{1}, std::size_t{5 * kChunk},
                                      std::size_t{5 * kChunk + 700}, std::size_t{10 * kChunk - 1});
  INFO("content length " << length);
  const auto shorter = first(raw, length);
  const std::size_t whole = length / kChunk;

  Resumed r(w.unfinished, prefix);
  ContainerWriter& writer = *r.writer;
  for (std::size_t pos = 0; pos < length; pos += 4000) {
    REQUIRE(writer.append(std::span(shorter).subspan(pos, std::min<std::size_t>(4000, length - pos))));
  }
  CHECK(r.cuts.empty());
  CHECK(writer.adopted_end() == 10 * kChunk);
  CHECK(writer.pending().size() == length % kChunk);
  auto info = writer.finish(kSummary);
  REQUIRE(info);
  REQUIRE(r.cuts.size() == 1);
  CHECK(r.cuts[0] == prefix.chunks[whole].offset);
  CHECK_FALSE(writer.mismatched_chunk());
  CHECK(info->raw_length == length);
  CHECK_SAME_BYTES(decode(r.object), shorter);
  CHECK_SAME_BYTES(r.object, encoded(shorter));
}

TEST_CASE("tip format: only segment containers can be resumed", "[format][tip-format]") {
  ContainerInfo prefix;
  prefix.header.kind = ContainerKind::kStream;
  prefix.header.chunk_size = kChunk;
  prefix.header.timeline = TimelineId(1);
  prefix.trailer_offset = kContainerHeaderSize;
  auto r = ContainerWriter::resume(
      prefix, [](auto) {}, [](uint64_t) {});
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == ContainerErrorKind::kInvalidArgument);

  ContainerInfo bad_chunk;
  bad_chunk.header = segment_header(100);  // not a valid chunk size
  bad_chunk.trailer_offset = kContainerHeaderSize;
  CHECK_FALSE(ContainerWriter::resume(
      bad_chunk, [](auto) {}, [](uint64_t) {}));
}

// ------------------------------------------------------------------------------------------------ tail log

namespace {

// A tail log: the header, then one frame per piece. Returns the log and the frame boundaries.
struct BuiltLog {
  Bytes bytes;
  std::vector<uint64_t> frame_offsets;
  Bytes raw;
};

BuiltLog build_tail_log(uint64_t base, const std::vector<std::size_t>& pieces, uint32_t seed = 11) {
  BuiltLog log;
  log.bytes = encode_tail_log_header(base);
  FrameEncoder encoder(kDefaultZstdLevel);
  std::size_t total = 0;
  for (const auto n : pieces) total += n;
  log.raw = sample(total, seed);
  std::size_t pos = 0;
  for (const auto n : pieces) {
    auto frame = encoder.encode(std::span(log.raw).subspan(pos, n));
    REQUIRE(frame);
    log.frame_offsets.push_back(log.bytes.size());
    log.bytes.insert(log.bytes.end(), frame->bytes.begin(), frame->bytes.end());
    pos += n;
  }
  return log;
}

Bytes decode_log(const TailLog& parsed, std::span<const std::byte> bytes) {
  Bytes out;
  ContainerReader reader;
  for (const auto& f : parsed.frames) {
    const std::size_t at = out.size();
    out.resize(at + f.raw_size);
    REQUIRE(reader.decode_frame(bytes.subspan(f.offset, kChunkFrameHeaderSize + f.stored_size),
                                std::span(out).subspan(at)));
  }
  return out;
}

}  // namespace

TEST_CASE("tip format: a tail log header round trips its base offset", "[format][tip-format]") {
  for (const uint64_t base :
       {uint64_t{0}, uint64_t{kSegmentChunkSize}, uint64_t{3} * kSegmentChunkSize, uint64_t{1} << 40}) {
    const auto header = encode_tail_log_header(base);
    REQUIRE(header.size() == kTailLogHeaderSize);
    auto log = parse_tail_log(header, kSegmentChunkSize);
    REQUIRE(log);
    CHECK(log->base_offset == base);
    CHECK(log->frames.empty());
    CHECK(log->raw_length == 0);
    CHECK(log->valid_length == kTailLogHeaderSize);
  }
  CHECK(encode_tail_log_header(1) != encode_tail_log_header(2));
}

TEST_CASE("tip format: tail log frames are parsed in order", "[format][tip-format]") {
  const auto built = build_tail_log(2 * kSegmentChunkSize, {1, 100, 8192, 30000, 5});
  auto log = parse_tail_log(built.bytes, kSegmentChunkSize);
  REQUIRE(log);
  CHECK(log->base_offset == 2 * kSegmentChunkSize);
  REQUIRE(log->frames.size() == 5);
  for (std::size_t i = 0; i < 5; ++i) CHECK(log->frames[i].offset == built.frame_offsets[i]);
  CHECK(log->frames[3].raw_size == 30000);
  CHECK(log->raw_length == built.raw.size());
  CHECK(log->valid_length == built.bytes.size());
  CHECK_SAME_BYTES(decode_log(*log, built.bytes), built.raw);
}

TEST_CASE("tip format: a torn or damaged tail log keeps its intact frames", "[format][tip-format]") {
  const std::vector<std::size_t> pieces{2000, 3000, 4000};
  const auto built = build_tail_log(kSegmentChunkSize, pieces);
  const uint64_t last = built.frame_offsets[2];

  SECTION("torn last frame, cut anywhere") {
    for (uint64_t len = last; len < built.bytes.size(); len += 3) {
      INFO("length " << len);
      auto log = parse_tail_log(std::span(built.bytes).first(len), kSegmentChunkSize);
      REQUIRE(log);
      CHECK(log->frames.size() == 2);
      CHECK(log->raw_length == 5000);
      CHECK(log->valid_length == last);
      CHECK_SAME_BYTES(decode_log(*log, built.bytes), first(built.raw, 5000));
    }
  }
  SECTION("a flipped byte in frame 1") {
    for (const uint64_t at : {built.frame_offsets[1], built.frame_offsets[1] + 20,
                              built.frame_offsets[1] + kChunkFrameHeaderSize + 3, built.frame_offsets[2] - 1}) {
      auto bad = built.bytes;
      bad[at] ^= std::byte{0x08};
      INFO("offset " << at);
      auto log = parse_tail_log(bad, kSegmentChunkSize);
      REQUIRE(log);
      CHECK(log->frames.size() == 1);
      CHECK(log->raw_length == 2000);
      CHECK(log->valid_length == built.frame_offsets[1]);
    }
  }
  SECTION("a flipped byte in frame 1's raw size or raw checksum field") {
    // Not covered by the stored checksum: decoding finds the damage, and the frame must end the log (a raw size
    // changed to another plausible value would otherwise miscount raw_length).
    for (const uint64_t at : {built.frame_offsets[1] + 5, built.frame_offsets[1] + 8, built.frame_offsets[1] + 10}) {
      auto bad = built.bytes;
      bad[at] ^= std::byte{0x08};
      INFO("offset " << at);
      auto log = parse_tail_log(bad, kSegmentChunkSize);
      REQUIRE(log);
      CHECK(log->frames.size() == 1);
      CHECK(log->valid_length == built.frame_offsets[1]);
    }
  }
  SECTION("garbage after the frames") {
    auto longer = built.bytes;
    longer.resize(longer.size() + 100, std::byte{0x5A});
    auto log = parse_tail_log(longer, kSegmentChunkSize);
    REQUIRE(log);
    CHECK(log->frames.size() == 3);
    CHECK(log->valid_length == built.bytes.size());
  }
  SECTION("a frame holding more than max_raw ends the log") {
    auto log = parse_tail_log(built.bytes, 3500);
    REQUIRE(log);
    CHECK(log->frames.size() == 2);
    CHECK(log->raw_length == 5000);
  }
}

TEST_CASE("tip format: a tail log with a bad header is an error", "[format][tip-format]") {
  const auto built = build_tail_log(kSegmentChunkSize, {1000});
  SECTION("shorter than its header") {
    for (std::size_t len = 0; len < kTailLogHeaderSize; ++len) {
      INFO("length " << len);
      CHECK(parse_tail_log(std::span(built.bytes).first(len), kSegmentChunkSize).error().kind ==
            ContainerErrorKind::kTruncated);
    }
  }
  SECTION("any flipped header byte") {
    for (std::size_t i = 0; i < kTailLogHeaderSize; ++i) {
      auto bad = built.bytes;
      bad[i] ^= std::byte{0x01};
      INFO("header byte " << i);
      CHECK_FALSE(parse_tail_log(bad, kSegmentChunkSize));
    }
    auto bad_magic = built.bytes;
    bad_magic[2] ^= std::byte{0x01};
    CHECK(parse_tail_log(bad_magic, kSegmentChunkSize).error().kind == ContainerErrorKind::kBadMagic);
    auto bad_base = built.bytes;
    bad_base[17] ^= std::byte{0x01};
    CHECK(parse_tail_log(bad_base, kSegmentChunkSize).error().kind == ContainerErrorKind::kBadHeader);
  }
  SECTION("another object kind, even with a correct checksum") {
    for (const auto kind :
         {ObjectKind::kSegment, ObjectKind::kStream, ObjectKind::kIndexRun, ObjectKind::kIndexTipLog}) {
      auto other = built.bytes;
      put_le<uint16_t>(other.data() + 10, static_cast<uint16_t>(kind));
      put_le<uint64_t>(other.data() + 24, checksum(std::span(other).first(24)));
      INFO("kind " << static_cast<int>(kind));
      CHECK(parse_tail_log(other, kSegmentChunkSize).error().kind == ContainerErrorKind::kBadMagic);
    }
  }
  SECTION("a newer format version") {
    auto newer = built.bytes;
    put_le<uint16_t>(newer.data() + 8, kFormatVersion + 1);
    put_le<uint64_t>(newer.data() + 24, checksum(std::span(newer).first(24)));
    CHECK(parse_tail_log(newer, kSegmentChunkSize).error().kind == ContainerErrorKind::kUnsupportedVersion);
  }
  SECTION("a segment container is not a tail log") {
    auto object = encoded(sample(2 * kChunk));
    CHECK_FALSE(parse_tail_log(object, kSegmentChunkSize));
  }
}
