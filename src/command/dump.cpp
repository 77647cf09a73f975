#include "command/dump.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "common/error.hpp"
#include "common/log.hpp"
#include "storage/io_bytes.hpp"
#include "wal/decoder.hpp"
#include "wal/events.hpp"
#include "wal/page.hpp"
#include "wal/rmgr.hpp"

namespace walvault::command {
namespace {

constexpr size_t kChunkSize = 1U << 20;

class Fd {
 public:
  explicit Fd(const std::string& path) : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {
    if (fd_ < 0) {
      throw Error(ErrorCode::kIo, "cannot open " + path + ": " + std::strerror(errno), "check the path");
    }
  }
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  // Reads up to size bytes at offset; fewer only at end of file.
  size_t pread_all(std::byte* buf, size_t size, uint64_t offset, const std::string& path) const {
    size_t done = 0;
    while (done < size) {
      const ssize_t n = ::pread(fd_, buf + done, size - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw Error(ErrorCode::kIo, "cannot read " + path + ": " + std::strerror(errno));
      if (n == 0) break;
      done += static_cast<size_t>(n);
    }
    return done;
  }

 private:
  int fd_;
};

// Serves WAL from a set of segment files, keyed by segment number, one chunk at a time.
class FileSetSource : public wal::PageSource {
 public:
  FileSetSource(std::map<uint64_t, std::string> files, uint32_t segment_size)
      : files_(std::move(files)), segment_size_(segment_size), buffer_(kChunkSize) {}

  wal::SourceRead read(wal::Lsn wanted) override {
    const uint64_t segno = wal::segment_of(wanted, segment_size_).value();
    const auto it = files_.find(segno);
    if (it == files_.end()) return {wal::SourceRead::Kind::kEnd, {}, {}};
    if (segno != open_segno_ || !fd_) {
      fd_.reset();
      fd_ = std::make_unique<Fd>(it->second);
      open_segno_ = segno;
    }
    const uint64_t offset = wal::segment_offset(wanted, segment_size_) & ~uint64_t{wal::kWalPageSize - 1};
    const size_t size = static_cast<size_t>(std::min<uint64_t>(kChunkSize, segment_size_ - offset));
    const size_t got = fd_->pread_all(buffer_.data(), size, offset, it->second);
    const wal::Lsn start = wal::segment_start(wal::SegmentNo(segno), segment_size_) + offset;
    if (start + got <= wanted) return {wal::SourceRead::Kind::kEnd, {}, {}};
    return {wal::SourceRead::Kind::kData, start, std::span<const std::byte>(buffer_.data(), got)};
  }

