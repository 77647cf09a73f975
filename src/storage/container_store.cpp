#include "storage/container_store.hpp"

#include <algorithm>

namespace walvault::storage {

format::ContainerResult<format::ContainerInfo> read_container_info(const Storage& storage, const std::string& object,
                                                                   uint64_t size, std::span<const std::byte> tail) {
  const auto header = format::parse_header(storage.read_range(object, 0, format::kContainerHeaderSize));
  if (!header) return Unexpected(header.error());
  const uint64_t footer_size = std::min<uint64_t>(size, format::kContainerFooterSize);
  Bytes read_tail;
  if (tail.size() < footer_size) {
    read_tail = storage.read_range(object, size - footer_size, footer_size);
    tail = read_tail;
  }
  const auto footer = format::parse_footer(tail.subspan(tail.size() - footer_size), size);
  if (!footer) return Unexpected(footer.error());
  return format::parse_trailer(*header, *footer,
                               storage.read_range(object, footer->trailer_offset, footer->trailer_size()));
}

Bytes read_chunk_frame(const Storage& storage, const std::string& object, const format::ChunkEntry& chunk) {
  return storage.read_range(object, chunk.offset, format::kChunkFrameHeaderSize + chunk.stored_size);
}

}  // namespace walvault::storage
