// Index problems: WAL that the streamer's indexer could not turn into index entries, recorded in the repository so
// that the loss of index entries is never silent (object "index/<TTTTTTTT>/problem-<16-hex LSN>.json",
// format/FORMAT.md).
//
// Object names: format::problem_object_name and parse_problem_object_name. Three kinds: "unparsable_commit" (a
// commit or abort record that passed its CRC check but does not parse in the repository's PostgreSQL version: that
// transaction's commit and events are missing from the index) and "undecodable_wal" (the decoder stopped inside
// archived WAL: commits and events from `lsn` to `until`, the next segment start, are missing) and
// "undecodable_catalog_change" (a pg_attribute row update only in a compressed page image: a drop_column event of
// the transaction committing at `until` may be missing). The WAL itself is intact in both cases; restores by LSN still
// work. `verify` reports every problem object, `status` counts them, and `expire` removes them with the WAL they
// describe.
//
// record_index_problem() writes the object once (deterministic content, so a second streamer run that meets the
// same record writes the same bytes). Objects are sealed (format/sealed_object.hpp). Errors: Storage errors pass
// through (kIo); decoding returns what is wrong as a value.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "format/sealed_object.hpp"
#include "storage/storage.hpp"
#include "wal/expected.hpp"
#include "wal/lsn.hpp"

namespace walvault::archive {

struct IndexProblem {
  wal::TimelineId timeline;
  wal::Lsn lsn;          // where the problem is
  wal::Lsn until;        // the index misses entries in [lsn, until)
  std::string kind;      // "unparsable_commit", "undecodable_wal" or "undecodable_catalog_change"
  std::string message;   // lowercase, one line

  bool operator==(const IndexProblem&) const = default;
};

[[nodiscard]] std::string encode_index_problem(const IndexProblem& problem);
[[nodiscard]] Expected<IndexProblem, std::string> decode_index_problem(std::string_view text, format::SealRule rule);

// Stores the problem unless an object for its timeline and LSN exists already.
void record_index_problem(storage::Storage& storage, const IndexProblem& problem);
// The problem object `name` (a problem object's name). One that does not decode (or fails its seal) is returned
// with kind "damaged" and a message naming the object and what is wrong.
// Throws kNotFound, kIo.
[[nodiscard]] IndexProblem read_index_problem(const storage::Storage& storage, const std::string& name);
// Every problem object of the repository, by name (read_index_problem; one removed meanwhile is skipped).
[[nodiscard]] std::vector<IndexProblem> read_index_problems(const storage::Storage& storage);

}  // namespace walvault::archive