 private:
  std::map<uint64_t, std::string> files_;
  uint32_t segment_size_;
  storage::IoBytes buffer_;
  std::unique_ptr<Fd> fd_;
  uint64_t open_segno_ = 0;
};

wal::PageHeader first_long_header(const std::string& path) {
  const Fd fd(path);
  std::array<std::byte, wal::kLongPageHeaderSize> buf{};
  const size_t got = fd.pread_all(buf.data(), buf.size(), 0, path);
  auto header = wal::parse_page_header(std::span<const std::byte>(buf.data(), got));
  if (!header) {
    throw Error(ErrorCode::kCorrupt, path + ": " + header.error().message,
                header.error().kind == wal::PageErrorKind::kUnknownMagic
                    ? "walvault reads the wal of " + wal::supported_versions_text() +
                          "; use the pg_waldump of the version that wrote it"
                    : "is this a wal segment file?");
  }
  if (!header->is_long()) {
    throw Error(ErrorCode::kCorrupt, path + ": first page has no long header", "is this a wal segment file?");
  }
  return *header;
}

// True when the decoder stopped where the WAL the files hold really ends: unwritten (zeroed) or recycled pages, or
// the end of the files, in or after the last segment given. Anything else (an invalid or damaged record, a page that
// cannot continue the WAL, a missing segment file, any stop before the last segment) leaves input unread.
bool ends_input(const wal::Problem& problem, const std::map<uint64_t, std::string>& files, uint32_t segment_size) {
  const bool at_end = wal::segment_of(problem.lsn, segment_size).value() >= files.rbegin()->first;
  switch (problem.kind) {
    case wal::ProblemKind::kEndOfSource:
    case wal::ProblemKind::kIncomplete:
    case wal::ProblemKind::kZeroed:
    case wal::ProblemKind::kRecycled:
      return at_end;
    default:
      return false;
  }
}

std::string padded_lsn(wal::Lsn lsn) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%X/%08X", static_cast<uint32_t>(lsn.value() >> 32),
                static_cast<uint32_t>(lsn.value()));
  return buf;
}

std::string rel_text(const wal::RelFileNode& r) {
  return std::to_string(r.spc) + "/" + std::to_string(r.db) + "/" + std::to_string(r.rel);
}

uint32_t fpi_bytes(const wal::Record& rec) {
  uint32_t total = 0;
  for (const auto& b : rec.blocks) total += static_cast<uint32_t>(b.image.size());
  return total;
}

struct RmgrStats {
  uint64_t count = 0;
  uint64_t record_bytes = 0;
  uint64_t fpi_bytes = 0;
};

nlohmann::json commit_json(const wal::Commit& c) {
  nlohmann::json rels = nlohmann::json::array();
  for (const auto& r : c.dropped_rels) rels.push_back(rel_text(r));
  return {
      {"type", c.aborted ? "abort" : "commit"},
      {"xid", c.xid},
      {"lsn", c.lsn.to_string()},
      {"end_lsn", c.end_lsn.to_string()},
      {"time", wal::format_timestamp(c.time)},
      {"prepared", c.prepared},
      {"db", c.db},
      {"subxacts", c.subxacts},
      {"dropped_rels", rels},
      {"undecodable_catalog_change",
       c.undecodable_catalog_change ? nlohmann::json(c.undecodable_catalog_change->to_string()) : nlohmann::json()}};
}

nlohmann::json event_json(const wal::Event& e) {
  nlohmann::json rels = nlohmann::json::array();
  for (const auto& r : e.relfilenodes) rels.push_back(rel_text(r));
  nlohmann::json oids = nlohmann::json::array();
  for (const auto& o : e.rel_oids) oids.push_back({{"db", o.db}, {"rel", o.rel}});
  nlohmann::json columns = nlohmann::json::array();
  for (const auto& c : e.columns) {
    nlohmann::json column = {{"rel", c.rel}, {"attnum", c.attnum}};
    if (c.type_known) {
      column["type_oid"] = c.type_oid;
      column["typmod"] = c.typmod;
    }
    columns.push_back(column);
  }
  return {{"type", "event"},
          {"kind", std::string(wal::event_kind_name(e.kind))},
          {"xid", e.xid},
          {"commit_lsn", e.commit_lsn.to_string()},
          {"commit_end_lsn", e.commit_end_lsn.to_string()},
          {"commit_time", wal::format_timestamp(e.commit_time)},
          {"db", e.db},
          {"relfilenodes", rels},
          {"rel_oids", oids},
          {"rows", e.rows},
          {"first_lsn", e.first_lsn.to_string()},
          {"columns", columns}};
}

void print_commit(const wal::Commit& c) {
  std::printf("%s xid %u lsn %s end %s time %s db %u", c.aborted ? (c.prepared ? "ABORT_PREPARED" : "ABORT")
                                                                   : (c.prepared ? "COMMIT_PREPARED" : "COMMIT"),
              c.xid, c.lsn.to_string().c_str(), c.end_lsn.to_string().c_str(), wal::format_timestamp(c.time).c_str(),
              c.db);
  if (!c.subxacts.empty()) {
    std::printf(" subxacts");
    for (const auto s : c.subxacts) std::printf(" %u", s);
  }
  if (!c.dropped_rels.empty()) {
    std::printf(" rels");
    for (const auto& r : c.dropped_rels) std::printf(" %s", rel_text(r).c_str());
  }
  std::printf("\n");
}

void print_event(const wal::Event& e) {
  std::printf("EVENT %s xid %u commit_lsn %s commit_end_lsn %s time %s db %u first_lsn %s",
              std::string(wal::event_kind_name(e.kind)).c_str(), e.xid, e.commit_lsn.to_string().c_str(),
              e.commit_end_lsn.to_string().c_str(), wal::format_timestamp(e.commit_time).c_str(), e.db,
              e.first_lsn.to_string().c_str());
  if (e.rows != 0) std::printf(" rows %llu", static_cast<unsigned long long>(e.rows));
  if (!e.relfilenodes.empty()) {
    std::printf(" rels");
    for (const auto& r : e.relfilenodes) std::printf(" %s", rel_text(r).c_str());
  }
  if (!e.rel_oids.empty()) {
    std::printf(" oids");
    for (const auto& o : e.rel_oids) std::printf(" %u/%u", o.db, o.rel);
  }
  if (!e.columns.empty()) {
    std::printf(" columns");
    for (const auto& c : e.columns) {
      std::printf(" %u.%d", c.rel, c.attnum);
      if (c.type_known) std::printf(":%u(%d)", c.type_oid, c.typmod);
    }
  }
  std::printf("\n");
}

}  // namespace

