// Which PostgreSQL server programs `restore --start` and `drill` run (restore/pg_binaries.hpp), against a real
// backup of the version under test and the real binary:
//   - `--pg-bindir` naming the server's own programs restores and starts the server, and says which it used;
//   - a --pg-bindir (or WALVAULT_PG_BINDIR) of another major is refused with exit 2, one line naming the
//     directory, its version and the needed one, a HINT naming the package, and nothing extracted: the target
//     directory (drill: its TMPDIR) stays absent or empty. Without --start, WALVAULT_PG_BINDIR is not used, but a
//     wrong --pg-bindir is still refused;
//   - a bin directory without pg_amcheck: drill passes and its report says pg_amcheck was not run, and where.
// The other major is a directory whose postgres and pg_ctl are scripts that print another major's version.
#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "archive_fixture.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using walvault::test::ArchivedCluster;
using walvault::test::RestoredServer;

void write_script(const std::string& path, const std::string& line) {
  std::ofstream(path) << "#!/bin/sh\necho '" << line << "'\n";
  fs::permissions(path, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                            fs::perms::others_read | fs::perms::others_exec);
}

// A bin directory whose programs say they are of another major than the server under test.
std::string other_major_bindir(const std::string& work_dir, int other_major) {
  const std::string dir = work_dir + "/other-major/bin";
  fs::create_directories(dir);
  write_script(dir + "/postgres", "postgres (PostgreSQL) " + std::to_string(other_major) + ".4");
  write_script(dir + "/pg_ctl", "pg_ctl (PostgreSQL) " + std::to_string(other_major) + ".4");
  return dir;
}

bool absent_or_empty(const std::string& dir) { return !fs::exists(dir) || fs::is_empty(dir); }

const json* find_check(const json& report, const std::string& name) {
  for (const auto& c : report["checks"]) {
    if (c["name"] == name) return &c;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("restore --start and drill use the backup's major version's programs, and refuse another before writing",
          "[integration][restore][drill]") {
  ArchivedCluster a;
  a.start_streamer();
  a.pg().exec("CREATE TABLE t (id int)");
  a.pg().exec("INSERT INTO t SELECT generate_series(1, 500)");
  (void)a.backup();
  a.wait_durable();
  const std::string work = a.pg().work_dir();
  const int major = walvault::test::pg_major();
  const std::string n = std::to_string(major);
  const std::string own = walvault::test::pg_bindir();
  const int other_major = major == 16 ? 17 : 16;
  const std::string other = other_major_bindir(work, other_major);
  const std::string other_version = "PostgreSQL " + std::to_string(other_major) + ".4";

  {  // the right directory, named: restored, started, and reported
    RestoredServer server(work + "/right", walvault::test::free_port());
    const auto r = a.walvault({"restore", "--repo", a.repo(), "--target-dir", server.dir(), "--latest", "--start",
                               "--port", std::to_string(server.port()), "--pg-bindir", own});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find("  server    " + own + " (PostgreSQL " + n + ".") != std::string::npos);
    CHECK(r.out.find("--pg-bindir)") != std::string::npos);
    CHECK(r.out.find("target reached: server promoted") != std::string::npos);
    CHECK(server.scalar("SELECT count(*) FROM t") == "500");
  }
  {  // --pg-bindir of another major: exit 2 before anything is extracted
    const std::string target = work + "/wrong-flag";
    const auto r = a.walvault({"restore", "--repo", a.repo(), "--target-dir", target, "--latest", "--start",
                               "--pg-bindir", other});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("walvault: error: --pg-bindir " + other + " holds " + other_version) == 0);
    CHECK(r.err.find(", but the backup needs PostgreSQL " + n + " (its pg_ctl and postgres)\n") != std::string::npos);
    CHECK(r.err.find("HINT: install postgresql-" + n + " (Debian/Ubuntu: apt-get install postgresql-" + n +
                     "; RHEL: postgresql" + n + "-server) or pass --pg-bindir DIR\n") != std::string::npos);
    CHECK(absent_or_empty(target));
    CHECK(r.out.empty());

    // An empty existing target stays empty.
    fs::create_directories(target);
    walvault::test::give_to_postgres(target);
    const auto again = a.walvault({"restore", "--repo", a.repo(), "--target-dir", target, "--latest", "--start",
                                   "--pg-bindir", other});
    CHECK(again.exit_code == 2);
    CHECK(fs::is_empty(target));

    // Without --start nothing would run, but a wrong --pg-bindir is still a mistake.
    const auto no_start =
        a.walvault({"restore", "--repo", a.repo(), "--target-dir", target, "--latest", "--pg-bindir", other});
    CHECK(no_start.exit_code == 2);
    CHECK(fs::is_empty(target));
  }
  {  // WALVAULT_PG_BINDIR of another major: refused for --start, not used without it
    const std::string target = work + "/wrong-env";
    const std::vector<std::string> env = {"WALVAULT_PG_BINDIR=" + other};
    const auto r = a.walvault({"restore", "--repo", a.repo(), "--target-dir", target, "--latest", "--start"}, env);
    INFO(r.out << r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("walvault: error: WALVAULT_PG_BINDIR " + other + " holds " + other_version) == 0);
    CHECK(absent_or_empty(target));
    const auto plain = a.walvault({"restore", "--repo", a.repo(), "--target-dir", target, "--latest"}, env);
    INFO(plain.out << plain.err);
    CHECK(plain.exit_code == 0);
    CHECK(fs::exists(target + "/recovery.signal"));
  }

  const std::string tmp = work + "/drill-tmp";
  fs::create_directories(tmp);
  walvault::test::give_to_postgres(tmp);
  const std::vector<std::string> tmp_env = {"TMPDIR=" + tmp};
  {  // drill with another major: exit 2, no scratch directory made
    const auto r = a.walvault({"drill", "--repo", a.repo(), "--pg-bindir", other}, tmp_env);
    INFO(r.out << r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("walvault: error: --pg-bindir " + other + " holds " + other_version) == 0);
    CHECK(fs::is_empty(tmp));
  }
  {  // drill with a bin directory that has no pg_amcheck: passes, and says the check was not run
    const std::string bindir = work + "/no-amcheck/bin";
    fs::create_directories(bindir);
    fs::create_symlink(own + "/postgres", bindir + "/postgres");
    fs::create_symlink(own + "/pg_ctl", bindir + "/pg_ctl");
    const auto j = a.walvault({"drill", "--repo", a.repo(), "--pg-bindir", bindir, "--json"}, tmp_env);
    INFO(j.out << j.err);
    REQUIRE(j.exit_code == 0);
    const json report = json::parse(j.out);
    CHECK(report["ok"] == true);
    CHECK(report["pg_bindir"] == bindir);
    const json* amcheck = find_check(report, "pg_amcheck");
    REQUIRE(amcheck != nullptr);
    CHECK((*amcheck)["skipped"] == true);
    CHECK((*amcheck)["detail"] == "not run, not in " + bindir);
    CHECK(fs::is_empty(tmp));

    const auto human = a.walvault({"drill", "--repo", a.repo(), "--pg-bindir", bindir}, tmp_env);
    INFO(human.out << human.err);
    REQUIRE(human.exit_code == 0);
    CHECK(human.out.find("drill passed (1 check(s) not run, see below)\n") == 0);
    CHECK(human.out.find("  skip pg_amcheck: not run, not in " + bindir + "\n") != std::string::npos);
    CHECK(fs::is_empty(tmp));
  }
  a.stop_streamer(SIGTERM);
}
