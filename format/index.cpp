#include "format/index.hpp"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "format/checksum.hpp"

namespace walvault::format {
namespace {

constexpr uint32_t kTipCommit = 1;
constexpr uint32_t kTipEvent = 2;
constexpr uint32_t kTipRecordOverhead = 16;  // u32 size, u32 type, u64 checksum
constexpr uint32_t kEventFixedSize = 48;
constexpr uint32_t kMaxTipPayload = 16U << 20;
constexpr uint64_t kMaxEventsSection = 1ULL << 30;

Unexpected<IndexError> fail(IndexErrorKind kind, std::string message) {
  return Unexpected(IndexError{kind, std::move(message)});
}
Unexpected<IndexError> corrupt(std::string message) { return fail(IndexErrorKind::kCorrupt, std::move(message)); }

std::string hex_upper(uint64_t v, int digits) {
  std::string out(static_cast<std::size_t>(digits), '0');
  for (int i = digits - 1; i >= 0; --i, v >>= 4) out[static_cast<std::size_t>(i)] = "0123456789ABCDEF"[v & 0xF];
  return out;
}

std::optional<uint64_t> parse_hex(std::string_view text) {
  if (text.empty() || text.size() > 16) return std::nullopt;
  uint64_t v = 0;
  for (const char c : text) {
    int d = 0;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      return std::nullopt;
    }
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  return v;
}

void put_commit(Appender& a, const CommitEntry& c, TimestampTz max_time) {
  a.put<uint64_t>(c.lsn.value());
  a.put<uint64_t>(c.end_lsn.value());
  a.put<int64_t>(c.time);
  a.put<int64_t>(max_time);
  a.put<uint32_t>(c.xid);
  a.put<uint32_t>(c.aborted ? 1U : 0U);
}

CommitEntry get_commit(const std::byte* p) {
  return CommitEntry{wal::Lsn(get_le<uint64_t>(p)), wal::Lsn(get_le<uint64_t>(p + 8)), get_le<int64_t>(p + 16),
                     get_le<uint32_t>(p + 32), (get_le<uint32_t>(p + 36) & 1U) != 0};
}
TimestampTz get_max_time(const std::byte* p) { return get_le<int64_t>(p + 24); }

// Event flags (the byte after the kind; written as 0 before it had a meaning).
constexpr uint8_t kEventTwoPhase = 0x01;
constexpr uint8_t kEventHasColumns = 0x02;  // run version 3, tip log version 2
constexpr uint8_t kEventColumnTypeKnown = 0x01;
constexpr uint32_t kEventColumnSize = 16;
constexpr uint8_t kNewestKindV2 = static_cast<uint8_t>(EventKind::kMassUpdate);
constexpr uint8_t kNewestKind = static_cast<uint8_t>(EventKind::kAlterType);

// The layout of run version 3 and tip log version 2; an event of kinds 1-5 without columns is byte for byte the
// earlier versions' layout.
void put_event(Appender& a, const EventEntry& e) {
  const bool columns = !e.columns.empty();
  a.put<uint8_t>(static_cast<uint8_t>(e.kind));
  a.put<uint8_t>(static_cast<uint8_t>((e.two_phase ? kEventTwoPhase : 0) | (columns ? kEventHasColumns : 0)));
  a.put<uint16_t>(0);
  a.put<uint32_t>(e.xid);
  a.put<uint64_t>(e.commit_lsn.value());
  a.put<int64_t>(e.commit_time);
  a.put<uint64_t>(e.first_lsn.value());
  a.put<uint32_t>(e.database_oid);
  a.put<uint32_t>(static_cast<uint32_t>(e.relations.size()));
  a.put<uint64_t>(e.rows);
  for (const uint32_t r : e.relations) a.put<uint32_t>(r);
  a.put<uint32_t>(static_cast<uint32_t>(e.names.size()));
  for (const std::string& n : e.names) {
    a.put<uint16_t>(static_cast<uint16_t>(n.size()));
    a.put_text(n);
  }
  if (!columns) return;
  a.put<uint32_t>(static_cast<uint32_t>(e.columns.size()));
  for (const auto& c : e.columns) {
    a.put<uint32_t>(c.rel);
    a.put<int16_t>(c.attnum);
    a.put<uint8_t>(c.type_known ? kEventColumnTypeKnown : 0);
    a.put<uint8_t>(0);
    a.put<uint32_t>(c.type_known ? c.type_oid : 0);
    a.put<int32_t>(c.type_known ? c.typmod : -1);
  }
}

uint64_t event_size(const EventEntry& e) {
  uint64_t size = kEventFixedSize + 4ULL * e.relations.size() + 4;
  for (const std::string& name : e.names) size += 2 + name.size();
  if (!e.columns.empty()) size += 4 + uint64_t{kEventColumnSize} * e.columns.size();
  return size;
}

// extended: kinds 6 and 7 and the columns flag are allowed (run version 3, tip logs).
std::optional<EventEntry> get_event(Cursor& c, bool extended) {
  EventEntry e;
  const auto kind = c.get<uint8_t>();
  if (kind < 1 || kind > (extended ? kNewestKind : kNewestKindV2)) return std::nullopt;
  e.kind = static_cast<EventKind>(kind);
  const auto flags = c.get<uint8_t>();
  const uint8_t known = extended ? (kEventTwoPhase | kEventHasColumns) : kEventTwoPhase;
  if ((flags & ~known) != 0) return std::nullopt;
  e.two_phase = (flags & kEventTwoPhase) != 0;
  (void)c.get<uint16_t>();
  e.xid = c.get<uint32_t>();
  e.commit_lsn = wal::Lsn(c.get<uint64_t>());
  e.commit_time = c.get<int64_t>();
  e.first_lsn = wal::Lsn(c.get<uint64_t>());
  e.database_oid = c.get<uint32_t>();
  const auto relation_count = c.get<uint32_t>();
  e.rows = c.get<uint64_t>();
  if (c.failed() || relation_count > c.remaining() / 4) return std::nullopt;
  e.relations.resize(relation_count);
  for (uint32_t& r : e.relations) r = c.get<uint32_t>();
  const auto name_count = c.get<uint32_t>();
  if (c.failed() || name_count > c.remaining() / 2) return std::nullopt;
  e.names.resize(name_count);
  for (std::string& n : e.names) {
    const auto bytes = c.bytes(c.get<uint16_t>());
    n.assign(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
  if ((flags & kEventHasColumns) != 0) {
    const auto column_count = c.get<uint32_t>();
    if (c.failed() || column_count == 0 || column_count > c.remaining() / kEventColumnSize) return std::nullopt;
    e.columns.resize(column_count);
    for (auto& col : e.columns) {
      col.rel = c.get<uint32_t>();
      col.attnum = c.get<int16_t>();
      const auto column_flags = c.get<uint8_t>();
      if ((column_flags & ~kEventColumnTypeKnown) != 0 || c.get<uint8_t>() != 0) return std::nullopt;
      col.type_known = (column_flags & kEventColumnTypeKnown) != 0;
      col.type_oid = c.get<uint32_t>();
      col.typmod = c.get<int32_t>();
    }
  }
  if (c.failed()) return std::nullopt;
  return e;
}

std::optional<IndexError> check_event(const EventEntry& e) {
  if (e.relations.size() > (1U << 20) || e.names.size() > (1U << 20) || e.columns.size() > (1U << 20)) {
    return IndexError{IndexErrorKind::kInvalidArgument, "event has too many relations, names or columns"};
  }
  for (const std::string& n : e.names) {
    if (n.size() > UINT16_MAX) return IndexError{IndexErrorKind::kInvalidArgument, "event name too long"};
  }
  if (static_cast<uint8_t>(e.kind) < 1 || static_cast<uint8_t>(e.kind) > kNewestKind) {
    return IndexError{IndexErrorKind::kInvalidArgument, "unknown event kind"};
  }
  for (const auto& c : e.columns) {
    if (!c.type_known && (c.type_oid != 0 || c.typmod != -1)) {
      return IndexError{IndexErrorKind::kInvalidArgument, "event column has a type but says it is unknown"};
    }
  }
  return std::nullopt;
}

void put_segment(Appender& a, const SegmentSummary& s) {
  a.put<uint64_t>(s.segment_no.value());
  a.put<uint64_t>(s.start_lsn.value());
  a.put<uint64_t>(s.end_lsn.value());
  a.put<int64_t>(s.first_commit_time.value_or(kNoTime));
  a.put<int64_t>(s.last_commit_time.value_or(kNoTime));
  a.put<uint64_t>(s.commit_count);
  a.put<uint64_t>(s.event_count);
  a.put<uint64_t>(0);
}

SegmentSummary get_segment(const std::byte* p) {
  const auto time = [](int64_t v) { return v == kNoTime ? std::nullopt : std::optional<TimestampTz>(v); };
  return SegmentSummary{wal::SegmentNo(get_le<uint64_t>(p)),
                        wal::Lsn(get_le<uint64_t>(p + 8)),
                        wal::Lsn(get_le<uint64_t>(p + 16)),
                        time(get_le<int64_t>(p + 24)),
                        time(get_le<int64_t>(p + 32)),
                        get_le<uint64_t>(p + 40),
                        get_le<uint64_t>(p + 48)};
}

uint64_t block_count(uint64_t records) { return (records + kIndexBlockEntries - 1) / kIndexBlockEntries; }

// Version 1 runs: fixed-width records and a shorter commit block table entry.
constexpr uint32_t kXidRecordSizeV1 = 8;
constexpr uint32_t kCommitBlockEntrySizeV1 = 24;
// Version 2: the fewest and most bytes a commit takes in its commit block (four varints of one to ten bytes) and
// in its xid block (two).
constexpr uint64_t kMinCommitBlockRecord = 4;
constexpr uint64_t kMaxCommitBlockRecord = 40;
constexpr uint64_t kMinXidBlockRecord = 2;
constexpr uint64_t kMaxXidBlockRecord = 20;
constexpr uint64_t kMinCommitBytes = kMinCommitBlockRecord + kMinXidBlockRecord;
// What a pgbench commit takes in its commit block: the encoder reserves that much per commit of a block.
constexpr uint64_t kTypicalCommitBlockRecord = 8;

// Appends one commit to a version 2 commit block; prev is the commit before it in the block.
void put_commit_v2(Appender& a, const CommitEntry& c, const CommitEntry& prev) {
  a.put_varint(c.lsn.value() - prev.lsn.value());
  a.put_varint(c.end_lsn.value() - c.lsn.value());
  a.put_varint(zigzag(static_cast<int64_t>(static_cast<uint64_t>(c.time) - static_cast<uint64_t>(prev.time))));
  a.put_varint((zigzag(static_cast<int32_t>(c.xid - prev.xid)) << 1) | (c.aborted ? 1U : 0U));
}

// Decodes one commit block of `count` commits whose first lsn is first_lsn, continuing the running max of time
// from `running`. Version 1 blocks store the running max, which must match. Empty on malformed bytes.
std::optional<TimestampTz> decode_commit_block(uint16_t version, std::span<const std::byte> bytes, std::size_t count,
                                               uint64_t first_lsn, TimestampTz running, std::vector<CommitEntry>& out,
                                               std::vector<TimestampTz>& max_out) {
  out.clear();
  max_out.clear();
  Cursor c(bytes);
  CommitEntry prev{wal::Lsn(first_lsn), wal::Lsn(), 0, 0, false};
  for (std::size_t i = 0; i < count; ++i) {
    CommitEntry e;
    std::optional<TimestampTz> stored_max;
    if (version == 1) {
      const auto record = c.bytes(kCommitRecordSize);
      if (c.failed()) return std::nullopt;
      e = get_commit(record.data());
      stored_max = get_max_time(record.data());
      if ((i == 0) != (e.lsn == prev.lsn) || e.lsn < prev.lsn) return std::nullopt;
    } else {
      const uint64_t step = c.get_varint();
      if ((i == 0) != (step == 0) || step > UINT64_MAX - prev.lsn.value()) return std::nullopt;
      e.lsn = wal::Lsn(prev.lsn.value() + step);
      e.end_lsn = wal::Lsn(e.lsn.value() + c.get_varint());
      e.time =
          static_cast<TimestampTz>(static_cast<uint64_t>(prev.time) + static_cast<uint64_t>(unzigzag(c.get_varint())));
      const uint64_t xid_and_flag = c.get_varint();
      const uint64_t xid_step = xid_and_flag >> 1;
      if (c.failed() || xid_step > UINT32_MAX) return std::nullopt;
      e.xid = prev.xid + static_cast<uint32_t>(unzigzag(xid_step));
      e.aborted = (xid_and_flag & 1U) != 0;
    }
    running = std::max(running, e.time);
    if (stored_max && *stored_max != running) return std::nullopt;
    out.push_back(e);
    max_out.push_back(running);
    prev = e;
  }
  if (c.failed() || c.remaining() != 0) return std::nullopt;
  return running;
}

// Checks the object-level magic, version (1 to newest) and kind at p.
std::optional<IndexError> check_magic(const std::byte* p, ObjectKind kind, const char* what, uint16_t newest) {
  if (!has_magic(p, kMagic)) return IndexError{IndexErrorKind::kBadMagic, std::string("not a walvault ") + what};
  const auto version = get_le<uint16_t>(p + 8);
  if (version < 1 || version > newest) {
    return IndexError{IndexErrorKind::kUnsupportedVersion,
                      std::string(what) + " format version " + std::to_string(version) + " is not supported"};
  }
  if (get_le<uint16_t>(p + 10) != static_cast<uint16_t>(kind)) {
    return IndexError{IndexErrorKind::kBadMagic, std::string("object is not an ") + what};
  }
  return std::nullopt;
}

}  // namespace

EventKind newest_event_kind_of_run(uint16_t run_version) {
  return static_cast<EventKind>(run_version >= 3 ? kNewestKind : kNewestKindV2);
}

EventKind newest_event_kind_of_tip_log(uint16_t tip_version) {
  return static_cast<EventKind>(tip_version >= 2 ? kNewestKind : kNewestKindV2);
}

// ------------------------------------------------------------------------------------------------ names

std::string index_prefix(wal::TimelineId tli) { return "index/" + hex_upper(tli.value(), 8) + "/"; }

std::string run_object_name(wal::TimelineId tli, wal::Lsn first, wal::Lsn end) {
  return index_prefix(tli) + "run-" + hex_upper(first.value(), 16) + "-" + hex_upper(end.value(), 16) + ".wvi";
}

std::string tip_log_object_name(wal::TimelineId tli, wal::SegmentNo segno, uint32_t segment_size) {
  return index_prefix(tli) + "tip-" + wal::segment_file_name(tli, segno, segment_size) + ".wvl";
}

std::optional<RunName> parse_run_object_name(std::string_view name) {
  // index/TTTTTTTT/run-<16>-<16>.wvi
  constexpr std::size_t kLength = 6 + 8 + 1 + 4 + 16 + 1 + 16 + 4;
  if (name.size() != kLength || !name.starts_with("index/") || name.substr(14, 5) != "/run-" || name[35] != '-' ||
      !name.ends_with(".wvi")) {
    return std::nullopt;
  }
  const auto tli = parse_hex(name.substr(6, 8));
  const auto first = parse_hex(name.substr(19, 16));
  const auto end = parse_hex(name.substr(36, 16));
  if (!tli || !first || !end || *tli == 0 || *first > *end) return std::nullopt;
  return RunName{wal::TimelineId(static_cast<uint32_t>(*tli)), wal::Lsn(*first), wal::Lsn(*end)};
}

std::optional<wal::SegmentName> parse_tip_log_object_name(std::string_view name, uint32_t segment_size) {
  // index/TTTTTTTT/tip-<24>.wvl
  if (name.size() != 6 + 8 + 5 + 24 + 4 || !name.starts_with("index/") || name.substr(14, 5) != "/tip-" ||
      !name.ends_with(".wvl") || name.substr(6, 8) != name.substr(19, 8)) {
    return std::nullopt;
  }
  return wal::parse_segment_file_name(name.substr(19, 24), segment_size);
}

std::string problem_object_name(wal::TimelineId tli, wal::Lsn lsn) {
  return index_prefix(tli) + "problem-" + hex_upper(lsn.value(), 16) + ".json";
}

std::optional<ProblemName> parse_problem_object_name(std::string_view name) {
  // index/TTTTTTTT/problem-<16>.json
  if (name.size() != 6 + 8 + 9 + 16 + 5 || !name.starts_with("index/") || name.substr(14, 9) != "/problem-" ||
      !name.ends_with(".json")) {
    return std::nullopt;
  }
  const auto tli = parse_hex(name.substr(6, 8));
  const auto lsn = parse_hex(name.substr(23, 16));
  if (!tli || !lsn || *tli == 0) return std::nullopt;
  return ProblemName{wal::TimelineId(static_cast<uint32_t>(*tli)), wal::Lsn(*lsn)};
}

std::string mass_rows_object_name(wal::TimelineId tli, wal::Lsn lsn) {
  return index_prefix(tli) + "mass-rows-" + hex_upper(lsn.value(), 16) + ".json";
}

// ------------------------------------------------------------------------------------------------ runs

IndexResult<uint64_t> encode_run(const RunContent& run, const ByteSink& sink) {
  const auto invalid = [](std::string m) { return fail(IndexErrorKind::kInvalidArgument, std::move(m)); };
  if (!run.timeline.valid() || run.first_lsn > run.end_lsn) return invalid("run has no timeline or a bad lsn range");
  if (run.commits.size() > UINT32_MAX) return invalid("run has too many commits");
  for (std::size_t i = 0; i < run.commits.size(); ++i) {
    const CommitEntry& c = run.commits[i];
    if (c.lsn < run.first_lsn || c.lsn >= run.end_lsn || (i > 0 && c.lsn <= run.commits[i - 1].lsn)) {
      return invalid("commit at " + c.lsn.to_string() + " is out of order or outside the run");
    }
  }
  uint64_t events_size = 0;
  for (std::size_t i = 0; i < run.events.size(); ++i) {
    const EventEntry& e = run.events[i];
    if (auto error = check_event(e)) return Unexpected(std::move(*error));
    if (i > 0 && e.commit_lsn < run.events[i - 1].commit_lsn) return invalid("events out of order");
    events_size += event_size(e);
  }
  if (events_size > kMaxEventsSection) return invalid("run events exceed 1 GiB");
  for (std::size_t i = 1; i < run.segments.size(); ++i) {
    if (run.segments[i].segment_no <= run.segments[i - 1].segment_no) return invalid("segments out of order");
  }

  // Nothing is handed to the sink before the input is known to be valid. Then the run goes out a piece at a time
  // (at most one encoded block of commits, 25 KB for pgbench, is staged), so the streamer's memory at each completed
  // segment stays the entries themselves, not a second copy of the encoded run.
  const uint64_t n = run.commits.size();
  const uint64_t blocks = block_count(n);
  std::vector<std::byte> staged;
  staged.reserve(std::min<uint64_t>(std::max<uint64_t>(n, 1), kIndexBlockEntries) * kTypicalCommitBlockRecord);
  Appender a(staged);
  uint64_t offset = 0;
  const auto emit = [&] {
    sink(staged);
    offset += staged.size();
    staged.clear();
  };

  a.put_text(kMagic);
  a.put<uint16_t>(kRunVersion);
  a.put<uint16_t>(static_cast<uint16_t>(ObjectKind::kIndexRun));
  a.put<uint32_t>(kIndexBlockEntries);
  a.put<uint64_t>(run.system_identifier);
  a.put<uint32_t>(run.timeline.value());
  a.put<uint32_t>(0);
  a.put<uint64_t>(run.first_lsn.value());
  a.put<uint64_t>(run.end_lsn.value());
  a.put<uint64_t>(0);
  a.put<uint64_t>(checksum(std::span(staged).first(56)));
  emit();

  // 1. commit blocks, keeping what the block table needs (the running max of time is derived, not stored).
  struct Block {
    TimestampTz max_time;
    wal::Lsn first_lsn;
    uint64_t checksum;
    uint64_t size;
  };
  const uint64_t commits_offset = offset;
  TimestampTz max_time = kNoTime;
  std::vector<Block> commit_blocks;
  commit_blocks.reserve(blocks);
  for (uint64_t first = 0; first < n; first += kIndexBlockEntries) {
    const uint64_t count = std::min<uint64_t>(kIndexBlockEntries, n - first);
    CommitEntry prev{run.commits[first].lsn, wal::Lsn(), 0, 0, false};
    for (uint64_t i = first; i < first + count; ++i) {
      max_time = std::max(max_time, run.commits[i].time);
      put_commit_v2(a, run.commits[i], prev);
      prev = run.commits[i];
    }
    commit_blocks.push_back({max_time, run.commits[first].lsn, checksum(staged), staged.size()});
    emit();
  }
  // 2. xid blocks, sorted by (xid, position).
  const uint64_t xids_offset = offset;
  std::vector<std::pair<uint32_t, uint32_t>> xids(n);
  for (uint64_t i = 0; i < n; ++i) xids[i] = {run.commits[i].xid, static_cast<uint32_t>(i)};
  std::sort(xids.begin(), xids.end());
  std::vector<Block> xid_blocks;
  xid_blocks.reserve(blocks);
  for (uint64_t first = 0; first < n; first += kIndexBlockEntries) {
    const uint64_t count = std::min<uint64_t>(kIndexBlockEntries, n - first);
    uint32_t prev_xid = xids[first].first;
    int64_t prev_position = 0;
    for (uint64_t i = first; i < first + count; ++i) {
      a.put_varint(xids[i].first - prev_xid);
      a.put_varint(zigzag(int64_t{xids[i].second} - prev_position));
      prev_xid = xids[i].first;
      prev_position = xids[i].second;
    }
    xid_blocks.push_back({0, wal::Lsn(), checksum(staged), staged.size()});
    emit();
  }
  // 3. + 4. block tables, then 5. segments: checksummed together.
  const uint64_t commit_blocks_offset = offset;
  for (const Block& b : commit_blocks) {
    a.put<int64_t>(b.max_time);
    a.put<uint64_t>(b.first_lsn.value());
    a.put<uint64_t>(b.checksum);
    a.put<uint32_t>(static_cast<uint32_t>(b.size));
    a.put<uint32_t>(0);
  }
  const uint64_t xid_blocks_offset = commit_blocks_offset + staged.size();
  for (uint64_t b = 0; b < blocks; ++b) {
    a.put<uint32_t>(xids[b * kIndexBlockEntries].first);
    a.put<uint32_t>(static_cast<uint32_t>(xid_blocks[b].size));
    a.put<uint64_t>(xid_blocks[b].checksum);
  }
  const uint64_t segments_offset = commit_blocks_offset + staged.size();
  for (const SegmentSummary& s : run.segments) put_segment(a, s);
  const uint64_t blocks_checksum = checksum(staged);
  emit();
  // 6. events.
  const uint64_t events_offset = offset;
  for (const EventEntry& e : run.events) put_event(a, e);
  const uint64_t events_checksum = checksum(staged);
  emit();

  a.put<uint64_t>(n);
  a.put<uint64_t>(run.events.size());
  a.put<uint64_t>(run.segments.size());
  a.put<uint64_t>(commits_offset);
  a.put<uint64_t>(xids_offset);
  a.put<uint64_t>(commit_blocks_offset);
  a.put<uint64_t>(xid_blocks_offset);
  a.put<uint64_t>(segments_offset);
  a.put<uint64_t>(events_offset);
  a.put<uint64_t>(events_size);
  a.put<int64_t>(max_time);
  a.put<uint64_t>(blocks_checksum);
  a.put<uint64_t>(events_checksum);
  a.put<uint64_t>(0);
  a.put<uint64_t>(checksum(staged));
  a.put_text(kEndMagic);
  emit();
  return offset;
}

IndexResult<std::vector<std::byte>> encode_run(const RunContent& run) {
  std::vector<std::byte> out;
  auto size =
      encode_run(run, [&out](std::span<const std::byte> bytes) { out.insert(out.end(), bytes.begin(), bytes.end()); });
  if (!size) return Unexpected(std::move(size.error()));
  return out;
}

IndexResult<RunReader> RunReader::open(RangeReader read, uint64_t object_size) {
  if (object_size < kRunHeaderSize + kRunFooterSize) return fail(IndexErrorKind::kTruncated, "index run truncated");
  const auto head = read(0, kRunHeaderSize);
  const auto foot = read(object_size - kRunFooterSize, kRunFooterSize);
  if (head.size() != kRunHeaderSize || foot.size() != kRunFooterSize) {
    return fail(IndexErrorKind::kTruncated, "index run truncated");
  }
  if (auto e = check_magic(head.data(), ObjectKind::kIndexRun, "index run", kRunVersion)) {
    return Unexpected(std::move(*e));
  }
  if (checksum(std::span(head).first(56)) != get_le<uint64_t>(head.data() + 56)) {
    return corrupt("index run header checksum mismatch");
  }
  if (get_le<uint32_t>(head.data() + 12) != kIndexBlockEntries) return corrupt("index run block size unsupported");
  if (!has_magic(foot.data() + 120, kEndMagic)) return fail(IndexErrorKind::kTruncated, "index run footer missing");
  if (checksum(std::span(foot).first(112)) != get_le<uint64_t>(foot.data() + 112)) {
    return corrupt("index run footer checksum mismatch");
  }
  RunReader r;
  r.read_ = std::move(read);
  r.version_ = get_le<uint16_t>(head.data() + 8);
  r.system_identifier_ = get_le<uint64_t>(head.data() + 16);
  r.timeline_ = wal::TimelineId(get_le<uint32_t>(head.data() + 24));
  r.first_lsn_ = wal::Lsn(get_le<uint64_t>(head.data() + 32));
  r.end_lsn_ = wal::Lsn(get_le<uint64_t>(head.data() + 40));
  Cursor f(foot);
  const auto n = f.get<uint64_t>();
  r.commit_count_ = n;
  r.event_count_ = f.get<uint64_t>();
  const auto segment_count = f.get<uint64_t>();
  const auto commits_offset = f.get<uint64_t>();
  const auto xids_offset = f.get<uint64_t>();
  const auto commit_blocks_offset = f.get<uint64_t>();
  const auto xid_blocks_offset = f.get<uint64_t>();
  const auto segments_offset = f.get<uint64_t>();
  r.events_offset_ = f.get<uint64_t>();
  r.events_size_ = f.get<uint64_t>();
  r.max_time_ = f.get<int64_t>();
  const auto blocks_checksum = f.get<uint64_t>();
  r.events_checksum_ = f.get<uint64_t>();
  // Every section must sit exactly where its predecessor ends; the counts are capped by the object size first.
  const bool v1 = r.version_ == 1;
  const uint64_t body = object_size - kRunHeaderSize - kRunFooterSize;
  const uint64_t blocks = block_count(n);
  const uint64_t commit_entry_size = v1 ? kCommitBlockEntrySizeV1 : kCommitBlockEntrySize;
  const uint64_t min_commit_bytes = v1 ? kCommitRecordSize + kXidRecordSizeV1 : kMinCommitBytes;
  const bool sections_fit = v1 ? xids_offset == commits_offset + n * kCommitRecordSize &&
                                     commit_blocks_offset == xids_offset + n * kXidRecordSizeV1
                               : xids_offset >= commits_offset && commit_blocks_offset >= xids_offset &&
                                     commit_blocks_offset <= object_size - kRunFooterSize;
  if (n > body / min_commit_bytes || segment_count > body / kSegmentSummarySize ||
      r.event_count_ > body / kEventFixedSize || commits_offset != kRunHeaderSize || !sections_fit ||
      xid_blocks_offset != commit_blocks_offset + blocks * commit_entry_size ||
      segments_offset != xid_blocks_offset + blocks * kXidBlockEntrySize ||
      r.events_offset_ != segments_offset + segment_count * kSegmentSummarySize || r.events_size_ > body ||
      r.events_offset_ + r.events_size_ != object_size - kRunFooterSize || r.first_lsn_ > r.end_lsn_ ||
      !r.timeline_.valid() || (n == 0) != (r.max_time_ == kNoTime) || (r.event_count_ == 0) != (r.events_size_ == 0)) {
    return corrupt("index run footer is inconsistent with the object size");
  }
  const auto tables = r.read_(commit_blocks_offset, r.events_offset_ - commit_blocks_offset);
  if (tables.size() != r.events_offset_ - commit_blocks_offset) {
    return fail(IndexErrorKind::kTruncated, "index run truncated");
  }
  if (checksum(tables) != blocks_checksum) return corrupt("index run block tables checksum mismatch");
  // Block offsets follow from the sizes (version 2) or the fixed widths (version 1); they must tile sections 1-2.
  const std::byte* p = tables.data();
  uint64_t at = commits_offset;
  r.commit_blocks_.resize(blocks);
  for (uint64_t b = 0; b < blocks; ++b, p += commit_entry_size) {
    const uint64_t size = v1 ? r.block_entries(b) * kCommitRecordSize : get_le<uint32_t>(p + 24);
    if (!v1 &&
        (size < r.block_entries(b) * kMinCommitBlockRecord || size > r.block_entries(b) * kMaxCommitBlockRecord)) {
      return corrupt("index run commit block " + std::to_string(b) + " has an impossible size");
    }
    r.commit_blocks_[b] = CommitBlock{get_le<int64_t>(p), get_le<uint64_t>(p + 8), get_le<uint64_t>(p + 16), at, size};
    at += size;
  }
  if (at != xids_offset) return corrupt("index run commit blocks do not fill their section");
  r.xid_blocks_.resize(blocks);
  for (uint64_t b = 0; b < blocks; ++b, p += kXidBlockEntrySize) {
    const uint64_t size = v1 ? r.block_entries(b) * kXidRecordSizeV1 : get_le<uint32_t>(p + 4);
    if (!v1 && (size < r.block_entries(b) * kMinXidBlockRecord || size > r.block_entries(b) * kMaxXidBlockRecord)) {
      return corrupt("index run xid block " + std::to_string(b) + " has an impossible size");
    }
    r.xid_blocks_[b] = XidBlock{get_le<uint32_t>(p), get_le<uint64_t>(p + 8), at, size};
    at += size;
  }
  if (at != commit_blocks_offset) return corrupt("index run xid blocks do not fill their section");
  r.segments_.resize(segment_count);
  for (SegmentSummary& s : r.segments_) {
    s = get_segment(p);
    p += kSegmentSummarySize;
  }
  return r;
}

std::optional<TimestampTz> RunReader::max_time() const {
  return max_time_ == kNoTime ? std::nullopt : std::optional(max_time_);
}

IndexResult<RunReader> RunReader::open(std::span<const std::byte> object) {
  auto r = open(ranges_of(object), object.size());
  if (r) r->memory_ = object;
  return r;
}

std::size_t RunReader::block_entries(uint64_t block) const {
  return static_cast<std::size_t>(std::min<uint64_t>(kIndexBlockEntries, commit_count_ - block * kIndexBlockEntries));
}

IndexResult<std::span<const std::byte>> RunReader::read_section(uint64_t offset, uint64_t length) {
  if (!memory_.empty()) {
    if (offset > memory_.size() || length > memory_.size() - offset) {
      return fail(IndexErrorKind::kTruncated, "index run truncated");
    }
    return memory_.subspan(offset, length);
  }
  storage_ = read_(offset, length);
  if (storage_.size() != length) return fail(IndexErrorKind::kTruncated, "index run truncated");
  return std::span<const std::byte>(storage_);
}

IndexResult<std::span<const std::byte>> RunReader::read_block(uint64_t offset, uint64_t size, uint64_t expected,
                                                              const char* what, uint64_t block) {
  auto bytes = read_section(offset, size);
  if (bytes && checksum(*bytes) != expected) {
    return corrupt("index run " + std::string(what) + " block " + std::to_string(block) + " checksum mismatch");
  }
  return bytes;
}

IndexResult<void> RunReader::load_commit_block(uint64_t block) {
  if (cached_block_ == block) return {};
  cached_block_.reset();  // cached_commits_ is about to be replaced
  const CommitBlock& b = commit_blocks_[block];
  auto bytes = read_block(b.offset, b.size, b.checksum, "commit", block);
  if (!bytes) return Unexpected(bytes.error());
  // The running max must agree with the block table, or binary search would lie.
  const TimestampTz previous = block == 0 ? kNoTime : commit_blocks_[block - 1].max_time;
  const auto running =
      decode_commit_block(version_, *bytes, block_entries(block), b.first_lsn, previous, cached_commits_, cached_max_);
  if (!running) return corrupt("index run commit block " + std::to_string(block) + " is malformed");
  if (*running != b.max_time) {
    return corrupt("index run commit block " + std::to_string(block) + " disagrees with its block table");
  }
  cached_block_ = block;
  return {};
}

IndexResult<void> RunReader::load_xid_block(uint64_t block) {
  const XidBlock& b = xid_blocks_[block];
  auto bytes = read_block(b.offset, b.size, b.checksum, "xid", block);
  if (!bytes) return Unexpected(bytes.error());
  const std::size_t count = block_entries(block);
  xids_.clear();
  Cursor c(*bytes);
  XidRecord prev{b.first_xid, 0};
  for (std::size_t i = 0; i < count; ++i) {
    XidRecord x{};
    if (version_ == 1) {
      x.xid = c.get<uint32_t>();
      x.position = c.get<uint32_t>();
    } else {
      const uint64_t xid_step = c.get_varint();
      const int64_t position = int64_t{prev.position} + unzigzag(c.get_varint());
      if (xid_step > UINT32_MAX - prev.xid || position < 0 || position > UINT32_MAX) break;
      x.xid = prev.xid + static_cast<uint32_t>(xid_step);
      x.position = static_cast<uint32_t>(position);
    }
    if (c.failed() || x.position >= commit_count_ || (i == 0 && x.xid != b.first_xid)) break;
    xids_.push_back(x);
    prev = x;
  }
  if (xids_.size() != count || c.remaining() != 0) {
    return corrupt("index run xid block " + std::to_string(block) + " is malformed");
  }
  return {};
}

IndexResult<std::optional<uint64_t>> RunReader::first_after(TimestampTz t) {
  if (commit_count_ == 0 || max_time_ <= t) return std::optional<uint64_t>();
  const auto it = std::upper_bound(commit_blocks_.begin(), commit_blocks_.end(), t,
                                   [](TimestampTz v, const CommitBlock& b) { return v < b.max_time; });
  if (it == commit_blocks_.end()) return corrupt("index run block table disagrees with its footer");
  const auto block = static_cast<uint64_t>(it - commit_blocks_.begin());
  if (auto r = load_commit_block(block); !r) return Unexpected(r.error());
  const auto at = std::upper_bound(cached_max_.begin(), cached_max_.end(), t);
  if (at == cached_max_.end()) {
    return corrupt("index run block " + std::to_string(block) + " disagrees with its block table");
  }
  return std::optional<uint64_t>(block * kIndexBlockEntries + static_cast<uint64_t>(at - cached_max_.begin()));
}

IndexResult<CommitEntry> RunReader::commit_at(uint64_t position) {
  if (position >= commit_count_) return fail(IndexErrorKind::kInvalidArgument, "commit position out of range");
  if (auto r = load_commit_block(position / kIndexBlockEntries); !r) return Unexpected(r.error());
  return cached_commits_[position % kIndexBlockEntries];
}

IndexResult<std::vector<CommitEntry>> RunReader::find_xid(uint32_t xid) {
  std::vector<CommitEntry> out;
  // Blocks whose first xid ≤ xid, starting with the last block that starts below xid (equal xids may span blocks).
  auto it = std::lower_bound(xid_blocks_.begin(), xid_blocks_.end(), xid,
                             [](const XidBlock& b, uint32_t v) { return b.first_xid < v; });
  if (it != xid_blocks_.begin()) --it;
  for (; it != xid_blocks_.end() && it->first_xid <= xid; ++it) {
    if (auto r = load_xid_block(static_cast<uint64_t>(it - xid_blocks_.begin())); !r) return Unexpected(r.error());
    std::vector<uint32_t> positions;
    for (const XidRecord& x : xids_) {
      if (x.xid == xid) positions.push_back(x.position);
    }
    for (const uint32_t position : positions) {
      auto c = commit_at(position);
      if (!c) return Unexpected(c.error());
      if (c->xid != xid) return corrupt("index run xid table points at the wrong commit");
      out.push_back(*c);
    }
  }
  std::sort(out.begin(), out.end(), [](const CommitEntry& a, const CommitEntry& b) { return a.lsn < b.lsn; });
  return out;
}

IndexResult<std::vector<EventEntry>> RunReader::events() {
  std::vector<EventEntry> out;
  if (event_count_ == 0) return out;
  const auto bytes = read_section(events_offset_, events_size_);
  if (!bytes) return Unexpected(bytes.error());
  if (checksum(*bytes) != events_checksum_) return corrupt("index run events checksum mismatch");
  Cursor c(*bytes);
  out.reserve(event_count_);
  for (uint64_t i = 0; i < event_count_; ++i) {
    auto e = get_event(c, version_ >= 3);
    if (!e) return corrupt("index run event " + std::to_string(i) + " is malformed");
    out.push_back(std::move(*e));
  }
  if (c.remaining() != 0) return corrupt("index run events section has trailing bytes");
  return out;
}

IndexResult<void> RunReader::verify(const std::function<void(const CommitEntry&)>& each_commit) {
  for (uint64_t b = 0; b < commit_blocks_.size(); ++b) {
    if (auto r = load_commit_block(b); !r) return r;
    if (each_commit) {
      for (const CommitEntry& c : cached_commits_) each_commit(c);
    }
    if (auto r = load_xid_block(b); !r) return r;
  }
  auto events = this->events();
  if (!events) return Unexpected(events.error());
  return {};
}

IndexResult<RunContent> decode_run(std::span<const std::byte> object) {
  auto reader = RunReader::open(object);
  if (!reader) return Unexpected(reader.error());
  RunContent run;
  run.commits.reserve(reader->commit_count());
  if (auto v = reader->verify([&run](const CommitEntry& c) { run.commits.push_back(c); }); !v) {
    return Unexpected(v.error());
  }
  run.system_identifier = reader->system_identifier();
  run.timeline = reader->timeline();
  run.first_lsn = reader->first_lsn();
  run.end_lsn = reader->end_lsn();
  run.segments = reader->segments();
  auto events = reader->events();
  if (!events) return Unexpected(events.error());
  run.events = std::move(*events);
  return run;
}

IndexResult<RunContent> merge_runs(std::vector<RunContent> runs) {
  if (runs.empty()) return fail(IndexErrorKind::kInvalidArgument, "nothing to merge");
  RunContent out;
  out.system_identifier = runs.front().system_identifier;
  out.timeline = runs.front().timeline;
  out.first_lsn = runs.front().first_lsn;
  out.end_lsn = runs.front().first_lsn;
  for (RunContent& r : runs) {
    if (r.timeline != out.timeline || r.system_identifier != out.system_identifier || r.first_lsn < out.end_lsn) {
      return fail(IndexErrorKind::kInvalidArgument, "runs to merge overlap or belong to different timelines");
    }
    out.end_lsn = r.end_lsn;
    out.commits.insert(out.commits.end(), r.commits.begin(), r.commits.end());
    std::move(r.events.begin(), r.events.end(), std::back_inserter(out.events));
    out.segments.insert(out.segments.end(), r.segments.begin(), r.segments.end());
  }
  return out;
}

// ------------------------------------------------------------------------------------------------ tip logs

std::vector<std::byte> encode_tip_header(uint64_t system_identifier, wal::TimelineId tli) {
  std::vector<std::byte> out;
  Appender a(out);
  a.put_text(kMagic);
  a.put<uint16_t>(kTipLogVersion);
  a.put<uint16_t>(static_cast<uint16_t>(ObjectKind::kIndexTipLog));
  a.put<uint32_t>(tli.value());
  a.put<uint64_t>(system_identifier);
  a.put<uint64_t>(checksum(out));
  return out;
}

namespace {
std::vector<std::byte> tip_record(uint32_t type, const std::vector<std::byte>& payload) {
  std::vector<std::byte> out;
  out.reserve(payload.size() + kTipRecordOverhead);
  Appender a(out);
  a.put<uint32_t>(static_cast<uint32_t>(payload.size()));
  a.put<uint32_t>(type);
  a.put_bytes(payload);
  a.put<uint64_t>(checksum(out));
  return out;
}
}  // namespace

std::vector<std::byte> encode_tip_record(const CommitEntry& commit) {
  std::vector<std::byte> payload;
  Appender a(payload);
  put_commit(a, commit, 0);
  return tip_record(kTipCommit, payload);
}

std::vector<std::byte> encode_tip_record(const EventEntry& event) {
  std::vector<std::byte> payload;
  Appender a(payload);
  put_event(a, event);
  return tip_record(kTipEvent, payload);
}

TipLogParser::TipLogParser(uint64_t size_hint) {
  // Mostly commits: reserving for as many as fit avoids doubling the vector (the streamer's sealing peak).
  if (size_hint > kTipHeaderSize) {
    log_.commits.reserve((size_hint - kTipHeaderSize) / (kTipRecordOverhead + kCommitRecordSize));
  }
}

void TipLogParser::feed(std::span<const std::byte> piece) {
  fed_ += piece.size();
  if (stopped_) return;
  pending_.insert(pending_.end(), piece.begin(), piece.end());
  std::size_t pos = 0;
  if (!header_done_) {
    if (pending_.size() < kTipHeaderSize) return;
    if (auto e = check_magic(pending_.data(), ObjectKind::kIndexTipLog, "index tip log", kTipLogVersion)) {
      error_ = std::move(*e);
    } else if (checksum(std::span(pending_).first(24)) != get_le<uint64_t>(pending_.data() + 24)) {
      error_ = IndexError{IndexErrorKind::kCorrupt, "index tip log header checksum mismatch"};
    }
    if (error_) {
      stopped_ = true;
      return;
    }
    log_.version = get_le<uint16_t>(pending_.data() + 8);
    log_.timeline = wal::TimelineId(get_le<uint32_t>(pending_.data() + 12));
    log_.system_identifier = get_le<uint64_t>(pending_.data() + 16);
    header_done_ = true;
    pos = kTipHeaderSize;
  }
  const std::span<const std::byte> bytes(pending_);
  while (bytes.size() - pos >= kTipRecordOverhead) {
    const auto size = get_le<uint32_t>(bytes.data() + pos);
    const auto type = get_le<uint32_t>(bytes.data() + pos + 4);
    if (size > kMaxTipPayload) {
      stopped_ = true;
      break;
    }
    if (size > bytes.size() - pos - kTipRecordOverhead) break;  // the rest of this record is in a later piece
    const auto covered = bytes.subspan(pos, 8 + size);
    const auto payload = covered.subspan(8);
    bool valid = checksum(covered) == get_le<uint64_t>(bytes.data() + pos + 8 + size);
    if (valid && type == kTipCommit && size == kCommitRecordSize) {
      log_.commits.push_back(get_commit(payload.data()));
    } else if (valid && type == kTipEvent) {
      Cursor c(payload);
      // A version 1 log that this walvault continued (IndexWriter appends to the log it finds) may hold the newer
      // kinds: only newer walvaults write them, so reading them in any version is safe.
      auto e = get_event(c, true);
      valid = e && c.remaining() == 0;
      if (valid) log_.events.push_back(std::move(*e));
    } else {
      valid = false;
    }
    if (!valid) {
      stopped_ = true;
      break;
    }
    pos += kTipRecordOverhead + size;
  }
  valid_ += pos;
  if (stopped_) {
    std::vector<std::byte>().swap(pending_);
  } else {
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(pos));
  }
}

IndexResult<TipLog> TipLogParser::finish() && {
  if (error_) return Unexpected(std::move(*error_));
  if (!header_done_) return fail(IndexErrorKind::kTruncated, "index tip log shorter than its header");
  log_.valid_length = valid_;
  log_.torn_bytes = fed_ - valid_;
  return std::move(log_);
}

IndexResult<TipLog> parse_tip_log(std::span<const std::byte> bytes) {
  TipLogParser parser(bytes.size());
  parser.feed(bytes);
  return std::move(parser).finish();
}

// ------------------------------------------------------------------------------------------------ view

IndexView::IndexView(std::vector<RunReader> runs, std::vector<CommitEntry> tip_commits,
                     std::vector<EventEntry> tip_events)
    : runs_(std::move(runs)), tip_commits_(std::move(tip_commits)), tip_events_(std::move(tip_events)) {
  const wal::Lsn sealed = runs_.empty() ? wal::Lsn() : runs_.back().end_lsn();
  std::erase_if(tip_commits_, [&](const CommitEntry& c) { return c.lsn < sealed; });
  std::erase_if(tip_events_, [&](const EventEntry& e) { return e.commit_lsn < sealed; });
}

IndexResult<TimeLookup> IndexView::lookup_time(TimestampTz t) {
  TimeLookup out;
  // The last entry seen so far in LSN order: a run position or a tip position.
  RunReader* last_run = nullptr;
  for (RunReader& run : runs_) {
    auto pos = run.first_after(t);
    if (!pos) return Unexpected(pos.error());
    if (pos->has_value()) {
      auto first = run.commit_at(**pos);
      if (!first) return Unexpected(first.error());
      out.first_after = *first;
      if (**pos > 0) {
        auto before = run.commit_at(**pos - 1);
        if (!before) return Unexpected(before.error());
        out.last_at_or_before = *before;
      } else if (last_run != nullptr) {
        auto before = last_run->commit_at(last_run->commit_count() - 1);
        if (!before) return Unexpected(before.error());
        out.last_at_or_before = *before;
      }
      return out;
    }
    if (run.commit_count() > 0) last_run = &run;
  }
  if (last_run != nullptr) {
    auto last = last_run->commit_at(last_run->commit_count() - 1);
    if (!last) return Unexpected(last.error());
    out.last_at_or_before = *last;
  }
  for (const CommitEntry& c : tip_commits_) {
    if (c.time > t) {
      out.first_after = c;
      return out;
    }
    out.last_at_or_before = c;
  }
  return out;
}

IndexResult<std::vector<CommitEntry>> IndexView::lookup_xid(uint32_t xid) {
  std::vector<CommitEntry> out;
  for (RunReader& run : runs_) {
    auto found = run.find_xid(xid);
    if (!found) return Unexpected(found.error());
    out.insert(out.end(), found->begin(), found->end());
  }
  for (const CommitEntry& c : tip_commits_) {
    if (c.xid == xid) out.push_back(c);
  }
  return out;
}

IndexResult<std::vector<EventEntry>> IndexView::all_events(wal::Lsn from, wal::Lsn to) {
  std::vector<EventEntry> out;
  for (RunReader& run : runs_) {
    if (run.event_count() == 0 || run.end_lsn() <= from || run.first_lsn() >= to) continue;
    auto events = run.events();
    if (!events) return Unexpected(events.error());
    std::move(events->begin(), events->end(), std::back_inserter(out));
  }
  out.insert(out.end(), tip_events_.begin(), tip_events_.end());
  return out;
}

IndexResult<std::vector<EventEntry>> IndexView::events_by_lsn(wal::Lsn from, wal::Lsn to) {
  auto events = all_events(from, to);
  if (!events) return events;
  std::erase_if(*events, [&](const EventEntry& e) { return e.commit_lsn < from || e.commit_lsn >= to; });
  return events;
}

IndexResult<std::vector<EventEntry>> IndexView::events_by_time(TimestampTz from, TimestampTz to) {
  auto events = all_events(wal::Lsn(), wal::Lsn(UINT64_MAX));
  if (!events) return events;
  std::erase_if(*events, [&](const EventEntry& e) { return e.commit_time < from || e.commit_time > to; });
  return events;
}

std::vector<SegmentSummary> IndexView::segments() const {
  std::vector<SegmentSummary> out;
  for (const RunReader& run : runs_) out.insert(out.end(), run.segments().begin(), run.segments().end());
  return out;
}

uint64_t IndexView::commit_count() const {
  uint64_t n = tip_commits_.size();
  for (const RunReader& run : runs_) n += run.commit_count();
  return n;
}

}  // namespace walvault::format
