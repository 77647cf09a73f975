#include "restore/pg_binaries.hpp"

#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <vector>

using walvault::restore::BinariesRequest;
using walvault::restore::BinDirContents;
using walvault::restore::BinDirProbe;
using walvault::restore::parse_postgres_version;
using walvault::restore::resolve_pg_binaries;

namespace {

// A file system of bin directories: dir → what `postgres --version` prints ("" = no postgres), all with pg_ctl
// unless listed in no_pg_ctl. Records the directories looked at, in order.
struct FakeDirs {
  std::map<std::string, std::string> postgres;
  std::vector<std::string> no_pg_ctl;
  std::optional<std::string> pg_config;
  std::vector<std::string> inspected;

  BinDirProbe probe() {
    BinDirProbe p;
    p.inspect = [this](const std::string& dir) {
      inspected.push_back(dir);
      BinDirContents c;
      const auto found = postgres.find(dir);
      if (found == postgres.end()) return c;
      c.has_pg_ctl = std::find(no_pg_ctl.begin(), no_pg_ctl.end(), dir) == no_pg_ctl.end();
      if (!found->second.empty()) c.postgres_version_text = found->second;
      return c;
    };
    p.pg_config_bindir = [this] { return pg_config; };
    return p;
  }
};

constexpr const char* kDebian15 = "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n";
constexpr const char* kPlain16 = "postgres (PostgreSQL) 16.4\n";
constexpr const char* kPlain17 = "postgres (PostgreSQL) 17.10\n";

BinariesRequest need(int major) {
  BinariesRequest r;
  r.major = major;
  return r;
}

}  // namespace

TEST_CASE("postgres --version text gives the major version", "[restore][pg_binaries]") {
  const auto debian = parse_postgres_version(kDebian15);
  REQUIRE(debian);
  CHECK(debian->major == 15);
  CHECK(debian->version == "15.18");
  const auto plain = parse_postgres_version("postgres (PostgreSQL) 16.4");
  REQUIRE(plain);
  CHECK(plain->major == 16);
  CHECK(plain->version == "16.4");
  const auto beta = parse_postgres_version("postgres (PostgreSQL) 16beta1\n");
  REQUIRE(beta);
  CHECK(beta->major == 16);
  CHECK(beta->version == "16beta1");
  const auto rc = parse_postgres_version("pg_ctl (PostgreSQL) 18rc1");
  REQUIRE(rc);
  CHECK(rc->major == 18);
  const auto devel = parse_postgres_version("postgres (PostgreSQL) 19devel");
  REQUIRE(devel);
  CHECK(devel->major == 19);

  CHECK_FALSE(parse_postgres_version(""));
  CHECK_FALSE(parse_postgres_version("postgres (PostgreSQL) "));
  CHECK_FALSE(parse_postgres_version("postgres (PostgreSQL) beta"));
  CHECK_FALSE(parse_postgres_version("PostgreSQL 15.18"));  // pg_config --version's form is not this one
  CHECK_FALSE(parse_postgres_version("postgres (PostgreSQL) 99999999999999999999"));
  CHECK_FALSE(parse_postgres_version("postgres (PostgreSQL) 0.1"));
  CHECK_FALSE(parse_postgres_version("bash: postgres: command not found"));
}

TEST_CASE("server programs: the distribution's directory of the backup's major", "[restore][pg_binaries]") {
  FakeDirs fs;
  fs.postgres = {{"/usr/lib/postgresql/15/bin", kDebian15}, {"/usr/lib/postgresql/16/bin", kPlain16}};
  fs.pg_config = "/usr/lib/postgresql/16/bin";
  const auto found15 = resolve_pg_binaries(need(15), fs.probe());
  REQUIRE(found15);
  CHECK(found15->bindir == "/usr/lib/postgresql/15/bin");
  CHECK(found15->version.version == "15.18");
  CHECK(found15->source == "distribution path");

  // PGDG RPM layout, found after the Debian path.
  FakeDirs rpm;
  rpm.postgres = {{"/usr/pgsql-17/bin", kPlain17}};
  const auto found17 = resolve_pg_binaries(need(17), rpm.probe());
  REQUIRE(found17);
  CHECK(found17->bindir == "/usr/pgsql-17/bin");
  CHECK(rpm.inspected == std::vector<std::string>{"/usr/lib/postgresql/17/bin", "/usr/pgsql-17/bin"});

  // pg_config's directory last, only when its version matches.
  FakeDirs source_build;
  source_build.postgres = {{"/usr/local/pgsql/bin", kPlain16}};
  source_build.pg_config = "/usr/local/pgsql/bin";
  const auto found16 = resolve_pg_binaries(need(16), source_build.probe());
  REQUIRE(found16);
  CHECK(found16->bindir == "/usr/local/pgsql/bin");
  CHECK(found16->source == "pg_config");
  const auto not17 = resolve_pg_binaries(need(17), source_build.probe());
  REQUIRE_FALSE(not17);
  CHECK(not17.error().message ==
        "no PostgreSQL 17 server programs (pg_ctl and postgres) found, but the backup needs them (looked in "
        "/usr/lib/postgresql/17/bin, /usr/pgsql-17/bin, pg_config --bindir; pg_config's /usr/local/pgsql/bin holds "
        "PostgreSQL 16.4)");
  CHECK(not17.error().hint ==
        "install postgresql-17 (Debian/Ubuntu: apt-get install postgresql-17; RHEL: postgresql17-server) or pass "
        "--pg-bindir DIR");
}

