#include "archive/index_problems.hpp"

#include <cstdio>
#include <nlohmann/json.hpp>

namespace walvault::archive {

std::string index_problem_object_name(wal::TimelineId timeline, wal::Lsn lsn) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "index/%08X/problem-%016llX.json", timeline.value(),
                static_cast<unsigned long long>(lsn.value()));
  return buf;
}

std::optional<IndexProblemName> parse_index_problem_object_name(std::string_view name) {
  // index/TTTTTTTT/problem-<16>.json
  constexpr std::string_view kStem = "/problem-";
  if (name.size() != 6 + 8 + kStem.size() + 16 + 5 || !name.starts_with("index/") ||
      name.substr(14, kStem.size()) != kStem || !name.ends_with(".json")) {
    return std::nullopt;
  }
  const auto hex = [](std::string_view text) -> std::optional<uint64_t> {
    uint64_t value = 0;
    for (const char c : text) {
      const int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (digit < 0) return std::nullopt;
      value = value << 4 | static_cast<uint64_t>(digit);
    }
    return value;
  };
  const auto tli = hex(name.substr(6, 8));
  const auto lsn = hex(name.substr(14 + kStem.size(), 16));
  if (!tli || !lsn || *tli == 0) return std::nullopt;
  return IndexProblemName{wal::TimelineId(static_cast<uint32_t>(*tli)), wal::Lsn(*lsn)};
}

std::string encode_index_problem(const IndexProblem& p) {
  nlohmann::ordered_json j;
  j["timeline"] = p.timeline.value();
  j["lsn"] = p.lsn.to_string();
  j["until"] = p.until.to_string();
  j["kind"] = p.kind;
  j["message"] = p.message;
  return j.dump() + "\n";
}

std::optional<IndexProblem> decode_index_problem(std::string_view text) {
  const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  try {
    IndexProblem p;
    p.timeline = wal::TimelineId(j.at("timeline").get<uint32_t>());
    const auto lsn = wal::Lsn::parse(j.at("lsn").get<std::string>());
    const auto until = wal::Lsn::parse(j.at("until").get<std::string>());
    if (!lsn || !until) return std::nullopt;
    p.lsn = *lsn;
    p.until = *until;
    p.kind = j.at("kind").get<std::string>();
    p.message = j.at("message").get<std::string>();
    return p;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

void record_index_problem(storage::Storage& storage, const IndexProblem& problem) {
  const std::string name = index_problem_object_name(problem.timeline, problem.lsn);
  if (storage.info(name)) return;
  const std::string text = encode_index_problem(problem);
  storage.write_atomic(name, std::as_bytes(std::span(text)));
}

std::vector<IndexProblem> read_index_problems(const storage::Storage& storage) {
  std::vector<IndexProblem> out;
  for (const auto& object : storage.list("index/")) {
    const auto name = parse_index_problem_object_name(object.name);
    if (!name) continue;
    storage::Bytes bytes;
    try {
      bytes = storage.read(object.name);
    } catch (const Error& e) {
      if (e.code() == ErrorCode::kNotFound) continue;  // removed by expire meanwhile
      throw;
    }
    auto problem = decode_index_problem(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    if (!problem) {
      problem = IndexProblem{name->timeline, name->lsn, name->lsn, "damaged",
                             "index problem record " + object.name + " is damaged"};
    }
    out.push_back(std::move(*problem));
  }
  return out;
}

}  // namespace walvault::archive
