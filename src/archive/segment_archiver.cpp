#include "archive/segment_archiver.hpp"

#include "common/error.hpp"

namespace walvault::archive {
namespace {

[[noreturn]] void writer_bug(const format::ContainerError& e) {
  throw Error(ErrorCode::kInternal, "segment container writer rejected the segment: " + e.message);
}

}  // namespace

SegmentArchiver::SegmentArchiver(storage::Storage& storage, const SegmentIdentity& s, int zstd_level)
    : name_(format::segment_object_name(s.timeline, s.segno, s.segment_size)) {
  if (storage.info(name_)) return;

  format::ContainerHeader header;
  header.kind = format::ContainerKind::kSegment;
  header.chunk_size = format::kSegmentChunkSize;
  header.zstd_level = zstd_level;
  header.system_identifier = s.system_identifier;
  header.pg_version = static_cast<uint32_t>(s.pg_version);
  header.timeline = s.timeline;
  header.segment_no = s.segno;
  header.segment_size = s.segment_size;
  header.start_lsn = wal::segment_start(s.segno, s.segment_size);

  out_ = storage.open_writer(name_);
  auto writer = format::ContainerWriter::create(
      header, [out = out_.get()](std::span<const std::byte> bytes) { out->write(bytes); },
      format::WriterOptions{zstd_level});
  if (!writer) writer_bug(writer.error());
  writer_.emplace(std::move(*writer));
}

void SegmentArchiver::append(std::span<const std::byte> bytes) {
  if (!writer_) return;
  if (auto r = writer_->append(bytes); !r) writer_bug(r.error());
}

std::string SegmentArchiver::finish(const format::ContainerSummary& summary) {
  if (writer_) {
    if (auto info = writer_->finish(summary); !info) writer_bug(info.error());
    out_->commit();
    writer_.reset();
  }
  return name_;
}

}  // namespace walvault::archive
