// AWS Signature Version 4 for S3 requests: a pure function of the request, the credentials and the time (no IO,
// no clock). The S3 client builds a SigningRequest for every request it sends and adds the returned
// Authorization header; tests check it against AWS's published examples.
//
// What is signed: the method, the canonical URI (the path exactly as sent, already URI-encoded by uri_encode()),
// the query parameters (encoded and sorted here), every header in `headers` (names lowercased, values trimmed, sorted
// by name) and the payload hash, which the caller also sends as x-amz-content-sha256 (S3 requires that header; the
// caller lists it in `headers`). Nothing here throws.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX

namespace walvault::storage {

struct SigningKeys {
  std::string access_key_id;
  std::string secret_access_key;
};

struct SigningRequest {
  std::string method;                                        // "GET", "PUT", ...
  std::string canonical_uri;                                 // "/bucket/wal/a", URI-encoded, '/' kept
  std::vector<std::pair<std::string, std::string>> query;    // raw (unencoded) names and values
  std::vector<std::pair<std::string, std::string>> headers;  // every header to sign, including host and x-amz-date
  std::string payload_sha256;                                // lowercase hex
  std::string amz_date;                                      // "20150830T123600Z" (UTC)
  std::string region;                                        // "us-east-1"
  std::string service = "s3";
};

// The value of the Authorization header ("AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...").
[[nodiscard]] std::string sigv4_authorization(const SigningRequest& request, const SigningKeys& keys);

// The steps, exposed for tests against the published intermediate values.
[[nodiscard]] std::string sigv4_canonical_request(const SigningRequest& request);
[[nodiscard]] std::string sigv4_string_to_sign(const SigningRequest& request);

// RFC 3986 percent-encoding as SigV4 wants it: unreserved characters (A-Z a-z 0-9 - _ . ~) stay, everything else
// becomes %XX (uppercase hex); '/' stays when keep_slash (object key paths), else it is encoded (query values).
[[nodiscard]] std::string uri_encode(std::string_view text, bool keep_slash);
// The canonical query string: names and values encoded, sorted by name then value, joined with '&'.
[[nodiscard]] std::string canonical_query(const std::vector<std::pair<std::string, std::string>>& query);

// SHA-256 of bytes as lowercase hex.
[[nodiscard]] std::string sha256_hex(std::span<const std::byte> bytes);
[[nodiscard]] std::string sha256_hex(std::string_view text);
// An incremental SHA-256 (a streamed object's digest, to compare it with what a bucket holds).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(std::span<const std::byte> bytes);
  // The digest of everything so far, as lowercase hex. The object cannot be updated afterwards.
  [[nodiscard]] std::string finish();

 private:
  ::evp_md_ctx_st* context_;
};
// The base64 of the MD5 of bytes: the Content-MD5 header DeleteObjects requires.
[[nodiscard]] std::string md5_base64(std::span<const std::byte> bytes);
// Lowercase hex of raw bytes.
[[nodiscard]] std::string to_hex(std::span<const unsigned char> bytes);

}  // namespace walvault::storage
