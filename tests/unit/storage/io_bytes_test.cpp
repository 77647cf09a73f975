#include "storage/io_bytes.hpp"

#include <catch2/catch.hpp>
#include <cstdint>

namespace storage = walvault::storage;

namespace {

bool page_aligned(const std::byte* p) { return reinterpret_cast<std::uintptr_t>(p) % 4096 == 0; }

}  // namespace

TEST_CASE("io buffers are page-aligned at every size, through growth, copies and moves", "[storage][io]") {
  // malloc aligns to 16 only (a large vector's bytes start at a page + 16), which made the kernel's copies 4×
  // slower; these sizes cover glibc's heap (< 128 KiB) and its mmap path, and a 16 MiB segment.
  for (const std::size_t size :
       {std::size_t{1}, std::size_t{100}, std::size_t{64} << 10, std::size_t{1} << 20, std::size_t{16} << 20}) {
    storage::IoBytes buffer(size);
    CHECK(buffer.size() == size);
    CHECK(page_aligned(buffer.data()));
    buffer.resize(size * 3 + 1);
    CHECK(page_aligned(buffer.data()));
    const storage::IoBytes copy = buffer;
    CHECK(page_aligned(copy.data()));
    const storage::IoBytes moved = std::move(buffer);
    CHECK(page_aligned(moved.data()));
  }
}

TEST_CASE("io buffers still zero-fill when asked for a value", "[storage][io]") {
  storage::IoBytes buffer(1000, std::byte{0});
  buffer.resize(5000, std::byte{0});
  for (const std::byte b : buffer) REQUIRE(b == std::byte{0});
  storage::IoBytes filled(4096, std::byte{0xAB});
  CHECK(filled.back() == std::byte{0xAB});
}
