#include "archive/tip.hpp"

#include <algorithm>
#include <functional>

#include "common/error.hpp"
#include "format/tail_log.hpp"

namespace walvault::archive {
namespace {

[[noreturn]] void writer_bug(const std::string& name, const format::ContainerError& e) {
  throw Error(ErrorCode::kInternal, "the container writer of " + name + " failed: " + e.message);
}

format::ContainerHeader header_of(const SegmentIdentity& s, int zstd_level) {
  format::ContainerHeader h;
  h.kind = format::ContainerKind::kSegment;
  h.chunk_size = format::kSegmentChunkSize;
  h.zstd_level = zstd_level;
  h.system_identifier = s.system_identifier;
  h.pg_version = static_cast<uint32_t>(s.pg_version);
  h.timeline = s.timeline;
  h.segment_no = s.segno;
  h.segment_size = s.segment_size;
  h.start_lsn = wal::segment_start(s.segno, s.segment_size);
  return h;
}

// The intact prefix of the unfinished container `name`, if its header is usable; on_chunk gets its raw chunks.
format::ContainerResult<format::ContainerInfo> read_prefix(
    const storage::Storage& storage, const std::string& name,
    const std::function<void(std::span<const std::byte>)>& on_chunk = {}) {
  return format::parse_container_prefix(storage::range_reader(storage, name), on_chunk);
}

// The tail log `name` if it continues a container prefix ending at base and fits the segment.
std::optional<format::TailLog> read_tail(const storage::Storage& storage, const std::string& name, uint64_t base,
                                         uint64_t room) {
  if (!storage.info(name)) return std::nullopt;
  auto log = format::parse_tail_log(storage.read(name), format::kSegmentChunkSize);
  if (!log || log->base_offset != base || log->raw_length > room) return std::nullopt;
  return std::move(*log);
}

}  // namespace

std::string tip_object_name(wal::TimelineId timeline, wal::SegmentNo segno, uint32_t segment_size) {
  return "tip/" + wal::segment_file_name(timeline, segno, segment_size) + ".partial";
}

std::string tail_object_name(wal::TimelineId timeline, wal::SegmentNo segno, uint32_t segment_size) {
  return "tip/" + wal::segment_file_name(timeline, segno, segment_size) + ".tail";
}

std::optional<std::vector<std::byte>> read_tip(const storage::Storage& storage, wal::TimelineId timeline,
                                               wal::SegmentNo segno, uint32_t segment_size) {
  const std::string name = tip_object_name(timeline, segno, segment_size);
  try {
    std::vector<std::byte> raw;
    const auto prefix = read_prefix(
        storage, name, [&raw](std::span<const std::byte> chunk) { raw.insert(raw.end(), chunk.begin(), chunk.end()); });
    if (!prefix) return std::nullopt;  // absent, or created an instant ago: no WAL yet
    if (auto tail = read_tail(storage, tail_object_name(timeline, segno, segment_size), raw.size(),
                              segment_size - raw.size())) {
      raw.insert(raw.end(), tail->raw.begin(), tail->raw.end());
    }
    return raw;
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kNotFound) return std::nullopt;  // archived meanwhile
    throw;
  }
}

Tip::Tip(storage::Storage& storage, const SegmentIdentity& segment, int zstd_level)
    : storage_(storage),
      timeline_(segment.timeline),
      segno_(segment.segno),
      segment_size_(segment.segment_size),
      name_(tip_object_name(segment.timeline, segment.segno, segment.segment_size)),
      tail_name_(tail_object_name(segment.timeline, segment.segno, segment.segment_size)),
      file_(storage.open_append(name_)) {
  const format::ContainerHeader header = header_of(segment, zstd_level);
  const auto sink = [this](std::span<const std::byte> bytes) {
    file_->append(bytes);
    file_dirty_ = true;
  };
  const auto cut = [this](uint64_t offset) {
    file_->truncate(offset);
    file_dirty_ = true;
  };
  auto prefix = read_prefix(storage_, name_);
  const bool adoptable = prefix && prefix->header.system_identifier == header.system_identifier &&
                         prefix->header.timeline == header.timeline && prefix->header.segment_no == header.segment_no &&
                         prefix->header.segment_size == header.segment_size &&
                         prefix->header.start_lsn == header.start_lsn && prefix->header.chunk_size == header.chunk_size;
  file_->truncate(adoptable ? prefix->trailer_offset : 0);  // torn or damaged bytes after the whole chunks go
  auto writer = adoptable ? format::ContainerWriter::resume(*prefix, sink, cut, {zstd_level})
                          : format::ContainerWriter::create(header, sink, {zstd_level});
  if (!writer) writer_bug(name_, writer.error());
  writer_.emplace(std::move(*writer));
  if (adoptable) adopt_tail(prefix->raw_length);
  if (!tail_base_) storage_.remove(tail_name_);
  if (adoptable) adopted_ = static_cast<uint32_t>(tail_base_ ? tail_end_ : prefix->raw_length);
  // What a killed process wrote may still be only in the page cache: make everything adopted durable.
  file_->sync();
  file_dirty_ = false;
}

