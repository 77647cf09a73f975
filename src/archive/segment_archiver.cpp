#include "archive/segment_archiver.hpp"

#include <algorithm>

#include "common/error.hpp"

namespace walvault::archive {
namespace {

constexpr uint64_t kReadSize = format::kSegmentChunkSize;  // one container chunk at a time

[[noreturn]] void writer_bug(const format::ContainerError& e) {
  throw Error(ErrorCode::kInternal, "segment container writer rejected the segment: " + e.message);
}

}  // namespace

std::string archive_tip(storage::Storage& storage, const SegmentToArchive& s, const format::ContainerSummary& summary) {
  const std::string name = format::segment_object_name(s.timeline, s.segno, s.segment_size);
  if (storage.info(name)) return name;

  format::ContainerHeader header;
  header.kind = format::ContainerKind::kSegment;
  header.chunk_size = format::kSegmentChunkSize;
  header.system_identifier = s.system_identifier;
  header.pg_version = static_cast<uint32_t>(s.pg_version);
  header.timeline = s.timeline;
  header.segment_no = s.segno;
  header.segment_size = s.segment_size;
  header.start_lsn = wal::segment_start(s.segno, s.segment_size);

  const auto out = storage.open_writer(name);
  auto writer = format::ContainerWriter::create(header, [&](std::span<const std::byte> bytes) { out->write(bytes); });
  if (!writer) writer_bug(writer.error());
  for (uint64_t offset = 0; offset < s.length; offset += kReadSize) {
    const storage::Bytes raw = storage.read_range(s.tip_object, offset, std::min(kReadSize, s.length - offset));
    if (raw.size() != std::min(kReadSize, s.length - offset)) {
      throw Error(ErrorCode::kCorrupt, "in-progress segment " + s.tip_object + " is shorter than its durable length",
                  "restart 'walvault stream': it fetches the segment again from the replication slot");
    }
    if (auto r = writer->append(raw); !r) writer_bug(r.error());
  }
  if (auto info = writer->finish(summary); !info) writer_bug(info.error());
  out->commit();
  return name;
}

}  // namespace walvault::archive
