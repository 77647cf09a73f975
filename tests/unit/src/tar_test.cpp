#include "restore/tar.hpp"

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

using walvault::restore::normalize_entry_path;
using walvault::restore::TarEntry;
using walvault::restore::TarEntryType;
using walvault::restore::TarReader;

namespace {

using Bytes = std::vector<std::byte>;

void put(Bytes& block, std::size_t offset, const std::string& text) {
  std::memcpy(block.data() + offset, text.data(), text.size());
}

void put_octal(Bytes& block, std::size_t offset, std::size_t width, uint64_t value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%0*llo", static_cast<int>(width - 1), static_cast<unsigned long long>(value));
  put(block, offset, buf);
}

struct Member {
  Member(std::string n, char t = '0', std::string c = {}, std::string l = {}, std::string p = {})
      : name(std::move(n)), type(t), content(std::move(c)), link(std::move(l)), prefix(std::move(p)) {}
  std::string name;
  char type;
  std::string content;
  std::string link;
  std::string prefix;
};

Bytes header(const Member& m, uint64_t size) {
  Bytes block(512);
  put(block, 0, m.name.substr(0, 100));
  put_octal(block, 100, 8, 0600);
  put_octal(block, 108, 8, 0);
  put_octal(block, 116, 8, 0);
  put_octal(block, 124, 12, size);
  put_octal(block, 136, 12, 1700000000);
  block[156] = static_cast<std::byte>(m.type);
  put(block, 157, m.link);
  put(block, 257,
      std::string("ustar\0"
                  "00",
                  8));
  put(block, 345, m.prefix);
  put(block, 148, "        ");
  unsigned sum = 0;
  for (const auto b : block) sum += static_cast<uint8_t>(b);
  put_octal(block, 148, 7, sum);
  return block;
}

void append(Bytes& out, const Member& m) {
  const Bytes h = header(m, m.content.size());
  out.insert(out.end(), h.begin(), h.end());
  for (const char c : m.content) out.push_back(static_cast<std::byte>(c));
  out.resize(out.size() + (512 - m.content.size() % 512) % 512);
}

Bytes archive(const std::vector<Member>& members) {
  Bytes out;
  for (const auto& m : members) append(out, m);
  out.resize(out.size() + 1024);
  return out;
}

struct Recorder final : walvault::restore::TarHandler {
  std::vector<TarEntry> entries;
  std::vector<std::string> contents;
  int ends = 0;
  void entry(const TarEntry& e) override {
    entries.push_back(e);
    contents.emplace_back();
  }
  void data(std::span<const std::byte> bytes) override {
    contents.back().append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
  void entry_end() override { ++ends; }
};

// Feeds the archive in pieces of `step` bytes; returns the first error, or "" on success.
std::string feed(const Bytes& tar, Recorder& rec, std::size_t step) {
  TarReader reader(rec);
  for (std::size_t pos = 0; pos < tar.size(); pos += step) {
    const auto r = reader.feed(std::span(tar).subspan(pos, std::min(step, tar.size() - pos)));
    if (!r) return r.error();
  }
  const auto done = reader.finish();
  return done ? "" : done.error();
}

}  // namespace

TEST_CASE("tar members stream out whatever the piece size", "[restore][tar]") {
  const std::string big(70000, 'x');
  const Bytes tar = archive({{"backup_label", '0', "START WAL LOCATION: 0/3000028\n"},
                             {"global/", '5'},
                             {"pg_tblspc/16384", '2', "", "/srv/ts"},
                             {"empty", '0', ""},
                             {"base/1/1259", '0', big}});
  for (const std::size_t step : {std::size_t{1}, std::size_t{511}, std::size_t{512}, std::size_t{4096}, tar.size()}) {
    Recorder rec;
    REQUIRE(feed(tar, rec, step).empty());
    REQUIRE(rec.entries.size() == 5);
    CHECK(rec.ends == 5);
    CHECK(rec.entries[0].path == "backup_label");
    CHECK(rec.contents[0] == "START WAL LOCATION: 0/3000028\n");
    CHECK(rec.entries[0].mode == 0600);
    CHECK(rec.entries[0].mtime == 1700000000);
    CHECK(rec.entries[1].path == "global");
    CHECK(rec.entries[1].type == TarEntryType::kDirectory);
    CHECK(rec.entries[2].type == TarEntryType::kSymlink);
    CHECK(rec.entries[2].link_target == "/srv/ts");
    CHECK(rec.entries[3].size == 0);
    CHECK(rec.contents[4] == big);
  }
}

TEST_CASE("tar long names: ustar prefix, pax path and GNU long name", "[restore][tar]") {
  const std::string dir(120, 'd');
  const std::string pax_record = "path=" + dir + "/pax-file\n";
  const std::string pax = std::to_string(pax_record.size() + 4) + " " + pax_record;
  REQUIRE(pax.size() == pax_record.size() + 4);  // "NNN " prefix is 4 characters here
  const Bytes tar = archive({{"file", '0', "a", "", dir},
                             {"PaxHeader", 'x', pax},
                             {"short", '0', "b"},
                             {"././@LongLink", 'L', dir + "/gnu-file"},
                             {"trunc", '0', "c"}});
  Recorder rec;
  REQUIRE(feed(tar, rec, 100).empty());
  REQUIRE(rec.entries.size() == 3);
  CHECK(rec.entries[0].path == dir + "/file");
  CHECK(rec.entries[1].path == dir + "/pax-file");
  CHECK(rec.entries[2].path == dir + "/gnu-file");
  CHECK(rec.contents[2] == "c");
}

TEST_CASE("tar refuses traversal, odd types, bad checksums and truncation", "[restore][tar]") {
  Recorder rec;
  CHECK(feed(archive({{"../etc/passwd", '0', "x"}}), rec, 512) ==
        "tar entry \"../etc/passwd\" leaves the target directory (\"..\")");
  CHECK(feed(archive({{"a/../../b", '0', "x"}}), rec, 512) ==
        "tar entry \"a/../../b\" leaves the target directory (\"..\")");
  CHECK(feed(archive({{"/etc/passwd", '0', "x"}}), rec, 512) == "tar entry \"/etc/passwd\" has an absolute name");
  CHECK(feed(archive({{"dev", '3'}}), rec, 512) ==
        "tar entry \"dev\" has unsupported type '3' (only files, directories and symbolic links are allowed)");
  CHECK(feed(archive({{"hard", '1', "", "base/1/1"}}), rec, 512).find("unsupported type '1'") != std::string::npos);

  Bytes bad = archive({{"file", '0', "x"}});
  bad[0] = std::byte{'g'};
  CHECK(feed(bad, rec, 512) == "tar header checksum mismatch");

  Bytes cut = archive({{"file", '0', std::string(1000, 'y')}});
  cut.resize(700);
  CHECK(feed(cut, rec, 512) == "the tar archive is truncated (no end-of-archive marker)");

  Bytes trailing = archive({{"file", '0', "x"}});
  trailing.push_back(std::byte{1});
  CHECK(feed(trailing, rec, 512) == "data after the end of the tar archive");
}

TEST_CASE("tar member names normalize", "[restore][tar]") {
  CHECK(*normalize_entry_path("./base/1/") == "base/1");
  CHECK(*normalize_entry_path("global/pg_control") == "global/pg_control");
  CHECK_FALSE(normalize_entry_path(""));
  CHECK_FALSE(normalize_entry_path("."));
  CHECK_FALSE(normalize_entry_path("a//b"));
  CHECK_FALSE(normalize_entry_path("a/./b"));
  CHECK_FALSE(normalize_entry_path(".."));
}
