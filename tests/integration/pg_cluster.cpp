#include "pg_cluster.hpp"

#include <libpq-fe.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>

#include "process.hpp"

extern char** environ;

namespace walvault::test {
namespace fs = std::filesystem;

namespace {

constexpr const char* kDebianBindir = "/usr/lib/postgresql/15/bin";

}  // namespace

std::string pg_bindir() {
  const char* env = std::getenv("WALVAULT_PG_BINDIR");
  const std::string dir = env != nullptr && *env != '\0' ? env : kDebianBindir;
  if (!fs::exists(dir + "/postgres")) {
    throw std::runtime_error("PostgreSQL server binaries not found in " + dir +
                             "; install them (.ci/install-deps.sh installs 15, .ci/install-pg.sh 16 to 18)");
  }
  return dir;
}

int pg_major() {
  static const int major = [] {
    const auto r = run({pg_bindir() + "/postgres", "--version"});
    // "postgres (PostgreSQL) 18.4"
    const auto at = r.out.find(") ");
    if (r.exit_code != 0 || at == std::string::npos) {
      throw std::runtime_error("cannot tell the version of " + pg_bindir() + "/postgres: " + r.out + r.err);
    }
    return std::stoi(r.out.substr(at + 2));
  }();
  return major;
}

std::string pg_program(const std::string& name) {
  const std::string path = (name == "psql" || name == "pgbench" ? std::string(kDebianBindir) : pg_bindir()) + "/" + name;
  if (!fs::exists(path)) {
    throw std::runtime_error(path + " not found: the PostgreSQL " + std::to_string(pg_major()) +
                             " package under test has no " + name);
  }
  return path;
}

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0) ::close(fd);
    throw std::runtime_error("cannot find a free port on 127.0.0.1");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

namespace {

void check(const ProcessResult& r, const std::string& what) {
  if (r.exit_code != 0) throw std::runtime_error(what + " failed (" + std::to_string(r.exit_code) + "): " + r.err + r.out);
}

// A detached shell that waits for `owner` to die, then stops the server and removes the directory.
pid_t spawn_watchdog(pid_t owner, const std::string& data_dir, const std::string& work_dir) {
  std::string stop_cmd = pg_bindir() + "/pg_ctl -D '" + data_dir + "' -m immediate stop";
  if (running_as_root()) stop_cmd = "runuser -u postgres -- " + stop_cmd;
  const std::string script = "while kill -0 " + std::to_string(owner) + " 2>/dev/null; do sleep 1; done; " +
                             stop_cmd + " >/dev/null 2>&1; rm -rf '" + work_dir + "'";
  std::vector<std::string> args = {"/bin/sh", "-c", script};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", 0, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", 1, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", 1, 0);
  pid_t pid = -1;
  posix_spawn(&pid, "/bin/sh", &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  return pid;
}

struct ConnCloser {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct ResultCloser {
  void operator()(PGresult* r) const { PQclear(r); }
};

}  // namespace

PgCluster::PgCluster(ClusterOptions options) {
  const std::string bindir = pg_bindir();
  std::string tmpl = (fs::temp_directory_path() / "walvault-it-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  work_dir_ = tmpl;
  data_dir_ = work_dir_ + "/data";
  give_to_postgres(work_dir_);
  watchdog_ = spawn_watchdog(::getpid(), data_dir_, work_dir_);

  check(run(as_postgres({bindir + "/initdb", "-D", data_dir_, "-U", "postgres", "--auth=trust", "--no-sync",
                         "--wal-segsize=" + std::to_string(options.wal_segment_size_mb), "--locale=C.UTF-8",
                         "--encoding=UTF8"})),
        "initdb");
  port_ = free_port();
  {
    std::ofstream conf(data_dir_ + "/postgresql.conf", std::ios::app);
    conf << "\n# walvault test harness\n"
         << "listen_addresses = '127.0.0.1'\n"
         << "port = " << port_ << "\n"
         << "unix_socket_directories = '" << work_dir_ << "'\n"
         << "wal_level = replica\n"
         << "max_wal_senders = 10\n"
         << "max_replication_slots = 10\n"
         << "wal_keep_size = 0\n"
         << "fsync = off\n"
         << "full_page_writes = on\n"
         << "shared_buffers = 64MB\n"
         << "logging_collector = off\n"
         << "log_min_messages = warning\n";
    for (const auto& s : options.settings) conf << s << "\n";
  }
  {
    std::ofstream hba(data_dir_ + "/pg_hba.conf", std::ios::trunc);
    hba << "local all all trust\n"
        << "local replication all trust\n"
        << "host all all 127.0.0.1/32 trust\n"
        << "host replication all 127.0.0.1/32 trust\n";
  }
  give_to_postgres(work_dir_);
  if (options.start) start();
}

PgCluster::~PgCluster() {
  try {
    stop("immediate");
  } catch (...) {  // NOLINT(bugprone-empty-catch): best effort in a destructor
  }
  std::error_code ec;
  fs::remove_all(work_dir_, ec);
  if (watchdog_ > 0) {
    ::kill(watchdog_, SIGKILL);
    ::waitpid(watchdog_, nullptr, 0);
  }
}

std::string PgCluster::conninfo(const std::string& db) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres dbname=" + db;
}

void PgCluster::start() {
  check(run(as_postgres({pg_bindir() + "/pg_ctl", "-D", data_dir_, "-l", work_dir_ + "/server.log", "-w", "-t",
                         "60", "start"})),
        "pg_ctl start");
}

void PgCluster::stop(const std::string& mode) {
  if (!fs::exists(data_dir_ + "/postmaster.pid")) return;
  check(run(as_postgres({pg_bindir() + "/pg_ctl", "-D", data_dir_, "-m", mode, "-w", "stop"})), "pg_ctl stop");
}

void PgCluster::restart() {
  stop();
  start();
}

std::vector<std::string> PgCluster::query(const std::string& sql, const std::string& db) const {
  std::unique_ptr<PGconn, ConnCloser> conn(PQconnectdb(conninfo(db).c_str()));
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    throw std::runtime_error("connect failed: " + std::string(PQerrorMessage(conn.get())));
  }
  std::unique_ptr<PGresult, ResultCloser> res(PQexec(conn.get(), sql.c_str()));
  const auto status = PQresultStatus(res.get());
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
    throw std::runtime_error("query failed: " + sql + ": " + PQerrorMessage(conn.get()));
  }
  std::vector<std::string> rows;
  for (int r = 0; r < PQntuples(res.get()); ++r) {
    std::string row;
    for (int c = 0; c < PQnfields(res.get()); ++c) {
      if (c > 0) row += '|';
      row += PQgetvalue(res.get(), r, c);
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

std::string PgCluster::scalar(const std::string& sql, const std::string& db) const {
  const auto rows = query(sql, db);
  if (rows.empty()) throw std::runtime_error("query returned no rows: " + sql);
  return rows.front();
}

void PgCluster::exec(const std::string& sql, const std::string& db) const { (void)query(sql, db); }

PgCluster::Output PgCluster::run_pg_program(const std::string& program, const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {pg_program(program)};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run(as_postgres(argv), {"PGHOST=127.0.0.1", "PGPORT=" + std::to_string(port_), "PGUSER=postgres"});
  return {r.exit_code, r.out, r.err};
}

}  // namespace walvault::test
