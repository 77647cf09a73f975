#include "restore/pg_binaries.hpp"

#include <unistd.h>

#include <cstdlib>

#include "common/error.hpp"
#include "common/process.hpp"

namespace walvault::restore {
namespace {

constexpr std::string_view kMarker = "(PostgreSQL) ";
constexpr std::size_t kMaxMajorDigits = 4;

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  return text;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// "PostgreSQL 16.4" or what else describes a directory's content, for the messages.
std::string describe(const BinDirContents& contents) {
  const bool has_postgres = contents.postgres_version_text.has_value();
  if (!contents.has_pg_ctl && !has_postgres) return "has no pg_ctl and no postgres";
  if (!has_postgres) return "has no runnable postgres";
  const auto version = parse_postgres_version(*contents.postgres_version_text);
  if (!version) return "has a postgres of unknown version (\"" + trimmed(*contents.postgres_version_text) + "\")";
  if (!contents.has_pg_ctl) return "has PostgreSQL " + version->version + " but no pg_ctl";
  return "holds PostgreSQL " + version->version;
}

// The version when dir qualifies for major, else nullopt.
std::optional<PostgresVersion> qualifies(const BinDirContents& contents, int major) {
  if (!contents.has_pg_ctl || !contents.postgres_version_text) return std::nullopt;
  auto version = parse_postgres_version(*contents.postgres_version_text);
  if (!version || version->major != major) return std::nullopt;
  return version;
}

}  // namespace

std::optional<PostgresVersion> parse_postgres_version(std::string_view text) {
  const auto at = text.find(kMarker);
  if (at == std::string_view::npos) return std::nullopt;
  text.remove_prefix(at + kMarker.size());
  std::size_t digits = 0;
  while (digits < text.size() && is_digit(text[digits])) ++digits;
  if (digits == 0 || digits > kMaxMajorDigits) return std::nullopt;
  PostgresVersion out;
  for (std::size_t i = 0; i < digits; ++i) out.major = out.major * 10 + (text[i] - '0');
  if (out.major == 0) return std::nullopt;
  std::size_t end = digits;
  while (end < text.size() && text[end] != ' ' && text[end] != '\n' && text[end] != '\r' && text[end] != '\t') ++end;
  out.version = std::string(text.substr(0, end));
  return out;
}

std::vector<std::string> distribution_bindirs(int major) {
  const std::string n = std::to_string(major);
  return {"/usr/lib/postgresql/" + n + "/bin", "/usr/pgsql-" + n + "/bin"};
}

std::string install_hint(int major) {
  const std::string n = std::to_string(major);
  return "install postgresql-" + n + " (Debian/Ubuntu: apt-get install postgresql-" + n + "; RHEL: postgresql" + n +
         "-server) or pass --pg-bindir DIR";
}

Expected<PgBinaries, BinariesRefusal> resolve_pg_binaries(const BinariesRequest& request, const BinDirProbe& probe) {
  const std::string needed = "PostgreSQL " + std::to_string(request.major);
  // A directory the user named: it qualifies, or the request is refused.
  const auto explicit_dir = [&](const std::string& dir, const std::string& source) -> Expected<PgBinaries, BinariesRefusal> {
    const BinDirContents contents = probe.inspect(dir);
    if (auto version = qualifies(contents, request.major)) return PgBinaries{dir, std::move(*version), source};
    return Unexpected(BinariesRefusal{source + " " + dir + " " + describe(contents) + ", but the backup needs " +
                                          needed + " (its pg_ctl and postgres)",
                                      install_hint(request.major)});
  };
  if (request.flag_dir) return explicit_dir(*request.flag_dir, "--pg-bindir");
  if (request.env_dir) return explicit_dir(*request.env_dir, "WALVAULT_PG_BINDIR");

  std::vector<std::string> seen;  // "DIR: what it holds", for the refusal
  for (const auto& dir : distribution_bindirs(request.major)) {
    const BinDirContents contents = probe.inspect(dir);
    if (auto version = qualifies(contents, request.major)) {
      return PgBinaries{dir, std::move(*version), "distribution path"};
    }
    if (contents.has_pg_ctl || contents.postgres_version_text) seen.push_back(dir + " " + describe(contents));
  }
  if (const auto dir = probe.pg_config_bindir ? probe.pg_config_bindir() : std::nullopt) {
    const BinDirContents contents = probe.inspect(*dir);
    if (auto version = qualifies(contents, request.major)) return PgBinaries{*dir, std::move(*version), "pg_config"};
    seen.push_back("pg_config's " + *dir + " " + describe(contents));
  }
  std::string looked;
  for (const auto& dir : distribution_bindirs(request.major)) looked += (looked.empty() ? "" : ", ") + dir;
  looked += ", pg_config --bindir";
  std::string found;
  for (const auto& s : seen) found += "; " + s;
  return Unexpected(BinariesRefusal{"no " + needed + " server programs (pg_ctl and postgres) found, but the backup "
                                        "needs them (looked in " + looked + found + ")",
                                    install_hint(request.major)});
}

BinDirProbe system_probe() {
  BinDirProbe probe;
  probe.inspect = [](const std::string& dir) {
    BinDirContents contents;
    contents.has_pg_ctl = ::access((dir + "/pg_ctl").c_str(), X_OK) == 0;
    const std::string postgres = dir + "/postgres";
    if (::access(postgres.c_str(), X_OK) == 0) {
      const ProgramResult r = run_program({postgres, "--version"}, 256);
      if (r.exit_code == 0) contents.postgres_version_text = r.output;
    }
    return contents;
  };
  probe.pg_config_bindir = []() -> std::optional<std::string> {
    const char* path = std::getenv("PATH");
    std::string_view rest = path != nullptr ? path : "";
    while (!rest.empty()) {
      const auto colon = rest.find(':');
      const std::string dir(rest.substr(0, colon));
      rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
      const std::string program = (dir.empty() ? std::string(".") : dir) + "/pg_config";
      if (::access(program.c_str(), X_OK) != 0) continue;
      const ProgramResult r = run_program({program, "--bindir"}, 4096);
      if (r.exit_code != 0) return std::nullopt;
      std::string bindir = trimmed(r.output);
      if (bindir.empty() || bindir.find('\n') != std::string::npos) return std::nullopt;
      return bindir;
    }
    return std::nullopt;
  };
  return probe;
}

PgBinaries find_pg_binaries(const BinariesRequest& request) {
  auto found = resolve_pg_binaries(request, system_probe());
  if (!found) throw Error(ErrorCode::kUsage, found.error().message, found.error().hint);
  return std::move(*found);
}

}  // namespace walvault::restore
