#include "wal/decoder.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

namespace walvault::wal {
namespace {

constexpr uint8_t kRmXlog = 0;
constexpr uint8_t kXlogSwitch = 0x40;
constexpr uint8_t kMaxBuiltinRmid = 21;
constexpr uint8_t kMinCustomRmid = 128;
constexpr size_t kReleaseThreshold = 1U << 20;

constexpr uint64_t maxalign(uint64_t v) { return (v + 7) & ~uint64_t{7}; }

template <typename T>
T load(const std::byte* p) {
  T value;
  std::memcpy(&value, p, sizeof value);
  return value;
}

uint32_t page_left(Lsn pos) { return kWalPageSize - static_cast<uint32_t>(pos.value() % kWalPageSize); }

}  // namespace

StreamDecoder::StreamDecoder(DecoderConfig config, Lsn start)
    : config_(config),
      pos_(start),
      phase_(start.value() % kWalPageSize == 0 ? Phase::kSkipContinuation : Phase::kStart),
      input_lsn_(start),
      system_identifier_(config.system_identifier) {}

Step StreamDecoder::stop(Status status, ProblemKind kind, Lsn at, std::string message) {
  problem_ = Problem{kind, at, std::move(message)};
  terminal_ = Step{status, nullptr, &problem_};
  return *terminal_;
}

void StreamDecoder::feed(Lsn start, std::span<const std::byte> bytes) {
  if (terminal_ || pending_error_) return;
  if (available() != 0) {
    pending_error_ = Problem{ProblemKind::kContract, pos_, "wal fed before the previous bytes were consumed"};
    return;
  }
  if (start > pos_) {
    pending_error_ = Problem{ProblemKind::kContract, pos_,
                             "gap in wal: wanted " + pos_.to_string() + ", got bytes from " + start.to_string()};
    return;
  }
  input_ = bytes;
  input_lsn_ = start;
  input_off_ = 0;
}

bool StreamDecoder::sync_input() {
  const Lsn at = input_lsn_ + input_off_;
  if (at >= pos_) return true;
  const uint64_t skip = std::min<uint64_t>(pos_ - at, available());
  input_off_ += static_cast<size_t>(skip);
  return input_lsn_ + input_off_ == pos_;
}

bool StreamDecoder::check_page(const PageHeader& h, Lsn page, Step& step) {
  if (!format_) {
    format_ = wal_format_for_magic(h.magic);
    if (format_ && config_.pg_major && format_->pg_major != *config_.pg_major) {
      step = stop(Status::kError, ProblemKind::kForeignWal, page,
                  "wal of PostgreSQL " + std::to_string(format_->pg_major) + " where PostgreSQL " +
                      std::to_string(*config_.pg_major) + " wal was expected");
      return false;
    }
  } else if (format_->magic != h.magic) {
    step = stop(Status::kError, ProblemKind::kForeignWal, page, "wal page magic changed within the wal");
    return false;
  }
  const bool segment_start = segment_offset(page, config_.segment_size) == 0;
  if (segment_start != h.is_long()) {
    step = stop(Status::kEndOfWal, ProblemKind::kInvalidPage, page,
                segment_start ? "missing long header on the first page of a segment" : "unexpected long page header");
    return false;
  }
  if (h.page_address != page) {
    step = stop(Status::kEndOfWal, ProblemKind::kRecycled, page,
                "unexpected page address " + h.page_address.to_string() + " in page at " + page.to_string());
    return false;
  }
  if (h.is_long()) {
    if (h.segment_size != config_.segment_size) {
      step = stop(Status::kError, ProblemKind::kForeignWal, page,
                  "wal segment size " + std::to_string(h.segment_size) + " differs from the expected " +
                      std::to_string(config_.segment_size));
      return false;
    }
    if (system_identifier_ && *system_identifier_ != h.system_identifier) {
      step = stop(Status::kError, ProblemKind::kForeignWal, page,
                  "wal belongs to system " + std::to_string(h.system_identifier) + ", not " +
                      std::to_string(*system_identifier_));
      return false;
    }
    system_identifier_ = h.system_identifier;
  }
  if (h.timeline < timeline_) {
    step = stop(Status::kEndOfWal, ProblemKind::kInvalidPage, page,
                "out-of-sequence timeline " + std::to_string(h.timeline.value()) + " in page at " + page.to_string());
    return false;
  }
  timeline_ = h.timeline;
  page_info_ = h.info;
  page_rem_len_ = h.rem_len;
  return true;
}

// Reads and checks the header of the page starting at pos_, possibly across feeds. Returns false with step set
// when the caller must return step (need more, end, error).
bool StreamDecoder::read_page_header(Step& step) {
  if (!in_page_header_) {
    if (available() == 0) {
      step = Step{Status::kNeedMore};
      return false;
    }
    in_page_header_ = true;
    header_page_ = pos_;
    header_have_ = 0;
  }
  const size_t want = segment_offset(header_page_, config_.segment_size) == 0 ? kLongPageHeaderSize
                                                                             : kShortPageHeaderSize;
  std::span<const std::byte> bytes;
  if (header_have_ == 0 && available() >= want) {
    bytes = std::span<const std::byte>(cursor(), want);
    consume(want);
  } else {
    const size_t n = std::min(want - header_have_, available());
    std::memcpy(header_buf_.data() + header_have_, cursor(), n);
    header_have_ += n;
    consume(n);
    if (header_have_ < want) {
      step = Step{Status::kNeedMore};
      return false;
    }
    bytes = std::span<const std::byte>(header_buf_.data(), want);
  }
  in_page_header_ = false;
  auto parsed = parse_page_header(bytes);
  if (!parsed) {
    const auto& e = parsed.error();
    switch (e.kind) {
      case PageErrorKind::kZeroed:
        step = stop(Status::kEndOfWal, ProblemKind::kZeroed, header_page_, e.message);
        break;
      case PageErrorKind::kUnknownMagic:
        step = stop(Status::kError, ProblemKind::kUnknownMagic, header_page_, e.message);
        break;
      case PageErrorKind::kInvalidLongHeader:
        step = stop(Status::kError, ProblemKind::kForeignWal, header_page_, e.message);
        break;
      case PageErrorKind::kTooShort:
      case PageErrorKind::kInvalidFlags:
        step = stop(Status::kEndOfWal, ProblemKind::kInvalidPage, header_page_, e.message);
        break;
    }
    return false;
  }
  if (!check_page(*parsed, header_page_, step)) return false;
  checked_page_ = header_page_;
  return true;
}

bool StreamDecoder::check_length(uint32_t tot_len, Lsn at, Step& step) {
  if (tot_len == 0) {
    step = stop(Status::kEndOfWal, ProblemKind::kZeroed, at, "zero-length record at " + at.to_string());
    return false;
  }
  if (tot_len < kRecordHeaderSize || tot_len > config_.max_record_size) {
    step = stop(Status::kEndOfWal, ProblemKind::kInvalidRecord, at,
                "invalid record length " + std::to_string(tot_len) + " at " + at.to_string());
    return false;
  }
  return true;
}

bool StreamDecoder::check_record_header(std::span<const std::byte> header, Lsn at, Step& step) {
  if (!check_length(load<uint32_t>(header.data()), at, step)) return false;
  const auto rmid = static_cast<uint8_t>(header[17]);
  if (rmid > kMaxBuiltinRmid && rmid < kMinCustomRmid) {
    step = stop(Status::kEndOfWal, ProblemKind::kInvalidRecord, at,
                "invalid resource manager id " + std::to_string(rmid) + " at " + at.to_string());
    return false;
  }
  const Lsn prev(load<uint64_t>(header.data() + 8));
  const bool prev_ok = first_record_ ? prev < at : prev == prev_record_;
  if (!prev_ok) {
    step = stop(Status::kEndOfWal, ProblemKind::kInvalidRecord, at,
                "record with incorrect prev-link " + prev.to_string() + " at " + at.to_string());
    return false;
  }
  return true;
}

Step StreamDecoder::emit(std::span<const std::byte> bytes, Lsn at, Lsn end) {
  Record& r = record_;
  r.lsn = at;
  r.end_lsn = end;
  r.bytes = bytes;
  r.tot_len = load<uint32_t>(bytes.data());
  r.xid = load<uint32_t>(bytes.data() + 4);
  r.prev = Lsn(load<uint64_t>(bytes.data() + 8));
  r.info = static_cast<uint8_t>(bytes[16]);
  r.rmid = static_cast<uint8_t>(bytes[17]);
  r.crc = load<uint32_t>(bytes.data() + 20);
  if (record_crc(bytes) != r.crc) {
    return stop(Status::kEndOfWal, ProblemKind::kBadCrc, at, "incorrect resource manager data checksum in record at " +
                                                                  at.to_string());
  }
  if (!decode_record(r, blocks_)) {
    return stop(Status::kEndOfWal, ProblemKind::kInvalidRecord, at, "invalid record layout at " + at.to_string());
  }
  first_record_ = false;
  prev_record_ = at;
  pos_ = Lsn(maxalign(end.value()));
  if (r.rmid == kRmXlog && r.opcode() == kXlogSwitch) {
    // The rest of the segment is zeros (XLogReadRecord: the switch record "ends" at the segment boundary).
    const uint64_t seg = config_.segment_size;
    pos_ = Lsn((end.value() + seg - 1) / seg * seg);
    r.end_lsn = pos_;
  }
  phase_ = Phase::kStart;
  return Step{Status::kRecord, &record_, nullptr};
}

Step StreamDecoder::next() {
  if (terminal_) return *terminal_;
  if (pending_error_) {
    Problem p = std::move(*pending_error_);
    pending_error_.reset();
    return stop(Status::kError, p.kind, p.lsn, std::move(p.message));
  }
  if (release_buffer_) {
    std::vector<std::byte>().swap(rec_buf_);
    release_buffer_ = false;
  }
  Step step;
  for (;;) {
    if (!sync_input()) return Step{Status::kNeedMore};
    if (in_page_header_ || (pos_.value() % kWalPageSize == 0 && checked_page_ != pos_)) {
      if (!read_page_header(step)) return step;
      const bool cont = (page_info_ & kXlpFirstIsContrecord) != 0;
      if (phase_ == Phase::kSkipContinuation) {
        if (!cont) {
          phase_ = Phase::kStart;
        } else {
          skip_left_ = page_rem_len_;
        }
      } else if (phase_ == Phase::kAssemble) {
        if (!cont && (page_info_ & kXlpFirstIsOverwriteContrecord) != 0) {
          // The partial record was abandoned after a crash; the page starts afresh (XLOG_OVERWRITE_CONTRECORD).
          phase_ = Phase::kStart;
          first_record_ = true;
        } else if (!cont || page_rem_len_ == 0 || page_rem_len_ != rec_tot_len_ - rec_have_) {
          return stop(Status::kEndOfWal, ProblemKind::kInvalidPage, header_page_,
                      "missing or wrong continuation of record at " + rec_lsn_.to_string() + " in page at " +
                          header_page_.to_string());
        }
      } else if (cont) {
        return stop(Status::kEndOfWal, ProblemKind::kInvalidPage, header_page_,
                    "unexpected continuation data in page at " + header_page_.to_string());
      }
      continue;
    }
    switch (phase_) {
      case Phase::kSkipContinuation: {
        const uint32_t n = std::min(skip_left_, page_left(pos_));
        skip_left_ -= n;
        pos_ = pos_ + n;
        if (skip_left_ == 0) {
          pos_ = Lsn(maxalign(pos_.value()));
          phase_ = Phase::kStart;
        }
        continue;
      }
      case Phase::kStart: {
        if (available() == 0) return Step{Status::kNeedMore};
        const uint32_t left = page_left(pos_);
        if (available() >= kRecordHeaderSize && left >= kRecordHeaderSize) {
          const auto header = std::span<const std::byte>(cursor(), kRecordHeaderSize);
          if (!check_record_header(header, pos_, step)) return step;
          const uint32_t tot_len = load<uint32_t>(header.data());
          if (tot_len <= left && tot_len <= available()) {
            const Lsn at = pos_;
            const auto bytes = std::span<const std::byte>(cursor(), tot_len);
            consume(tot_len);
            return emit(bytes, at, pos_);
          }
        }
        phase_ = Phase::kAssemble;
        rec_lsn_ = pos_;
        rec_have_ = 0;
        rec_tot_len_ = 0;
        rec_header_ok_ = false;
        if (rec_buf_.size() < kRecordHeaderSize) rec_buf_.resize(kRecordHeaderSize);
        continue;
      }
      case Phase::kAssemble: {
        const size_t need = (rec_header_ok_ ? rec_tot_len_ : kRecordHeaderSize) - rec_have_;
        const size_t n = std::min<size_t>({need, page_left(pos_), available()});
        if (n == 0) {
          if (available() == 0) return Step{Status::kNeedMore};
          continue;  // at a page end: the next page header comes first
        }
        std::memcpy(rec_buf_.data() + rec_have_, cursor(), n);
        consume(n);
        const bool had_length = rec_have_ >= 4;
        rec_have_ += n;
        if (!had_length && rec_have_ >= 4) {
          rec_tot_len_ = load<uint32_t>(rec_buf_.data());
          if (!check_length(rec_tot_len_, rec_lsn_, step)) return step;
        }
        if (!rec_header_ok_ && rec_have_ == kRecordHeaderSize) {
          if (!check_record_header(std::span<const std::byte>(rec_buf_.data(), kRecordHeaderSize), rec_lsn_, step)) {
            return step;
          }
          rec_header_ok_ = true;
          if (rec_buf_.size() < rec_tot_len_) rec_buf_.resize(rec_tot_len_);
        }
        if (rec_header_ok_ && rec_have_ == rec_tot_len_) {
          release_buffer_ = rec_buf_.size() > kReleaseThreshold;
          return emit(std::span<const std::byte>(rec_buf_.data(), rec_tot_len_), rec_lsn_, pos_);
        }
        continue;
      }
    }
  }
}

Step StreamDecoder::end_of_input() {
  if (terminal_) return *terminal_;
  if (phase_ == Phase::kAssemble || in_page_header_) {
    const Lsn at = phase_ == Phase::kAssemble ? rec_lsn_ : header_page_;
    return stop(Status::kEndOfWal, ProblemKind::kIncomplete, at,
                "record at " + at.to_string() + " continues past the end of the available wal");
  }
  return stop(Status::kEndOfWal, ProblemKind::kEndOfSource, pos_, "end of available wal at " + pos_.to_string());
}

Step Reader::next() {
  for (;;) {
    const Step step = decoder_.next();
    if (step.status != Status::kNeedMore) return step;
    const SourceRead read = source_.read(decoder_.wanted());
    switch (read.kind) {
      case SourceRead::Kind::kData:
        if (read.bytes.empty() || read.start + read.bytes.size() <= decoder_.wanted()) {
          return decoder_.end_of_input();
        }
        decoder_.feed(read.start, read.bytes);
        break;
      case SourceRead::Kind::kWouldBlock:
        return step;
      case SourceRead::Kind::kEnd:
        return decoder_.end_of_input();
    }
  }
}

SourceRead BufferSource::read(Lsn wanted) {
  if (wanted < start_ || wanted - start_ >= bytes_.size()) return SourceRead{SourceRead::Kind::kEnd, {}, {}};
  const uint64_t off = wanted - start_;
  return SourceRead{SourceRead::Kind::kData, wanted, bytes_.subspan(static_cast<size_t>(off))};
}

}  // namespace walvault::wal
