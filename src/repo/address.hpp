// Where a repository lives, as the command line names it (--repo, WALVAULT_REPO): a local directory, or a bucket
// and prefix of an S3-compatible object store, "s3://BUCKET/PREFIX" (storage/s3_storage.hpp).
//
// For S3 the settings that reach the bucket are resolved in this order:
//   endpoint:   --s3-endpoint, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else AWS (https://s3.REGION.amazonaws.com);
//   region:     --s3-region, AWS_REGION, AWS_DEFAULT_REGION, what init recorded in walvault.json, us-east-1;
//   addressing: --s3-path-style, what init recorded, else path style for an IP address or localhost endpoint.
// init records the endpoint, region and addressing in walvault.json (RepoConfig::s3), so later commands need only
// the URL, the credentials and, for a store that is not AWS, the endpoint (it is what reaches walvault.json).
// Credentials come from the environment or the shared credentials file (storage::s3_credentials_from_environment)
// and are never recorded or printed.
//
// Errors: walvault::Error. kUsage for a malformed s3:// URL, an s3 option on a local repository, or no credentials.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "repo/key_source.hpp"
#include "storage/s3_client.hpp"
#include "storage/storage.hpp"

namespace walvault::repo {

// What the command line says about reaching an S3 repository (unset: from the environment or walvault.json).
struct S3Options {
  std::optional<std::string> endpoint;
  std::optional<std::string> region;
  bool path_style = false;
};

struct RepoAddress {
  std::string url;  // a directory, or "s3://BUCKET/PREFIX"
  S3Options s3;
  KeySource key;    // an encrypted repository's key (repo/key_source.hpp); unset: WALVAULT_KEY_FILE, if any
};

// What init records about the bucket's endpoint (walvault.json "s3").
struct S3Endpoint {
  std::string endpoint;
  std::string region;
  bool path_style = false;

  bool operator==(const S3Endpoint&) const = default;
};

struct S3Location {
  std::string bucket;
  std::string prefix;  // without surrounding '/'; "" for the bucket's root
};

// address with a local directory made absolute and normal (for other processes, which may run elsewhere).
[[nodiscard]] RepoAddress absolute(RepoAddress address);

// The bucket and prefix of an "s3://" URL; nullopt when url is not one (a local directory). Throws kUsage for an
// s3:// URL without a valid bucket name.
[[nodiscard]] std::optional<S3Location> parse_s3_url(std::string_view url);

// The endpoint, region and addressing to use (see the top of this file); recorded is walvault.json's, when known.
[[nodiscard]] S3Endpoint resolve_s3_endpoint(const S3Options& given, const std::optional<S3Endpoint>& recorded);

// The storage of the repository at address. For S3 the endpoint is resolved with recorded (see above) and the
// credentials are read. Throws kUsage (see the top of this file).
[[nodiscard]] std::unique_ptr<storage::Storage> open_storage(const RepoAddress& address,
                                                             const std::optional<S3Endpoint>& recorded = {});

// The arguments that name the repository to another walvault process (restore_command, the prefetcher): "--repo"
// URL, for S3 the endpoint, region and addressing in effect (never credentials), and the key's source (never the
// key).
[[nodiscard]] std::vector<std::string> address_argv(const RepoAddress& address,
                                                    const std::optional<S3Endpoint>& recorded);

}  // namespace walvault::repo
