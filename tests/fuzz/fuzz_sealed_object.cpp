// Fuzz target: the sealed-object readers (format/sealed_object.hpp). Any input must open as a value or an error
// under both rules, never crash; a JSON object that opens sealed must reseal to a text that opens to the same value.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "format/sealed_object.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace walvault::format;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)open_sealed_text(text, SealRule::kLegacyAccepted);
  (void)open_sealed_text(text, SealRule::kRequired);
  (void)open_sealed_json(text, SealRule::kLegacyAccepted);
  const auto opened = open_sealed_json(text, SealRule::kRequired);
  if (!opened) return 0;
  const auto again = open_sealed_json(seal_json(nlohmann::ordered_json(opened->value)), SealRule::kRequired);
  if (!again || again->value != opened->value) __builtin_trap();
  return 0;
}
