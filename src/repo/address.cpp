#include "repo/address.hpp"

#include <cstdlib>
#include <filesystem>

#include "common/error.hpp"
#include "storage/posix_storage.hpp"
#include "storage/s3_storage.hpp"

namespace walvault::repo {
namespace {

constexpr std::string_view kScheme = "s3://";

std::optional<std::string> environment(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

bool valid_bucket(std::string_view bucket) {
  if (bucket.size() < 3 || bucket.size() > 63) return false;
  for (const char c : bucket) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

RepoAddress absolute(RepoAddress address) {
  if (!address.url.starts_with(kScheme)) {
    address.url = std::filesystem::absolute(address.url).lexically_normal().string();
  }
  return address;
}

std::optional<S3Location> parse_s3_url(std::string_view url) {
  if (!url.starts_with(kScheme)) return std::nullopt;
  std::string_view rest = url.substr(kScheme.size());
  const auto slash = rest.find('/');
  S3Location location{.bucket = std::string(rest.substr(0, slash)), .prefix = ""};
  if (!valid_bucket(location.bucket)) {
    throw Error(ErrorCode::kUsage, "invalid S3 repository URL \"" + std::string(url) + "\": no valid bucket name",
                "write it as s3://BUCKET/PREFIX (a bucket name has 3 to 63 letters, digits, '.', '-' or '_')");
  }
  if (slash != std::string_view::npos) {
    std::string_view prefix = rest.substr(slash + 1);
    while (prefix.ends_with('/')) prefix.remove_suffix(1);
    location.prefix = std::string(prefix);
    if (!location.prefix.empty()) {
      try {
        storage::check_object_name(location.prefix);
      } catch (const Error&) {
        throw Error(ErrorCode::kUsage, "invalid S3 repository URL \"" + std::string(url) + "\": bad prefix",
                    "the prefix is '/'-separated names without empty, '.' or '..' parts, e.g. s3://bucket/db1");
      }
    }
  }
  return location;
}

S3Endpoint resolve_s3_endpoint(const S3Options& given, const std::optional<S3Endpoint>& recorded) {
  S3Endpoint out;
  // The first that is set, in order.
  const auto first = [](std::optional<std::string> value, std::initializer_list<const char*> variables) {
    for (const char* variable : variables) {
      if (!value) value = environment(variable);
    }
    return value;
  };
  out.region = first(given.region, {"AWS_REGION", "AWS_DEFAULT_REGION"})
                   .value_or(recorded ? recorded->region : std::string("us-east-1"));
  out.endpoint = first(given.endpoint, {"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"})
                     .value_or("https://s3." + out.region + ".amazonaws.com");
  while (out.endpoint.ends_with('/')) out.endpoint.pop_back();
  storage::S3Config probe;
  probe.endpoint = out.endpoint;
  if (given.path_style || (recorded && recorded->path_style)) probe.path_style = true;
  out.path_style = storage::s3_path_style(probe);
  return out;
}

std::unique_ptr<storage::Storage> open_storage(const RepoAddress& address, const std::optional<S3Endpoint>& recorded) {
  const auto location = parse_s3_url(address.url);
  if (!location) {
    if (address.s3.endpoint || address.s3.region || address.s3.path_style) {
      throw Error(ErrorCode::kUsage, "--s3-endpoint, --s3-region and --s3-path-style are for s3:// repositories",
                  "give --repo s3://BUCKET/PREFIX, or leave the S3 options out for the directory " + address.url);
    }
    return std::make_unique<storage::PosixStorage>(address.url);
  }
  const S3Endpoint endpoint = resolve_s3_endpoint(address.s3, recorded);
  storage::S3Config config;
  config.endpoint = endpoint.endpoint;
  config.region = endpoint.region;
  config.path_style = endpoint.path_style;
  config.bucket = location->bucket;
  config.prefix = location->prefix;
  config.credentials = storage::s3_credentials_from_environment();
  return std::make_unique<storage::S3Storage>(std::move(config));
}

std::vector<std::string> address_argv(const RepoAddress& address, const std::optional<S3Endpoint>& recorded) {
  std::vector<std::string> argv{"--repo", address.url};
  const auto key = or_environment(address.key).argv();
  argv.insert(argv.end(), key.begin(), key.end());
  if (!parse_s3_url(address.url)) return argv;
  const S3Endpoint endpoint = resolve_s3_endpoint(address.s3, recorded);
  argv.insert(argv.end(), {"--s3-endpoint", endpoint.endpoint, "--s3-region", endpoint.region});
  if (endpoint.path_style) argv.emplace_back("--s3-path-style");
  return argv;
}

}  // namespace walvault::repo
