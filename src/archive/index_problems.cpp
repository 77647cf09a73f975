#include "archive/index_problems.hpp"

#include <nlohmann/json.hpp>

#include "format/index.hpp"
#include "repo/repository.hpp"

namespace walvault::archive {

std::string encode_index_problem(const IndexProblem& p) {
  nlohmann::ordered_json j;
  j["timeline"] = p.timeline.value();
  j["lsn"] = p.lsn.to_string();
  j["until"] = p.until.to_string();
  j["kind"] = p.kind;
  j["message"] = p.message;
  return format::seal_json(std::move(j));
}

Expected<IndexProblem, std::string> decode_index_problem(std::string_view text, format::SealRule rule) {
  const auto opened = format::open_sealed_json(text, rule);
  if (!opened) return Unexpected(opened.error());
  const nlohmann::json& j = opened->value;
  const auto malformed = [] { return Unexpected(std::string("does not hold an index problem's fields")); };
  try {
    IndexProblem p;
    p.timeline = wal::TimelineId(j.at("timeline").get<uint32_t>());
    const auto lsn = wal::Lsn::parse(j.at("lsn").get<std::string>());
    const auto until = wal::Lsn::parse(j.at("until").get<std::string>());
    if (!lsn || !until) return malformed();
    p.lsn = *lsn;
    p.until = *until;
    p.kind = j.at("kind").get<std::string>();
    p.message = j.at("message").get<std::string>();
    return p;
  } catch (const nlohmann::json::exception&) {
    return malformed();
  }
}

void record_index_problem(storage::Storage& storage, const IndexProblem& problem) {
  const std::string name = format::problem_object_name(problem.timeline, problem.lsn);
  if (storage.info(name)) return;
  const std::string text = encode_index_problem(problem);
  storage.write_atomic(name, std::as_bytes(std::span(text)));
}

IndexProblem read_index_problem(const storage::Storage& storage, const std::string& name) {
  const auto bytes = storage.read(name);
  auto problem = decode_index_problem(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()),
                                      repo::seal_rule(storage));
  if (problem) return std::move(problem).value();
  const auto parsed = format::parse_problem_object_name(name);
  const wal::Lsn lsn = parsed ? parsed->lsn : wal::Lsn();
  return IndexProblem{parsed ? parsed->timeline : wal::TimelineId(), lsn, lsn, "damaged",
                      "index problem record " + name + " is damaged: it " + problem.error()};
}

std::vector<IndexProblem> read_index_problems(const storage::Storage& storage) {
  std::vector<IndexProblem> out;
  for (const auto& object : storage.list("index/")) {
    if (!format::parse_problem_object_name(object.name)) continue;
    try {
      out.push_back(read_index_problem(storage, object.name));
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kNotFound) throw;  // else removed by expire meanwhile
    }
  }
  return out;
}

}  // namespace walvault::archive
