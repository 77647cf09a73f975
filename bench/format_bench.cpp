// Benchmarks of the repository format, driven by bench/format.sh (which builds and runs this file).
//   format_bench compress <level> <out_dir|-> <segment files...>   container write: CPU time and ratio
//   format_bench verify <container files...>                       decompress + verify: CPU time, GB/s raw
//   format_bench index-build <repo_dir> <commits> <commits_per_run>  write index runs of synthetic commits
//   format_bench index-lookup <repo_dir> <lookups>                  open_index + lookup_time, wall time each
// Times are CPU time of this process (CLOCK_PROCESS_CPUTIME_ID) for compress/verify, excluding file IO, and wall
// time for lookups (each lookup opens the index afresh).
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "format/index.hpp"
#include "format/segment_container.hpp"
#include "storage/index_store.hpp"
#include "storage/posix_storage.hpp"

namespace {

using namespace walvault;

double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

std::vector<std::byte> load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  const std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> out(chars.size());
  std::memcpy(out.data(), chars.data(), chars.size());
  return out;
}

std::string base_name(const std::string& path) { return path.substr(path.rfind('/') + 1); }

int compress(int level, const std::string& out_dir, const std::vector<std::string>& files) {
  uint64_t raw_total = 0;
  uint64_t stored_total = 0;
  double cpu = 0;
  std::vector<std::byte> object;
  for (const std::string& path : files) {
    const auto raw = load(path);
    const auto name = wal::parse_segment_file_name(base_name(path), 16U << 20);
    if (!name) {
      std::fprintf(stderr, "not a segment file name: %s\n", path.c_str());
      return 2;
    }
    format::ContainerHeader h;
    h.kind = format::ContainerKind::kSegment;
    h.system_identifier = 1;
    h.pg_version = 150000;
    h.timeline = name->timeline;
    h.segment_no = name->segno;
    h.segment_size = 16U << 20;
    h.start_lsn = wal::segment_start(name->segno, h.segment_size);
    object.clear();
    object.reserve(raw.size());
    const double start = cpu_seconds();
    auto w = format::ContainerWriter::create(
        h, [&](std::span<const std::byte> b) { object.insert(object.end(), b.begin(), b.end()); }, {level});
    if (!w || !w->append(raw) || !w->finish({})) return 3;
    cpu += cpu_seconds() - start;
    raw_total += raw.size();
    stored_total += object.size();
    if (out_dir != "-") {
      std::ofstream out(out_dir + "/" + base_name(path) + ".wvs", std::ios::binary);
      out.write(reinterpret_cast<const char*>(object.data()), static_cast<std::streamsize>(object.size()));
    }
  }
  std::printf("level=%d files=%zu raw_bytes=%llu stored_bytes=%llu ratio=%.3f cpu_s=%.3f cpu_s_per_gb=%.3f mb_s=%.1f\n",
              level, files.size(), static_cast<unsigned long long>(raw_total),
              static_cast<unsigned long long>(stored_total),
              static_cast<double>(raw_total) / static_cast<double>(stored_total), cpu,
              cpu / (static_cast<double>(raw_total) / 1e9), static_cast<double>(raw_total) / 1e6 / cpu);
  return 0;
}

int verify(const std::vector<std::string>& files) {
  format::ContainerReader reader;
  uint64_t raw_total = 0;
  double cpu = 0;
  std::vector<std::byte> out;
  for (const std::string& path : files) {
    const auto object = load(path);
    const double start = cpu_seconds();
    auto info = format::parse_container(object);
    if (!info) return 3;
    out.resize(info->raw_length);
    if (auto r = reader.decode_all(*info, object, out); !r) {
      std::fprintf(stderr, "%s: %s\n", path.c_str(), r.error().message.c_str());
      return 3;
    }
    cpu += cpu_seconds() - start;
    raw_total += info->raw_length;
  }
  std::printf("verify files=%zu raw_bytes=%llu cpu_s=%.3f gb_s=%.3f\n", files.size(),
              static_cast<unsigned long long>(raw_total), cpu, static_cast<double>(raw_total) / 1e9 / cpu);
  return 0;
}

constexpr uint32_t kSeg = 16U << 20;

int index_build(const std::string& dir, uint64_t commits, uint64_t per_run) {
  storage::PosixStorage storage(dir);
  std::mt19937_64 rng(1);
  format::TimestampTz clock = 817000000000000;
  uint64_t lsn = kSeg;
  uint64_t written = 0;
  while (written < commits) {
    format::RunContent run;
    run.system_identifier = 1;
    run.timeline = wal::TimelineId(1);
    run.first_lsn = wal::Lsn(lsn);
    const uint64_t n = std::min(per_run, commits - written);
    run.commits.reserve(n);
    for (uint64_t i = 0; i < n; ++i) {
      clock += static_cast<format::TimestampTz>(rng() % 200);
      lsn += 200 + rng() % 400;
      run.commits.push_back(format::CommitEntry{wal::Lsn(lsn), wal::Lsn(lsn + 40),
                                                clock - static_cast<format::TimestampTz>(rng() % 500),
                                                static_cast<uint32_t>(written + i + 1000), false});
    }
    lsn = (lsn / kSeg + 1) * kSeg;
    run.end_lsn = wal::Lsn(lsn);
    auto bytes = format::encode_run(run);
    if (!bytes) return 3;
    storage.write_atomic(format::run_object_name(run.timeline, run.first_lsn, run.end_lsn), *bytes);
    written += n;
  }
  std::printf("index-build commits=%llu runs=%zu first_time=817000000000000 last_time=%lld\n",
              static_cast<unsigned long long>(commits), storage.list("index/").size(), static_cast<long long>(clock));
  return 0;
}

int index_lookup(const std::string& dir, int lookups) {
  storage::PosixStorage storage(dir);
  std::mt19937_64 rng(2);
  std::vector<double> ms;
  format::TimestampTz lo = 817000000000000;
  format::TimestampTz hi = lo;
  {
    auto view = storage::open_index(storage, wal::TimelineId(1), kSeg);
    auto last = view.lookup_time(INT64_MAX - 1);
    if (!last || !last->last_at_or_before) return 3;
    hi = last->last_at_or_before->time;
  }
  for (int i = 0; i < lookups; ++i) {
    const format::TimestampTz t = lo + static_cast<format::TimestampTz>(rng() % static_cast<uint64_t>(hi - lo));
    const auto start = std::chrono::steady_clock::now();
    auto view = storage::open_index(storage, wal::TimelineId(1), kSeg);
    auto r = view.lookup_time(t);
    const auto end = std::chrono::steady_clock::now();
    if (!r || !r->first_after) return 3;
    ms.push_back(std::chrono::duration<double, std::milli>(end - start).count());
  }
  std::sort(ms.begin(), ms.end());
  std::printf("index-lookup lookups=%d p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n", lookups, ms[ms.size() / 2],
              ms[ms.size() * 99 / 100], ms.back());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() >= 3 && args[0] == "compress") {
    return compress(std::stoi(args[1]), args[2], std::vector<std::string>(args.begin() + 3, args.end()));
  }
  if (args.size() >= 2 && args[0] == "verify") return verify(std::vector<std::string>(args.begin() + 1, args.end()));
  if (args.size() == 4 && args[0] == "index-build") {
    return index_build(args[1], std::stoull(args[2]), std::stoull(args[3]));
  }
  if (args.size() == 3 && args[0] == "index-lookup") return index_lookup(args[1], std::stoi(args[2]));
  std::fprintf(stderr, "usage: see the top of bench/format_bench.cpp\n");
  return 2;
}
