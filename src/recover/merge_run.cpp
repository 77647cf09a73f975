#include "recover/merge_run.hpp"

#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "common/error.hpp"
#include "common/stop_signals.hpp"

namespace walvault::recover {
namespace {

// The transactions of this database other than ours, each named by its virtual transaction id (which a new
// transaction never reuses) with its pid. pg_locks shows every session's to any role; the database and the kind of
// backend come from pg_stat_activity (backend_type is hidden from other roles: then counted, to be safe).
std::map<std::string, std::string> open_transactions(const pg::Connection& prod) {
  const pg::Result r = prod.exec(
      "SELECT l.virtualxid, l.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
      "WHERE l.locktype = 'virtualxid' AND l.granted AND l.pid <> pg_backend_pid() "
      "AND a.datid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
      "AND coalesce(a.backend_type, 'client backend') = 'client backend'");
  std::map<std::string, std::string> out;
  for (int i = 0; i < r.rows(); ++i) out.emplace(r.value(i, 0), r.value(i, 1));
  return out;
}

// Waits until every transaction open now has ended (kUnsafe after kOldTransactionWait).
void wait_for_open_transactions(const pg::Connection& prod) {
  const std::map<std::string, std::string> before = open_transactions(prod);
  const auto deadline = std::chrono::steady_clock::now() + kOldTransactionWait;
  bool said = false;
  for (;;) {
    std::set<std::string> pids;
    for (const auto& [vxid, pid] : open_transactions(prod)) {
      if (before.contains(vxid)) pids.insert(pid);
    }
    if (pids.empty()) return;
    throw_if_stopped("recover");
    std::string list;
    for (const auto& pid : pids) list += (list.empty() ? "" : ", ") + pid;
    if (std::chrono::steady_clock::now() >= deadline) {
      throw Error(ErrorCode::kUnsafe,
                  std::to_string(pids.size()) + " transactions open since before the sequences moved are still open "
                  "after " + std::to_string(kOldTransactionWait.count()) + " s (pids " + list + "): one may hold a key "
                  "the merge would restore; nothing was merged",
                  "end them (pg_terminate_backend) or wait for them, then run recover --apply again (with another "
                  "--schema, or after dropping the staging schema)");
    }
    if (!said) {
      std::fprintf(stderr, "recover: waiting for %zu transactions open since before the sequences moved (pids %s)\n",
                   pids.size(), list.c_str());
      said = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

// Runs body in a transaction opened with `begin` (lock_timeout set) and commits; on any error rolls back and rethrows.
template <typename Body>
auto in_transaction(const pg::Connection& prod, std::string_view begin, Body body) {
  try {
    (void)prod.exec(std::string(begin), PGRES_COMMAND_OK);
    (void)prod.exec("SET LOCAL lock_timeout = '" + std::string(kLockTimeout) + "'", PGRES_COMMAND_OK);
    auto result = body();
    (void)prod.exec("COMMIT", PGRES_COMMAND_OK);
    return result;
  } catch (const Error&) {
    try {
      (void)prod.exec("ROLLBACK", PGRES_COMMAND_OK);
    } catch (const Error&) {
      // the connection is gone: the server rolls the transaction back
    }
    throw;
  }
}

pg::Result run(const pg::Connection& prod, const Statement& s) {
  return prod.exec(s.sql, s.sql.starts_with("SELECT") ? PGRES_TUPLES_OK : PGRES_COMMAND_OK);
}

// The merge transaction: counts and statements in one snapshot, every table written exactly as counted.
std::vector<Counts> merge_once(const pg::Connection& prod, const std::vector<TableRecovery>& ordered,
                               const Merge& merge) {
  std::vector<Counts> counts = read_counts(prod, ordered);
  for (const auto& s : merge.merge) {
    const pg::Result r = run(prod, s);
    if (s.kind == Statement::Kind::kOther) continue;
    for (size_t i = 0; i < ordered.size(); ++i) {
      if (ordered[i].before.display() == s.table) {
        counts[i].written = counts[i].written.value_or(0) + r.rows_written();
      }
    }
  }
  for (size_t i = 0; i < ordered.size(); ++i) {
    const auto& c = counts[i];
    const uint64_t expected = rows_to_write(ordered[i], c.restore, c.conflicts, c.orphans);
    if (c.written.value_or(0) != expected) {
      throw Error(ErrorCode::kInternal,
                  "the merge wrote " + std::to_string(c.written.value_or(0)) + " rows into " +
                      ordered[i].before.display() + " where it counted " + std::to_string(expected) +
                      ": rolled back, nothing was merged",
                  "this is a walvault bug: please report it with the dry run's output; the rows stay staged");
    }
  }
  return counts;
}

}  // namespace

std::vector<Counts> read_counts(const pg::Connection& prod, const std::vector<TableRecovery>& ordered) {
  std::vector<Counts> counts;
  for (const auto& t : ordered) {
    const pg::Result r = prod.exec(count_sql(t, ordered));
    std::vector<uint64_t> v;
    for (int column = 0; column < r.columns(); ++column) v.push_back(static_cast<uint64_t>(r.integer(0, column)));
    if (v.size() != 7 + missing_reference_keys(t).size()) {
      throw Error(ErrorCode::kInternal, "the count of " + t.before.display() + " returned " + std::to_string(v.size()) +
                  " columns", "this is a walvault bug: please report it");
    }
    counts.push_back({v[0], v[1], v[2], v[3], v[4], v[5], v[6], {v.begin() + 7, v.end()}, std::nullopt});
  }
  return counts;
}

std::vector<Counts> apply_merge(const pg::Connection& prod, const std::vector<TableRecovery>& ordered,
                                const Merge& merge) {
  if (!merge.sequences.empty()) {
    (void)in_transaction(prod, "BEGIN", [&] {
      for (const auto& s : merge.sequences) (void)run(prod, s);
      return true;
    });
    wait_for_open_transactions(prod);
  }
  for (int attempt = 1;; ++attempt) {
    throw_if_stopped("recover");
    try {
      return in_transaction(prod, kMergeBegin, [&] { return merge_once(prod, ordered, merge); });
    } catch (const Error& e) {
      if (e.cause() != ErrorCause::kConcurrentWrite || attempt == kMergeAttempts) throw;
      std::fprintf(stderr, "recover: the application's write collided with the merge (%s): rolled back, running it "
                   "again\n", e.what());
    }
  }
}

}  // namespace walvault::recover
