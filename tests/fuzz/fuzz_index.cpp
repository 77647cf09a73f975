// Fuzz target: the index run and tip log readers. The first input byte picks the reader; the rest is the object.
// Any input must give a value or an IndexError, never a crash, including lookups on a run that opened.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "format/index.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace walvault::format;
  if (size == 0) return 0;
  const std::span<const std::byte> object(reinterpret_cast<const std::byte*>(data + 1), size - 1);
  if ((data[0] & 1) != 0) {
    (void)parse_tip_log(object);
    return 0;
  }
  (void)decode_run(object);
  auto run = RunReader::open(object);
  if (!run) return 0;
  for (const TimestampTz t : {TimestampTz{0}, TimestampTz{250}, kNoTime, INT64_MAX}) {
    auto pos = run->first_after(t);
    if (pos && pos->has_value()) (void)run->commit_at(**pos);
  }
  (void)run->find_xid(702);
  (void)run->events();
  IndexView view({std::move(*run)}, {}, {});
  (void)view.lookup_time(300);
  return 0;
}