void Tip::adopt_tail(uint64_t base) {
  auto log = read_tail(storage_, tail_name_, base, segment_size_ - base);
  if (!log || log->raw.empty()) return;
  tail_ = storage_.open_append(tail_name_);
  tail_->truncate(log->valid_length);
  tail_->sync();
  tail_base_ = base;
  tail_end_ = base + log->raw.size();
  held_tail_ = std::move(log->raw);
}

void Tip::start_tail(uint64_t base) {
  if (!tail_) tail_ = storage_.open_append(tail_name_);
  tail_->truncate(0);
  tail_->append(format::encode_tail_log_header(base));
  tail_base_ = base;
  tail_end_ = base;
}

void Tip::drop_tail() {
  tail_base_.reset();
  std::vector<std::byte>().swap(held_tail_);
  if (tail_) {
    tail_->truncate(0);  // too short to be a log: it can never be taken to continue the container
    tail_dirty_ = true;
  }
}

bool Tip::write(uint32_t offset, std::span<const std::byte> bytes) {
  if (offset != written_ || bytes.size() > segment_size_ - offset) {
    throw Error(ErrorCode::kInternal, "tip write at offset " + std::to_string(offset) + " of " + name_ +
                                          " would leave a hole or overflow the segment");
  }
  bool same = true;
  if (!held_tail_.empty()) {
    // Bytes the adopted tail log held: they must arrive again unchanged.
    const uint64_t from = std::max<uint64_t>(offset, *tail_base_);
    const uint64_t to = std::min<uint64_t>(offset + bytes.size(), *tail_base_ + held_tail_.size());
    if (from < to && !std::equal(bytes.begin() + static_cast<std::ptrdiff_t>(from - offset),
                                 bytes.begin() + static_cast<std::ptrdiff_t>(to - offset),
                                 held_tail_.begin() + static_cast<std::ptrdiff_t>(from - *tail_base_))) {
      same = false;
      drop_tail();
    } else if (to == *tail_base_ + held_tail_.size()) {
      std::vector<std::byte>().swap(held_tail_);  // all arrived again: free it
    }
  }
  const auto mismatched = writer_->mismatched_chunk();
  if (auto r = writer_->append(bytes); !r) writer_bug(name_, r.error());
  if (writer_->mismatched_chunk() != mismatched) {
    same = false;
    drop_tail();  // it continued the chunks that were cut off
  }
  written_ = static_cast<uint32_t>(offset + bytes.size());
  if (!same) adopted_ = 0;  // what it held past the difference is being replaced: only synced bytes count now
  return same;
}

void Tip::sync() {
  if (file_dirty_) {
    file_->sync();
    file_dirty_ = false;
  }
  if (tail_dirty_) {
    tail_->sync();
    tail_dirty_ = false;
  }
  const auto pending = writer_->pending();
  const uint64_t chunk_start = writer_->raw_length() - pending.size();
  if (writer_->adopted_end() > chunk_start) {
    synced_ = static_cast<uint32_t>(chunk_start);  // the rest of this adopted chunk is not checked yet
    return;
  }
  if (written_ > chunk_start) {
    if (tail_base_ != chunk_start) start_tail(chunk_start);
    if (written_ > tail_end_) {
      auto frame = writer_->encoder().encode(pending.subspan(tail_end_ - chunk_start));
      if (!frame) writer_bug(name_, frame.error());
      tail_->append(frame->bytes);
      tail_->sync();
      tail_end_ = written_;
    }
  }
  synced_ = written_;
}

std::string Tip::archive(const format::ContainerSummary& summary) {
  if (auto info = writer_->finish(summary); !info) writer_bug(name_, info.error());
  file_->sync();
  const std::string container = format::segment_object_name(timeline_, segno_, segment_size_);
  storage_.publish_append(name_, container);  // while open: a store that holds its content need not read it back
  file_.reset();
  tail_.reset();
  storage_.remove(tail_name_);
  return container;
}

}  // namespace walvault::archive
