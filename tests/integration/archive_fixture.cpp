#include "archive_fixture.hpp"

#include <algorithm>
#include <array>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "archive/stream_state.hpp"

namespace walvault::test {
namespace fs = std::filesystem;

ArchivedCluster::ArchivedCluster(ClusterOptions options, std::string repo)
    : cluster_(std::move(options)), repo_(repo.empty() ? cluster_.work_dir() + "/repo" : std::move(repo)),
      log_(cluster_.work_dir() + "/stream.log") {
  const auto init = walvault({"init", "--repo", repo_, "-d", cluster_.conninfo()});
  if (init.exit_code != 0) throw std::runtime_error("walvault init failed: " + init.err);
}

ArchivedCluster::~ArchivedCluster() {
  if (streamer_) streamer_->stop(SIGTERM);
}

ProcessResult ArchivedCluster::walvault(const std::vector<std::string>& args,
                                       const std::vector<std::string>& env) const {
  std::vector<std::string> argv = {WALVAULT_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(as_postgres(argv), env);
}

void ArchivedCluster::start_streamer() {
  streamer_ = std::make_unique<Background>(
      as_postgres({WALVAULT_BINARY, "stream", "--repo", repo_, "--fsync-interval-ms", "100"}), log_);
  if (!wait_until([&] { return fs::exists(repo_ + "/" + std::string(archive::kStreamStateObject)); },
                  std::chrono::seconds(30))) {
    throw std::runtime_error("the streamer did not start: " + streamer_log());
  }
}

void ArchivedCluster::stop_streamer(int sig) {
  if (streamer_) streamer_->stop(sig);
  streamer_.reset();
}

bool ArchivedCluster::streamer_running() { return streamer_ && streamer_->running(); }

std::string ArchivedCluster::streamer_log() const {
  std::ifstream in(log_);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

wal::Lsn ArchivedCluster::durable_lsn() const {
  std::ifstream in(repo_ + "/" + std::string(archive::kStreamStateObject));
  std::stringstream text;
  text << in.rdbuf();
  const auto state = archive::decode_stream_state(text.str(), format::SealRule::kRequired);
  return state ? state->durable_lsn : wal::Lsn();
}

void ArchivedCluster::wait_durable(std::chrono::seconds timeout) {
  const auto target = wal::Lsn::parse(cluster_.scalar("SELECT pg_current_wal_insert_lsn()"));
  if (!target) throw std::runtime_error("cannot read the server's WAL position");
  if (!wait_until([&] { return durable_lsn() >= *target; }, timeout)) {
    throw std::runtime_error("the repository did not reach " + target->to_string() + " (durable " +
                             durable_lsn().to_string() + "): " + streamer_log());
  }
}

void ArchivedCluster::switch_and_archive(std::chrono::seconds timeout) {
  // A commit record first: pg_switch_wal() does nothing in a segment that holds no record yet.
  cluster_.exec("SELECT txid_current()");
  const std::string segment = cluster_.scalar("SELECT pg_walfile_name(pg_current_wal_insert_lsn())");
  cluster_.exec("SELECT pg_switch_wal()");
  const std::string container = repo_ + "/wal/" + segment + ".wvs";
  if (!wait_until([&] { return fs::exists(container); }, timeout)) {
    throw std::runtime_error("segment " + segment + " was not archived: " + streamer_log());
  }
}

ProcessResult ArchivedCluster::events_json() {
  cluster_.exec("CHECKPOINT");
  wait_durable();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // the index is published within a second
  return walvault({"events", "--repo", repo_, "--json"});
}

std::string ArchivedCluster::backup() {
  const auto r = walvault({"backup", "--repo", repo_, "--fast", "--json"});
  if (r.exit_code != 0) throw std::runtime_error("walvault backup failed: " + r.err);
  const auto pos = r.out.find("\"id\"");
  const auto open = r.out.find('"', r.out.find(':', pos) + 1);
  return r.out.substr(open + 1, r.out.find('"', open + 1) - open - 1);
}

RestoredServer::~RestoredServer() {
  if (running()) run(as_postgres({pg_bindir() + "/pg_ctl", "stop", "-D", dir_, "-m", "immediate", "-w"}));
}

ProcessResult RestoredServer::start(bool wait) const {
  std::vector<std::string> argv = {pg_bindir() + "/pg_ctl", "start", "-D", dir_, "-l", dir_ + ".log"};
  if (wait) argv.insert(argv.end(), {"-w", "-t", "60"});
  return run(as_postgres(argv));
}

bool RestoredServer::running() const {
  return run(as_postgres({pg_bindir() + "/pg_ctl", "status", "-D", dir_})).exit_code == 0;
}

ProcessResult RestoredServer::psql(const std::string& sql, const std::string& db) const {
  return run(as_postgres({pg_program("psql"), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p",
                          std::to_string(port_), "-U", "postgres", "-d", db, "-c", sql}));
}

std::string RestoredServer::scalar(const std::string& sql, const std::string& db) const {
  const auto r = psql(sql, db);
  if (r.exit_code != 0) throw std::runtime_error("psql on the restored server failed: " + sql + ": " + r.err);
  return r.out.substr(0, r.out.find('\n'));
}

std::string RestoredServer::cluster_state() const {
  // ControlFileData's DBState at offset 16 (after system_identifier, pg_control_version and catalog_version_no), the
  // same in PostgreSQL 15 to 18; the texts are pg_controldata's, which only the 15 package here ships.
  std::ifstream control(dir_ + "/global/pg_control", std::ios::binary);
  control.seekg(16);
  uint32_t state = 0;
  if (!control.read(reinterpret_cast<char*>(&state), sizeof state)) {
    throw std::runtime_error("cannot read " + dir_ + "/global/pg_control");
  }
  constexpr std::array<const char*, 7> kStates = {"starting up",          "shut down",
                                                  "shut down in recovery", "shutting down",
                                                  "in crash recovery",     "in archive recovery",
                                                  "in production"};
  if (state >= kStates.size()) throw std::runtime_error("unknown cluster state " + std::to_string(state));
  return kStates[state];
}

void flip_byte(const std::string& path, uint64_t offset) {
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  if (!file) throw std::runtime_error("cannot open " + path);
  file.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  file.get(c);
  file.seekp(static_cast<std::streamoff>(offset));
  file.put(static_cast<char>(c ^ 0x20));
  if (!file) throw std::runtime_error("cannot flip a byte of " + path);
}

std::vector<std::string> files_under(const std::string& dir, const std::string& prefix) {
  std::vector<std::string> out;
  if (!fs::exists(dir)) return out;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    const std::string rel = fs::relative(entry.path(), dir).string();
    if (rel.rfind(prefix, 0) == 0 && rel.find("/.") == std::string::npos && rel[0] != '.') out.push_back(rel);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace walvault::test
