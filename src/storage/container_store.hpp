// Reading chunked containers (format/segment_container.hpp: WAL segments and backup streams) through Storage,
// range by range, so no reader ever loads a whole object.
//
// read_container_info() reads the header, the footer and the trailer and returns what format's parsers make of
// them (a ContainerError value for a damaged object). A caller that already holds the object's last bytes
// (at least the footer) passes them as `tail` to save a read. read_chunk_frame() reads one chunk's frame, ready
// for ContainerReader::decode_chunk. Storage errors (kNotFound, kIo) are thrown as walvault::Error.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "format/segment_container.hpp"
#include "storage/storage.hpp"

namespace walvault::storage {

[[nodiscard]] format::ContainerResult<format::ContainerInfo> read_container_info(
    const Storage& storage, const std::string& object, uint64_t size, std::span<const std::byte> tail = {});

[[nodiscard]] Bytes read_chunk_frame(const Storage& storage, const std::string& object,
                                     const format::ChunkEntry& chunk);

}  // namespace walvault::storage
