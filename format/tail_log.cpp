#include "format/tail_log.hpp"

#include <cstring>

#include "format/checksum.hpp"
#include "format/endian.hpp"

namespace walvault::format {
namespace {

ContainerError header_error(ContainerErrorKind kind, std::string message) {
  ContainerError e;
  e.kind = kind;
  e.message = std::move(message);
  return e;
}

}  // namespace

std::vector<std::byte> encode_tail_log_header(uint64_t base_offset) {
  std::vector<std::byte> out(kTailLogHeaderSize);
  std::byte* p = out.data();
  std::memcpy(p, kMagic.data(), kMagic.size());
  put_le<uint16_t>(p + 8, kFormatVersion);
  put_le<uint16_t>(p + 10, static_cast<uint16_t>(ObjectKind::kTailLog));
  put_le<uint32_t>(p + 12, 0);
  put_le<uint64_t>(p + 16, base_offset);
  put_le<uint64_t>(p + 24, checksum(std::span(out).first(24)));
  return out;
}

ContainerResult<TailLog> parse_tail_log(std::span<const std::byte> bytes, uint32_t max_raw) {
  if (bytes.size() < kTailLogHeaderSize) {
    return Unexpected(header_error(ContainerErrorKind::kTruncated, "tail log shorter than its header"));
  }
  const std::byte* p = bytes.data();
  if (!has_magic(p, kMagic) || get_le<uint16_t>(p + 10) != static_cast<uint16_t>(ObjectKind::kTailLog)) {
    return Unexpected(header_error(ContainerErrorKind::kBadMagic, "not a walvault tail log"));
  }
  if (get_le<uint16_t>(p + 8) != kFormatVersion) {
    return Unexpected(header_error(ContainerErrorKind::kUnsupportedVersion, "tail log format version not supported"));
  }
  if (checksum(bytes.first(24)) != get_le<uint64_t>(p + 24) || get_le<uint32_t>(p + 12) != 0) {
    return Unexpected(header_error(ContainerErrorKind::kBadHeader, "tail log header checksum mismatch"));
  }
  TailLog log;
  log.base_offset = get_le<uint64_t>(p + 16);
  uint64_t offset = kTailLogHeaderSize;
  ContainerReader reader;
  while (true) {
    const auto entry = parse_frame_header(bytes.subspan(offset), offset, max_raw);
    if (!entry || bytes.size() - offset - kChunkFrameHeaderSize < entry->stored_size) break;
    log.raw.resize(log.raw_length + entry->raw_size);
    if (!reader.decode_frame(bytes.subspan(offset, kChunkFrameHeaderSize + entry->stored_size),
                             std::span(log.raw).subspan(log.raw_length))) {
      log.raw.resize(log.raw_length);
      break;
    }
    log.frames.push_back(*entry);
    log.raw_length += entry->raw_size;
    offset += kChunkFrameHeaderSize + entry->stored_size;
  }
  log.valid_length = offset;
  return log;
}

}  // namespace walvault::format
