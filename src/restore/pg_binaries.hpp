// Which PostgreSQL server programs (pg_ctl, postgres, pg_amcheck) restore --start and drill run: those of the
// backup's major version, or none at all. A server of another major refuses the data directory ("database files
// are incompatible with server") only after the backup has been extracted, so the choice is made while planning,
// before anything is written.
//
// Order: --pg-bindir DIR, then WALVAULT_PG_BINDIR, then the distributions' paths /usr/lib/postgresql/N/bin
// (Debian, Ubuntu) and /usr/pgsql-N/bin (PGDG RPMs), then `pg_config --bindir` from PATH. A directory qualifies
// when it holds pg_ctl and a postgres whose `--version` names major N. A directory named explicitly (flag or
// environment) is the user's choice: when it does not qualify it is refused, never passed over for another one.
//
// parse_postgres_version() and resolve_pg_binaries() are pure: the file system and the programs are reached only
// through the BinDirProbe the caller passes, so tests inject it. find_pg_binaries() wires the real probe.
// Errors: resolve_pg_binaries() returns a BinariesRefusal (one-line message naming the directory, its version and
// the needed one; a hint naming the package); find_pg_binaries() throws it as Error(kUsage).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wal/expected.hpp"

namespace walvault::restore {

// What `postgres --version` says: "postgres (PostgreSQL) 16.4", "... 16beta1", "... 15.18 (Debian 15.18-0+deb12u1)".
struct PostgresVersion {
  int major = 0;        // 16
  std::string version;  // "16.4", "16beta1", "15.18"
};

// The version a `postgres --version` or `pg_ctl --version` line names; nullopt for any other text.
[[nodiscard]] std::optional<PostgresVersion> parse_postgres_version(std::string_view text);

// What a candidate directory holds.
struct BinDirContents {
  bool has_pg_ctl = false;
  std::optional<std::string> postgres_version_text;  // DIR/postgres --version's output; nullopt: no runnable postgres
};

struct BinDirProbe {
  std::function<BinDirContents(const std::string& dir)> inspect;
  // `pg_config --bindir` of the pg_config in PATH; nullopt when there is none or it fails.
  std::function<std::optional<std::string>()> pg_config_bindir;
};

struct BinariesRequest {
  int major = 0;                         // the backup's major version
  std::optional<std::string> flag_dir;   // --pg-bindir
  std::optional<std::string> env_dir;    // WALVAULT_PG_BINDIR
};

struct PgBinaries {
  std::string bindir;
  PostgresVersion version;
  std::string source;  // "--pg-bindir", "WALVAULT_PG_BINDIR", "distribution path", "pg_config"
};

struct BinariesRefusal {
  std::string message;
  std::string hint;
};

// The distributions' directories for major, in the order they are tried.
[[nodiscard]] std::vector<std::string> distribution_bindirs(int major);

// "install postgresql-17 (Debian/Ubuntu: apt-get install postgresql-17; RHEL: postgresql17-server) or pass
// --pg-bindir DIR".
[[nodiscard]] std::string install_hint(int major);

[[nodiscard]] Expected<PgBinaries, BinariesRefusal> resolve_pg_binaries(const BinariesRequest& request,
                                                                        const BinDirProbe& probe);

// The real probe: pg_ctl's presence, `DIR/postgres --version`, and `pg_config --bindir` found in PATH.
[[nodiscard]] BinDirProbe system_probe();

// resolve_pg_binaries() with the system probe; throws Error(kUsage) with the refusal's message and hint.
[[nodiscard]] PgBinaries find_pg_binaries(const BinariesRequest& request);

}  // namespace walvault::restore
