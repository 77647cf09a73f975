// Test support shared by the unit and integration tests: one record of pg_walinspect's pg_get_wal_records_info()
// (the server's own WAL reader, in every supported version), and the same fields as `walvault dump --json` gives
// them, so the two listings compare record for record.
//
// Both parsers take the record type only for the resource managers walvault names (elsewhere it prints
// "UNKNOWN (0x..)"), and count a commit's or abort's dropped statistics entries: pg_walinspect lists each as
// kind/db/object after "dropped stats:", walvault prints their number.
#pragma once

#include <cstdint>
#include <iterator>
#include <ostream>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace walvault::test {

struct ListedRecord {
  std::string lsn;
  std::string prev;
  std::string rmgr;
  std::string type;  // "" for resource managers walvault does not name
  uint64_t length = 0;
  uint64_t xid = 0;
  int dropped_stats = 0;
  bool operator==(const ListedRecord&) const = default;
};

inline std::ostream& operator<<(std::ostream& out, const ListedRecord& r) {
  return out << r.lsn << " prev " << r.prev << " " << r.rmgr << "/" << r.type << " len " << r.length << " xid "
             << r.xid << " stats " << r.dropped_stats;
}

inline bool named_rmgr(const std::string& rmgr) {
  static const std::set<std::string> kNamed = {"XLOG",  "Transaction", "Storage", "Database",
                                               "Standby", "Heap2",     "Heap",    "Btree"};
  return kNamed.contains(rmgr);
}

// fields: start_lsn, prev_lsn, resource_manager, record_type, record_length, xid, description.
inline ListedRecord from_walinspect(const std::vector<std::string>& f) {
  ListedRecord r{f.at(0), f.at(1), f.at(2), named_rmgr(f.at(2)) ? f.at(3) : "", std::stoull(f.at(4)),
                 std::stoull(f.at(5)), 0};
  const std::string description = f.size() > 6 ? f[6] : "";
  const auto at = description.find("dropped stats:");
  // Commit and abort records (a PREPARE lists the entries its commit will drop, which walvault does not read).
  static const std::set<std::string> kFinish = {"COMMIT", "ABORT", "COMMIT_PREPARED", "ABORT_PREPARED"};
  if (r.rmgr == "Transaction" && kFinish.contains(f.at(3)) && at != std::string::npos) {
    const std::string list = description.substr(at, description.find(';', at) - at);
    static const std::regex kItem(R"(\d+/\d+/\d+)");
    r.dropped_stats =
        static_cast<int>(std::distance(std::sregex_iterator(list.begin(), list.end(), kItem), std::sregex_iterator()));
  }
  return r;
}

// A record as `walvault dump --json` lists it: its description starts with the record type.
inline ListedRecord from_walvault(const std::string& lsn, const std::string& prev, const std::string& rmgr,
                                  uint64_t length, uint64_t xid, const std::string& description) {
  ListedRecord r{lsn, prev, rmgr, named_rmgr(rmgr) ? description.substr(0, description.find_first_of(" ,")) : "",
                 length, xid, 0};
  static const std::regex kCount(R"(dropped stats: (\d+))");
  std::smatch m;
  if (rmgr == "Transaction" && std::regex_search(description, m, kCount)) r.dropped_stats = std::stoi(m[1].str());
  return r;
}

}  // namespace walvault::test
