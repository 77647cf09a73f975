// Where a repository lives: s3:// URLs, the resolution order of the S3 settings, and what other processes are
// told (repo/address.hpp). The environment is set per test and restored.
#include <stdlib.h>

#include <catch2/catch.hpp>
#include <optional>
#include <string>
#include <vector>

#include "../../common/error_code.hpp"
#include "common/error.hpp"
#include "repo/address.hpp"
#include "repo/repository.hpp"

using namespace walvault;
using walvault::test::code_of;

namespace {

// Sets (or, for nullopt, unsets) an environment variable for the scope, then restores it.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      ::setenv(name, value->c_str(), 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

}  // namespace

TEST_CASE("s3 URLs: bucket and prefix, or a local directory", "[repo][address]") {
  CHECK_FALSE(repo::parse_s3_url("/var/lib/walvault/repo"));
  CHECK_FALSE(repo::parse_s3_url("relative/s3://x"));
  const auto a = repo::parse_s3_url("s3://my-bucket/db1/");
  REQUIRE(a);
  CHECK(a->bucket == "my-bucket");
  CHECK(a->prefix == "db1");
  CHECK(repo::parse_s3_url("s3://my-bucket")->prefix.empty());
  CHECK(repo::parse_s3_url("s3://my-bucket/a/b")->prefix == "a/b");
  for (const char* bad : {"s3://", "s3:///x", "s3://ab/x", "s3://bad bucket/x", "s3://b!cket/x", "s3://bucket/a//b",
                          "s3://bucket/../x", "s3://bucket/.hidden"}) {
    INFO(bad);
    CHECK(code_of([&] { (void)repo::parse_s3_url(bad); }) == ErrorCode::kUsage);
  }
}

TEST_CASE("s3 settings: the command line, then the environment, then what init recorded", "[repo][address]") {
  const ScopedEnv s3_endpoint("AWS_ENDPOINT_URL_S3", std::nullopt);
  const ScopedEnv endpoint("AWS_ENDPOINT_URL", std::nullopt);
  const ScopedEnv region("AWS_REGION", std::nullopt);
  const ScopedEnv default_region("AWS_DEFAULT_REGION", std::nullopt);
  const repo::S3Endpoint recorded{.endpoint = "https://recorded.example", .region = "eu-west-3", .path_style = true};

  // Nothing given: AWS in the recorded region (the endpoint is what reaches walvault.json, so it is never taken
  // from it), with the recorded addressing.
  auto r = repo::resolve_s3_endpoint({}, recorded);
  CHECK(r.endpoint == "https://s3.eu-west-3.amazonaws.com");
  CHECK(r.region == "eu-west-3");
  CHECK(r.path_style);
  r = repo::resolve_s3_endpoint({}, std::nullopt);
  CHECK(r == repo::S3Endpoint{"https://s3.us-east-1.amazonaws.com", "us-east-1", false});

  {
    const ScopedEnv e("AWS_ENDPOINT_URL", "http://127.0.0.1:7480/");
    const ScopedEnv d("AWS_DEFAULT_REGION", "eu-central-1");
    r = repo::resolve_s3_endpoint({}, recorded);
    CHECK(r == repo::S3Endpoint{"http://127.0.0.1:7480", "eu-central-1", true});  // path style: an IP address
    const ScopedEnv s("AWS_ENDPOINT_URL_S3", "https://s3-only.example");
    const ScopedEnv g("AWS_REGION", "ap-south-1");
    r = repo::resolve_s3_endpoint({}, std::nullopt);
    CHECK(r == repo::S3Endpoint{"https://s3-only.example", "ap-south-1", false});
    r = repo::resolve_s3_endpoint({.endpoint = "https://flag.example", .region = "us-west-2", .path_style = true},
                                  std::nullopt);
    CHECK(r == repo::S3Endpoint{"https://flag.example", "us-west-2", true});
  }
}

TEST_CASE("other walvault processes get the repository's URL and endpoint, never credentials", "[repo][address]") {
  const ScopedEnv endpoint("AWS_ENDPOINT_URL", "http://localhost:9000");
  const ScopedEnv region("AWS_REGION", std::nullopt);
  const ScopedEnv default_region("AWS_DEFAULT_REGION", std::nullopt);
  const ScopedEnv secret("AWS_SECRET_ACCESS_KEY", "do-not-print-me");
  CHECK(repo::address_argv({.url = "/srv/repo", .s3 = {}, .key = {}}, std::nullopt) ==
        std::vector<std::string>{"--repo", "/srv/repo"});
  CHECK(repo::address_argv({.url = "s3://bucket/db1", .s3 = {}, .key = {}}, std::nullopt) ==
        std::vector<std::string>{"--repo", "s3://bucket/db1", "--s3-endpoint", "http://localhost:9000", "--s3-region",
                                 "us-east-1", "--s3-path-style"});
  CHECK(repo::absolute({.url = "s3://bucket/db1", .s3 = {}, .key = {}}).url == "s3://bucket/db1");
  CHECK(repo::absolute({.url = "/srv/./repo/", .s3 = {}, .key = {}}).url == "/srv/repo/");
}

TEST_CASE("s3 options on a local repository are refused", "[repo][address]") {
  CHECK(code_of([] {
          (void)repo::open_storage({.url = "/tmp/walvault-no-such-repo", .s3 = {.endpoint = "http://x", .region = {},
                                                                                  .path_style = false}, .key = {}});
        }) == ErrorCode::kUsage);
}

TEST_CASE("walvault.json records how init reached the bucket, and reads without it as before", "[repo][address]") {
  repo::RepoConfig c;
  c.system_identifier = 1;
  c.pg_version = 170004;
  c.segment_size = 16U << 20;
  c.timeline = wal::TimelineId(1);
  c.conninfo = "host=db";
  c.slot = "walvault";
  const repo::RepoConfig local = repo::decode_config(repo::encode_config(c));
  CHECK_FALSE(local.s3.has_value());
  c.s3 = repo::S3Endpoint{.endpoint = "https://s3.example", .region = "eu-west-1", .path_style = false};
  const std::string text = repo::encode_config(c);
  CHECK(text.find("\"s3\"") != std::string::npos);
  CHECK(repo::decode_config(text) == c);
}
