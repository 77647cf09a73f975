#include "repo/key_source.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <span>

#include "common/error.hpp"
#include "common/process.hpp"

namespace walvault::repo {
namespace {

constexpr std::size_t kMaxSecret = 4096;

[[noreturn]] void fail(const KeySource& source, const std::string& repo, const std::string& why,
                       const std::string& hint) {
  throw Error(ErrorCode::kKey, "cannot read the key of " + repo + " from " + source.describe() + ": " + why, hint);
}

std::vector<std::byte> bytes_of(std::string_view text) {
  const auto b = std::as_bytes(std::span(text.data(), text.size()));
  return {b.begin(), b.end()};
}

std::vector<std::byte> read_file(const KeySource& source, const std::string& repo) {
  struct stat st {};
  if (::stat(source.value.c_str(), &st) != 0) {
    fail(source, repo, std::strerror(errno), "give the file that holds the repository's key");
  }
  if ((st.st_mode & 077) != 0) {
    fail(source, repo, "the file is accessible to other users (mode " + std::to_string((st.st_mode >> 6) & 7) +
                           std::to_string((st.st_mode >> 3) & 7) + std::to_string(st.st_mode & 7) + ")",
         "make it readable by its owner only: chmod 600 " + source.value);
  }
  std::ifstream in(source.value, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in && !in.eof()) fail(source, repo, "read error", "check the file's permissions");
  if (text.size() > kMaxSecret) fail(source, repo, "the file is larger than 4096 bytes", "a key file holds one key");
  return bytes_of(text);
}

}  // namespace

std::string KeySource::describe() const {
  switch (kind) {
    case Kind::kNone: return "no key source";
    case Kind::kFile: return "--key-file " + value;
    case Kind::kEnvironment: return "--passphrase-env " + value;
    case Kind::kCommand: return "--key-command '" + value + "'";
  }
  return "no key source";
}

std::vector<std::string> KeySource::argv() const {
  switch (kind) {
    case Kind::kNone: return {};
    case Kind::kFile: return {"--key-file", value};
    case Kind::kEnvironment: return {"--passphrase-env", value};
    case Kind::kCommand: return {"--key-command", value};
  }
  return {};
}

KeySource make_key_source(KeySource::Kind kind, const std::string& value) {
  if (kind == KeySource::Kind::kFile) {
    return {kind, std::filesystem::absolute(value).lexically_normal().string()};
  }
  return {kind, value};
}

KeySource or_environment(KeySource given) {
  if (given.given()) return given;
  const char* file = std::getenv("WALVAULT_KEY_FILE");
  if (file == nullptr || *file == '\0') return given;
  return make_key_source(KeySource::Kind::kFile, file);
}

std::vector<std::byte> read_secret(const KeySource& source, const std::string& repo) {
  std::vector<std::byte> secret;
  switch (source.kind) {
    case KeySource::Kind::kNone:
      throw Error(ErrorCode::kKey, "the repository at " + repo + " is encrypted, and no key was given",
                  "give its key with --key-file PATH, --passphrase-env VAR or --key-command CMD (or set "
                  "WALVAULT_KEY_FILE)");
    case KeySource::Kind::kFile:
      secret = read_file(source, repo);
      break;
    case KeySource::Kind::kEnvironment: {
      const char* value = std::getenv(source.value.c_str());
      if (value == nullptr) fail(source, repo, "the variable is not set", "export " + source.value + "=PASSPHRASE");
      secret = bytes_of(value);
      break;
    }
    case KeySource::Kind::kCommand: {
      const ProgramResult result = run_program({"/bin/sh", "-c", source.value}, kMaxSecret + 1, Capture::kStdout);
      if (result.exit_code != 0) {
        fail(source, repo, "the command exited with status " + std::to_string(result.exit_code),
             "run the command by hand: it must print the key and exit 0");
      }
      if (result.output.size() > kMaxSecret) fail(source, repo, "the command printed more than 4096 bytes", "print one key");
      secret = bytes_of(result.output);
      break;
    }
  }
  if (secret.empty() || (secret.size() == 1 && secret[0] == std::byte{'\n'})) {
    fail(source, repo, "the key is empty", "a key is 32 random bytes or a passphrase");
  }
  return secret;
}

}  // namespace walvault::repo
