// The tail log (FORMAT.md, "Streamer objects", `tip/<segment>.tail`, kind 5): the raw bytes of the streamer's
// in-progress segment past the whole chunks of its unfinished container, made durable between chunk completions.
//
// A header naming the raw offset in the segment where the log starts (the end of the container's whole chunks
// when the log was begun), then chunk frames (format/segment_container.hpp) back to back, each holding the next
// raw bytes. The log is appended to and synced; a crash may tear its last frame, so readers take the longest
// prefix of intact frames. Pure encode/decode: no IO.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "format/segment_container.hpp"

namespace walvault::format {

inline constexpr uint32_t kTailLogHeaderSize = 32;

[[nodiscard]] std::vector<std::byte> encode_tail_log_header(uint64_t base_offset);

struct TailLog {
  uint64_t base_offset = 0;        // raw offset in the segment of the log's first byte
  std::vector<ChunkEntry> frames;  // intact frames, offsets in the log
  uint64_t raw_length = 0;         // raw bytes they hold: the log covers [base_offset, base_offset + raw_length)
  uint64_t valid_length = kTailLogHeaderSize;  // bytes of the log they take, header included
  std::vector<std::byte> raw;                  // the raw bytes they hold
};

// The header (kTruncated when the log is shorter, kBadMagic/kUnsupportedVersion/kBadHeader when it is damaged),
// then the longest prefix of frames holding at most max_raw raw bytes each that decode and match both checksums.
[[nodiscard]] ContainerResult<TailLog> parse_tail_log(std::span<const std::byte> bytes, uint32_t max_raw);

}  // namespace walvault::format
