// S3Client: signed HTTP requests to one bucket of an S3-compatible object store (AWS S3, Ceph radosgw, MinIO,
// R2, B2, Wasabi), over libcurl, with retries. S3Storage builds the S3 operations on it.
//
// Every request is signed with SigV4 (s3_signer.hpp) and carries x-amz-content-sha256 (the payload is hashed, not
// UNSIGNED-PAYLOAD, so the server checks the bytes it stores). send() retries 5xx, 429, SlowDown,
// ConditionalRequestConflict, timeouts, stalls and dropped connections with capped exponential backoff and full
// jitter until S3Config::retry.total has passed, then throws a retryable kIo error; every other response goes back
// to the caller, which decides what 404 or 412 mean and turns the rest into s3_response_error(). Credentials
// never appear in an error message or a log line. Safe to use from several threads (a pool of curl handles keeps
// connections alive).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.hpp"
#include "storage/storage.hpp"

namespace walvault::storage {

struct S3Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty unless temporary credentials
};

// Credentials from the standard places, in the AWS CLI's order: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (with
// AWS_SESSION_TOKEN), else the profile AWS_PROFILE ("default" when unset) of the shared credentials file
// (AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials). Throws kUsage when none is found, naming where it looked.
[[nodiscard]] S3Credentials s3_credentials_from_environment();
// The keys of profile in the text of a shared credentials file (INI: "[name]" sections, aws_access_key_id,
// aws_secret_access_key, aws_session_token); nullopt when the profile or its two keys are missing. Pure.
[[nodiscard]] std::optional<S3Credentials> parse_shared_credentials(std::string_view text, std::string_view profile);

struct S3RetryPolicy {
  std::chrono::milliseconds first_delay{100};  // the first backoff; doubled per attempt
  std::chrono::milliseconds max_delay{5000};   // cap of one backoff
  std::chrono::milliseconds total{60000};      // no new attempt starts once this has passed since the first
};

struct S3Config {
  std::string endpoint;  // "https://s3.eu-west-1.amazonaws.com", "http://127.0.0.1:7480"
  std::string region = "us-east-1";
  std::string bucket;
  std::string prefix;  // objects live under "prefix/" ("" = the bucket's root); surrounding '/' are ignored
  // Path-style addressing (endpoint/bucket/key) instead of virtual-hosted (bucket.endpoint/key). Unset: path style
  // for an IP address or localhost endpoint, virtual-hosted otherwise.
  std::optional<bool> path_style;
  S3Credentials credentials;
  S3RetryPolicy retry;
  std::chrono::seconds connect_timeout{10};
  std::chrono::seconds stall_timeout{60};   // a request that moves no byte for this long fails (and is retried)
  uint64_t part_size = 8 << 20;             // multipart upload part size (S3's minimum is 5 MiB)
  uint32_t list_page_size = 1000;           // ListObjectsV2 max-keys (1000 is S3's maximum)
  std::chrono::seconds lease_duration{30};  // lock(): a lease not renewed for this long may be taken over
};

// Whether requests to config's endpoint use path-style addressing (see S3Config::path_style).
[[nodiscard]] bool s3_path_style(const S3Config& config);

struct S3Request {
  std::string_view operation;  // the S3 API name, for errors: "PutObject", "ListObjectsV2", ...
  std::string method;          // "GET", "PUT", "POST", "DELETE", "HEAD"
  std::string key;             // the full object key (prefix included); empty for a bucket-level request
  std::vector<std::pair<std::string, std::string>> query = {};    // raw names and values
  std::vector<std::pair<std::string, std::string>> headers = {};  // extra headers, all signed
  std::span<const std::byte> body = {};
  std::string subject = {};  // what errors name after the bucket when not key (a listed prefix)
};

struct S3Response {
  long status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased
  Bytes body;

  [[nodiscard]] std::optional<std::string> header(std::string_view lowercase_name) const;
  [[nodiscard]] std::string_view text() const noexcept {
    return {reinterpret_cast<const char*>(body.data()), body.size()};
  }
  // The <Code> of an error body ("NoSuchKey", "SlowDown"), empty when there is none (HEAD, or not XML).
  [[nodiscard]] std::string error_code() const;
};

// The one-line kIo error for an S3 response the caller did not expect: "s3 PutObject of s3://BUCKET/KEY failed:
// HTTP 403 SignatureDoesNotMatch[: message]", with a hint for the common causes (bad credentials, missing bucket,
// access denied, clock skew, wrong region). An empty <Message> is left out. Retryable for 5xx and 429. Pure.
[[nodiscard]] Error s3_response_error(const S3Config& config, std::string_view operation, std::string_view key,
                                      const S3Response& response);

class S3Client {
 public:
  explicit S3Client(S3Config config);
  ~S3Client();
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  // Sends request (see the top of this file). Returns the final response whatever its status; throws a retryable
  // kIo error when every attempt failed in transport or with a retryable status.
  [[nodiscard]] S3Response send(const S3Request& request) const;
  // s3_response_error() for request.
  [[nodiscard]] Error error(const S3Request& request, const S3Response& response) const;
  [[nodiscard]] const S3Config& config() const noexcept { return config_; }
  // "s3://bucket/key", for messages.
  [[nodiscard]] std::string describe(std::string_view key) const;
  // What an error about request names after the bucket: its subject, else its key.
  [[nodiscard]] static const std::string& subject_of(const S3Request& request) noexcept {
    return request.subject.empty() ? request.key : request.subject;
  }

 private:
  struct Attempt;
  [[nodiscard]] Attempt attempt(const S3Request& request) const;
  [[nodiscard]] void* take_handle() const;
  void return_handle(void* handle) const;

  S3Config config_;
  std::string scheme_;     // "http" or "https"
  std::string authority_;  // "host[:port]" of the endpoint
  bool path_style_;
  mutable std::mutex pool_mutex_;
  mutable std::vector<void*> idle_handles_;
};

}  // namespace walvault::storage
