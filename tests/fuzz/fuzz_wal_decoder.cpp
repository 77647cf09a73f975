// Fuzz target for the WAL decoder, the rmgr descriptions and the event tracker (of the version the WAL names).
// Input: raw WAL pages. The start LSN is the first page's own address (rounded to a page), segments are 1 MiB,
// and the bytes are fed in pieces whose sizes derive from the input, so splits land anywhere. Invariants: no
// crash, no out-of-bounds read (ASan), and every returned record's CRC matches its bytes.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>

#include "wal/decoder.hpp"
#include "wal/events.hpp"
#include "wal/rmgr.hpp"

namespace wal = walvault::wal;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < wal::kShortPageHeaderSize) return 0;
  const auto bytes = std::as_bytes(std::span<const uint8_t>(data, size));
  uint64_t address = 0;
  std::memcpy(&address, data + 8, sizeof address);
  const wal::Lsn start(address & ~uint64_t{wal::kWalPageSize - 1});
  wal::DecoderConfig config;
  config.segment_size = 1U << 20;
  config.max_record_size = 64U << 20;
  wal::StreamDecoder decoder(config, start);
  std::optional<wal::EventTracker> tracker;  // of the version the first page header names
  size_t off = 0;
  uint32_t piece_seed = static_cast<uint32_t>(size) * 2654435761U;
  for (;;) {
    const wal::Step step = decoder.next();
    if (step.status == wal::Status::kRecord) {
      const wal::Record& r = *step.record;
      if (wal::record_crc(r.bytes) != r.crc || r.bytes.size() != r.tot_len) __builtin_trap();
      const wal::WalFormat& format = *decoder.format();
      if (!tracker) tracker.emplace(format, wal::EventConfig{.mass_rows_threshold = 2, .max_transactions = 64});
      (void)wal::describe(r, format);
      (void)tracker->observe(r);
      continue;
    }
    if (step.status != wal::Status::kNeedMore) return 0;
    const uint64_t wanted = decoder.wanted() - start;
    if (wanted > off) off = static_cast<size_t>(std::min<uint64_t>(wanted, size));
    if (off >= size) {
      (void)decoder.end_of_input();
      return 0;
    }
    piece_seed = piece_seed * 1103515245U + 12345U;
    const size_t n = std::min<size_t>(1 + (piece_seed >> 16) % 9000, size - off);
    decoder.feed(start + off, bytes.subspan(off, n));
    off += n;
  }
}
