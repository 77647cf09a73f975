#include "wal_fixtures.hpp"

#include <zstd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <regex>
#include <sstream>
#include <stdexcept>

namespace walvault::test {
namespace {

std::filesystem::path fixture_dir(int major) {
  return std::filesystem::path(WALVAULT_FIXTURE_DIR) / "wal" / ("pg" + std::to_string(major));
}

std::vector<char> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open fixture " + path.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<std::byte> decompress(const std::filesystem::path& path) {
  const auto packed = read_file(path);
  const unsigned long long size = ZSTD_getFrameContentSize(packed.data(), packed.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN) {
    throw std::runtime_error("bad zstd fixture " + path.string());
  }
  std::vector<std::byte> out(static_cast<size_t>(size));
  const size_t got = ZSTD_decompress(out.data(), out.size(), packed.data(), packed.size());
  if (ZSTD_isError(got) != 0 || got != out.size()) throw std::runtime_error("bad zstd fixture " + path.string());
  return out;
}

}  // namespace

const WalFixture& wal_fixture(int major) {
  static std::map<int, WalFixture> fixtures;
  if (const auto it = fixtures.find(major); it != fixtures.end()) return it->second;
  const auto dir = fixture_dir(major);
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const auto name = entry.path().filename().string();
    if (name.size() == 28 && name.ends_with(".zst")) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  WalFixture f;
  const auto first = wal::parse_segment_file_name(names.front().substr(0, 24), kFixtureSegmentSize);
  if (!first) throw std::runtime_error("bad fixture name " + names.front());
  f.start = wal::segment_start(first->segno, kFixtureSegmentSize);
  for (const auto& name : names) {
    const auto seg = decompress(dir / name);
    f.bytes.insert(f.bytes.end(), seg.begin(), seg.end());
  }
  return fixtures.emplace(major, std::move(f)).first->second;
}

std::string fixture_text(const std::string& name, int major) {
  const auto path = fixture_dir(major) / name;
  if (name.ends_with(".zst")) {
    const auto bytes = decompress(path);
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
  }
  const auto chars = read_file(path);
  return {chars.begin(), chars.end()};
}

std::vector<std::vector<std::string>> walinspect_rows(int major) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(fixture_text("pg_walinspect.tsv.zst", major));
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> fields;
    std::istringstream cells(line);
    for (std::string cell; std::getline(cells, cell, '\t');) fields.push_back(cell);
    rows.push_back(std::move(fields));
  }
  return rows;
}

const std::vector<GoldenRecord>& golden_records() {
  static const std::vector<GoldenRecord> records = [] {
    std::vector<GoldenRecord> out;
    std::istringstream in(fixture_text("pg_waldump.txt.zst"));
    const std::regex line(R"(^rmgr: (\S+)\s+len \(rec/tot\):\s+\d+/\s*(\d+), tx:\s+(\d+), lsn: (\S+), prev (\S+),)");
    std::string text;
    std::smatch m;
    while (std::getline(in, text)) {
      if (!std::regex_search(text, m, line)) continue;
      out.push_back({m[1].str(), static_cast<uint32_t>(std::stoul(m[2].str())),
                     static_cast<uint32_t>(std::stoul(m[3].str())), *wal::Lsn::parse(m[4].str()),
                     *wal::Lsn::parse(m[5].str())});
    }
    return out;
  }();
  return records;
}

}  // namespace walvault::test