TEST_CASE("server programs: --pg-bindir, then WALVAULT_PG_BINDIR, win and are never passed over",
          "[restore][pg_binaries]") {
  FakeDirs fs;
  fs.postgres = {{"/usr/lib/postgresql/15/bin", kDebian15}, {"/opt/pg15/bin", kDebian15},
                 {"/opt/env15/bin", kDebian15}, {"/opt/pg16/bin", kPlain16}};
  BinariesRequest r = need(15);
  r.flag_dir = "/opt/pg15/bin";
  r.env_dir = "/opt/env15/bin";
  const auto flag = resolve_pg_binaries(r, fs.probe());
  REQUIRE(flag);
  CHECK(flag->bindir == "/opt/pg15/bin");
  CHECK(flag->source == "--pg-bindir");
  CHECK(fs.inspected == std::vector<std::string>{"/opt/pg15/bin"});

  r.flag_dir.reset();
  const auto env = resolve_pg_binaries(r, fs.probe());
  REQUIRE(env);
  CHECK(env->bindir == "/opt/env15/bin");
  CHECK(env->source == "WALVAULT_PG_BINDIR");

  // A named directory of another major is refused, though the distribution's 15 is there.
  r.flag_dir = "/opt/pg16/bin";
  const auto wrong = resolve_pg_binaries(r, fs.probe());
  REQUIRE_FALSE(wrong);
  CHECK(wrong.error().message ==
        "--pg-bindir /opt/pg16/bin holds PostgreSQL 16.4, but the backup needs PostgreSQL 15 (its pg_ctl and postgres)");
  CHECK(wrong.error().hint.starts_with("install postgresql-15 (Debian/Ubuntu: apt-get install postgresql-15; RHEL: "
                                       "postgresql15-server)"));
  r.flag_dir.reset();
  r.env_dir = "/opt/pg16/bin";
  const auto wrong_env = resolve_pg_binaries(r, fs.probe());
  REQUIRE_FALSE(wrong_env);
  CHECK(wrong_env.error().message.starts_with("WALVAULT_PG_BINDIR /opt/pg16/bin holds PostgreSQL 16.4, but the "
                                              "backup needs PostgreSQL 15"));

  // A named directory without the programs.
  r.env_dir.reset();
  r.flag_dir = "/nowhere";
  const auto empty = resolve_pg_binaries(r, fs.probe());
  REQUIRE_FALSE(empty);
  CHECK(empty.error().message ==
        "--pg-bindir /nowhere has no pg_ctl and no postgres, but the backup needs PostgreSQL 15 (its pg_ctl and "
        "postgres)");
  fs.no_pg_ctl = {"/opt/pg15/bin"};
  r.flag_dir = "/opt/pg15/bin";
  const auto no_ctl = resolve_pg_binaries(r, fs.probe());
  REQUIRE_FALSE(no_ctl);
  CHECK(no_ctl.error().message.starts_with("--pg-bindir /opt/pg15/bin has PostgreSQL 15.18 but no pg_ctl,"));
}

TEST_CASE("server programs: nothing of the right major anywhere is one refusal naming what was found",
          "[restore][pg_binaries]") {
  FakeDirs fs;
  fs.postgres = {{"/usr/lib/postgresql/16/bin", "postgres (PostgreSQL) 15.18\n"}, {"/usr/pgsql-16/bin", ""}};
  const auto none = resolve_pg_binaries(need(16), fs.probe());
  REQUIRE_FALSE(none);
  CHECK(none.error().message ==
        "no PostgreSQL 16 server programs (pg_ctl and postgres) found, but the backup needs them (looked in "
        "/usr/lib/postgresql/16/bin, /usr/pgsql-16/bin, pg_config --bindir; /usr/lib/postgresql/16/bin holds "
        "PostgreSQL 15.18; /usr/pgsql-16/bin has no runnable postgres)");
  CHECK(none.error().message.find('\n') == std::string::npos);
}
