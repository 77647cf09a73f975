// Fuzz target: the segment/stream container reader, and the readers of the streamer's tip (an unfinished
// container's prefix and a tail log). Any input must give a value or a ContainerError, never a crash, and
// whatever parses must also survive chunk-by-chunk decoding.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "format/segment_container.hpp"
#include "format/tail_log.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace walvault::format;
  const std::span<const std::byte> object(reinterpret_cast<const std::byte*>(data), size);
  ContainerReader reader;
  (void)reader.read(object);
  (void)parse_tail_log(object, kSegmentChunkSize);
  (void)parse_container_prefix(ranges_of(object));
  auto info = parse_container(object);
  if (!info) return 0;
  for (uint32_t i = 0; i < info->chunks.size(); ++i) {
    const ChunkEntry& e = info->chunks[i];
    std::vector<std::byte> out(e.raw_size);
    (void)reader.decode_chunk(*info, i, object.subspan(e.offset, kChunkFrameHeaderSize + e.stored_size), out);
  }
  return 0;
}