int run_dump(const DumpOptions& options) {
  if (options.files.empty()) throw Error(ErrorCode::kUsage, "no wal files given", "run 'walvault dump --help'");
  const wal::PageHeader first = first_long_header(options.files.front());
  std::map<uint64_t, std::string> files;
  for (const auto& path : options.files) {
    const std::string name = std::filesystem::path(path).filename().string();
    const auto parsed = wal::parse_segment_file_name(name, first.segment_size);
    if (!parsed) {
      throw Error(ErrorCode::kUsage, "not a wal segment file name: " + name,
                  "wal segment files are named like 000000010000000000000001");
    }
    files.emplace(parsed->segno.value(), path);
  }
  const wal::Lsn start = wal::segment_start(wal::SegmentNo(files.begin()->first), first.segment_size);
  FileSetSource source(files, first.segment_size);
  // first_long_header() accepted the magic: it is a supported version's, and every page must carry it.
  const wal::WalFormat format = *wal::wal_format_for_magic(first.magic);
  wal::DecoderConfig config;
  config.segment_size = first.segment_size;
  config.pg_major = format.pg_major;
  wal::Reader reader(source, config, start);
  wal::EventConfig event_config;
  event_config.mass_rows_threshold = options.mass_rows_threshold;
  wal::EventTracker tracker(format, event_config);

  std::array<RmgrStats, 256> stats{};
  uint64_t records = 0;
  uint64_t malformed = 0;
  wal::Lsn first_malformed;
  wal::Step step;
  for (step = reader.next(); step.status == wal::Status::kRecord; step = reader.next()) {
    const wal::Record& rec = *step.record;
    ++records;
    const wal::Observed observed = tracker.observe(rec);
    if (observed == wal::Observed::kMalformedFinish) {
      if (malformed++ == 0) first_malformed = rec.lsn;
      log::error("commit or abort record at " + rec.lsn.to_string() + " (xid " + std::to_string(rec.xid) +
                 ") does not parse as PostgreSQL " + std::to_string(format.pg_major) + " wal");
    }
    const bool finished = observed == wal::Observed::kFinished;
    if (options.stats) {
      auto& s = stats[rec.rmid];
      ++s.count;
      const uint32_t fpi = fpi_bytes(rec);
      s.record_bytes += rec.tot_len - fpi;
      s.fpi_bytes += fpi;
    } else if (options.events) {
      if (!finished) continue;
      if (options.json) {
        std::printf("%s\n", commit_json(tracker.commit()).dump().c_str());
        for (const auto& e : tracker.events()) std::printf("%s\n", event_json(e).dump().c_str());
      } else {
        print_commit(tracker.commit());
        for (const auto& e : tracker.events()) print_event(e);
      }
    } else if (options.json) {
      const nlohmann::json j = {{"type", "record"},
                                {"lsn", rec.lsn.to_string()},
                                {"prev", rec.prev.to_string()},
                                {"rmgr", wal::rmgr_name(rec.rmid)},
                                {"tot_len", rec.tot_len},
                                {"xid", rec.xid},
                                {"desc", wal::describe(rec, format)}};
      std::printf("%s\n", j.dump().c_str());
    } else {
      std::printf("rmgr: %-11s len (rec/tot): %6u/%8u, tx: %10u, lsn: %s, prev %s, desc: %s\n",
                  wal::rmgr_name(rec.rmid).c_str(), rec.tot_len - fpi_bytes(rec), rec.tot_len, rec.xid,
                  padded_lsn(rec.lsn).c_str(), padded_lsn(rec.prev).c_str(), wal::describe(rec, format).c_str());
    }
  }
  if (options.stats) {
    uint64_t total = 0;
    for (const auto& s : stats) total += s.record_bytes + s.fpi_bytes;
    if (options.json) {
      nlohmann::json rows = nlohmann::json::array();
      for (size_t i = 0; i < stats.size(); ++i) {
        if (stats[i].count == 0) continue;
        rows.push_back({{"rmgr", wal::rmgr_name(static_cast<uint8_t>(i))},
                        {"count", stats[i].count},
                        {"record_bytes", stats[i].record_bytes},
                        {"fpi_bytes", stats[i].fpi_bytes}});
      }
      std::printf("%s\n", nlohmann::json{{"type", "stats"}, {"records", records}, {"bytes", total}, {"rmgrs", rows}}
                              .dump()
                              .c_str());
    } else {
      std::printf("%-18s %10s %14s %14s %14s\n", "Type", "N", "Record size", "FPI size", "Combined size");
      for (size_t i = 0; i < stats.size(); ++i) {
        const auto& s = stats[i];
        if (s.count == 0) continue;
        std::printf("%-18s %10llu %14llu %14llu %14llu\n", wal::rmgr_name(static_cast<uint8_t>(i)).c_str(),
                    static_cast<unsigned long long>(s.count), static_cast<unsigned long long>(s.record_bytes),
                    static_cast<unsigned long long>(s.fpi_bytes),
                    static_cast<unsigned long long>(s.record_bytes + s.fpi_bytes));
      }
      std::printf("%-18s %10llu %44llu\n", "Total", static_cast<unsigned long long>(records),
                  static_cast<unsigned long long>(total));
    }
  }
  std::fflush(stdout);
  const wal::Problem& problem = *step.problem;
  if (step.status == wal::Status::kError) {
    throw Error(ErrorCode::kCorrupt, "wal at " + problem.lsn.to_string() + ": " + problem.message,
                "the files are not one cluster's wal, or are damaged");
  }
  if (!ends_input(problem, files, first.segment_size)) {
    throw Error(ErrorCode::kCorrupt,
                "wal at " + problem.lsn.to_string() + ": " + problem.message + "; the listing stops there",
                "the wal is damaged or missing a segment before the end of the files given");
  }
  if (problem.kind != wal::ProblemKind::kEndOfSource) log::info("end of wal: " + problem.message);
  if (malformed > 0) {
    throw Error(ErrorCode::kCorrupt,
                std::to_string(malformed) + " commit or abort record(s) do not parse, the first at " +
                    first_malformed.to_string(),
                "the wal is damaged, or is not PostgreSQL " + std::to_string(format.pg_major) + " wal");
  }
  return 0;
}

}  // namespace walvault::command
