// repo/key_source.hpp: where an encrypted repository's key comes from, and every way reading it is refused.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "../../common/error_code.hpp"
#include "repo/key_source.hpp"

namespace {

using walvault::ErrorCode;
using walvault::repo::KeySource;
using walvault::repo::make_key_source;
using walvault::repo::read_secret;
using walvault::test::code_of;

std::string text_of(const std::vector<std::byte>& bytes) {
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

struct TempFile {
  explicit TempFile(const std::string& content) {
    std::ofstream(path) << content;
  }
  ~TempFile() { std::filesystem::remove(path); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  std::string path = (std::filesystem::temp_directory_path() / ("walvault-key-" + std::to_string(::getpid()))).string();
};

}  // namespace

TEST_CASE("key sources: a key file is read only when its owner alone can read it", "[repo][encryption]") {
  TempFile file("correct horse\n");
  const KeySource source = make_key_source(KeySource::Kind::kFile, file.path);
  ::chmod(file.path.c_str(), 0644);
  try {
    (void)read_secret(source, "/srv/repo");
    FAIL("read a world-readable key file");
  } catch (const walvault::Error& e) {
    CHECK(e.code() == ErrorCode::kKey);
    CHECK(std::string(e.what()) == "cannot read the key of /srv/repo from --key-file " + file.path +
                                       ": the file is accessible to other users (mode 644)");
  }
  ::chmod(file.path.c_str(), 0600);
  CHECK(text_of(read_secret(source, "/srv/repo")) == "correct horse\n");
  CHECK(code_of([&] { (void)read_secret(make_key_source(KeySource::Kind::kFile, file.path + ".missing"), "r"); }) ==
        ErrorCode::kKey);
}

TEST_CASE("key sources: environment variables, commands, and none", "[repo][encryption]") {
  ::setenv("WALVAULT_TEST_PASSPHRASE", "a passphrase", 1);
  CHECK(text_of(read_secret({KeySource::Kind::kEnvironment, "WALVAULT_TEST_PASSPHRASE"}, "r")) == "a passphrase");
  ::unsetenv("WALVAULT_TEST_PASSPHRASE");
  CHECK(code_of([] { (void)read_secret({KeySource::Kind::kEnvironment, "WALVAULT_TEST_PASSPHRASE"}, "r"); }) ==
        ErrorCode::kKey);
  CHECK(text_of(read_secret({KeySource::Kind::kCommand, "echo from-kms; echo noise >&2"}, "r")) == "from-kms\n");
  CHECK(code_of([] { (void)read_secret({KeySource::Kind::kCommand, "echo nope; exit 3"}, "r"); }) == ErrorCode::kKey);
  CHECK(code_of([] { (void)read_secret({KeySource::Kind::kCommand, "true"}, "r"); }) == ErrorCode::kKey);  // empty
  CHECK(code_of([] { (void)read_secret({}, "r"); }) == ErrorCode::kKey);
}

TEST_CASE("key sources: other processes get the source, never the key", "[repo][encryption]") {
  const KeySource file = make_key_source(KeySource::Kind::kFile, "relative.key");
  CHECK(file.value == (std::filesystem::current_path() / "relative.key").string());
  CHECK(file.argv() == std::vector<std::string>{"--key-file", file.value});
  CHECK(KeySource{KeySource::Kind::kCommand, "vault read -field=key x"}.argv() ==
        std::vector<std::string>{"--key-command", "vault read -field=key x"});
  CHECK(KeySource{}.argv().empty());
  ::setenv("WALVAULT_KEY_FILE", "/etc/walvault.key", 1);
  CHECK(walvault::repo::or_environment({}).argv() == std::vector<std::string>{"--key-file", "/etc/walvault.key"});
  CHECK(walvault::repo::or_environment({KeySource::Kind::kEnvironment, "P"}).value == "P");
  ::unsetenv("WALVAULT_KEY_FILE");
  CHECK_FALSE(walvault::repo::or_environment({}).given());
}
