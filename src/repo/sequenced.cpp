#include "repo/sequenced.hpp"

#include <algorithm>
#include <charconv>

namespace walvault::repo {
namespace {

constexpr std::size_t kDigits = 20;

std::string name_of(std::string_view prefix, uint64_t sequence, std::string_view suffix) {
  std::string digits = std::to_string(sequence);
  digits.insert(0, kDigits - digits.size(), '0');
  return std::string(prefix) + digits + std::string(suffix);
}

}  // namespace

std::vector<SequencedObject> sequenced_objects(const storage::Storage& storage, std::string_view prefix,
                                               std::string_view suffix) {
  std::vector<SequencedObject> out;
  for (const auto& info : storage.list(prefix)) {
    std::string_view rest = std::string_view(info.name).substr(prefix.size());
    if (rest.size() != kDigits + suffix.size() || !rest.ends_with(suffix)) continue;
    uint64_t n = 0;
    const auto r = std::from_chars(rest.data(), rest.data() + kDigits, n);
    if (r.ec != std::errc() || r.ptr != rest.data() + kDigits) continue;
    out.push_back({n, info.name});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.sequence < b.sequence; });
  return out;
}

std::string next_sequenced_name(const storage::Storage& storage, std::string_view prefix, std::string_view suffix) {
  const auto objects = sequenced_objects(storage, prefix, suffix);
  return name_of(prefix, objects.empty() ? 1 : objects.back().sequence + 1, suffix);
}

}  // namespace walvault::repo
