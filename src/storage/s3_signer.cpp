#include "storage/s3_signer.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <cctype>

namespace walvault::storage {

namespace {

using Digest = std::array<unsigned char, SHA256_DIGEST_LENGTH>;

Digest hmac_sha256(std::span<const unsigned char> key, std::string_view data) {
  Digest out{};
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out.data(), &length);
  return out;
}

std::string lowercase(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Header values are trimmed and inner runs of spaces collapse to one.
std::string trim_value(std::string_view value) {
  std::string out;
  bool space = false;
  for (const char c : value) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

// Lowercased, trimmed, sorted headers.
std::vector<std::pair<std::string, std::string>> canonical_headers(const SigningRequest& request) {
  std::vector<std::pair<std::string, std::string>> headers;
  headers.reserve(request.headers.size());
  for (const auto& [name, value] : request.headers) headers.emplace_back(lowercase(name), trim_value(value));
  std::sort(headers.begin(), headers.end());
  return headers;
}

std::string signed_header_names(const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string out;
  for (const auto& [name, value] : headers) {
    if (!out.empty()) out += ';';
    out += name;
  }
  return out;
}

std::string scope(const SigningRequest& request) {
  return request.amz_date.substr(0, 8) + "/" + request.region + "/" + request.service + "/aws4_request";
}

}  // namespace

std::string to_hex(std::span<const unsigned char> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const unsigned char b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xf]);
  }
  return out;
}

std::string sha256_hex(std::span<const std::byte> bytes) {
  Digest digest{};
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest.data());
  return to_hex(digest);
}

Sha256::Sha256() : context_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(context_, EVP_sha256(), nullptr); }
Sha256::~Sha256() { EVP_MD_CTX_free(context_); }
void Sha256::update(std::span<const std::byte> bytes) { EVP_DigestUpdate(context_, bytes.data(), bytes.size()); }
std::string Sha256::finish() {
  Digest digest{};
  unsigned int length = 0;
  EVP_DigestFinal_ex(context_, digest.data(), &length);
  return to_hex(digest);
}

std::string md5_base64(std::span<const std::byte> bytes) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest.data(), &length, EVP_md5(), nullptr);
  std::array<unsigned char, 4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1> text{};
  const int written = EVP_EncodeBlock(text.data(), digest.data(), static_cast<int>(length));
  return {reinterpret_cast<const char*>(text.data()), static_cast<std::size_t>(written)};
}

std::string sha256_hex(std::string_view text) { return sha256_hex(std::as_bytes(std::span(text.data(), text.size()))); }

std::string uri_encode(std::string_view text, bool keep_slash) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kDigits[c >> 4]);
      out.push_back(kDigits[c & 0xf]);
    }
  }
  return out;
}

std::string canonical_query(const std::vector<std::pair<std::string, std::string>>& query) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(query.size());
  for (const auto& [name, value] : query) encoded.emplace_back(uri_encode(name, false), uri_encode(value, false));
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [name, value] : encoded) {
    if (!out.empty()) out += '&';
    out += name + "=" + value;
  }
  return out;
}

std::string sigv4_canonical_request(const SigningRequest& request) {
  const auto headers = canonical_headers(request);
  std::string out = request.method + "\n" + request.canonical_uri + "\n" + canonical_query(request.query) + "\n";
  for (const auto& [name, value] : headers) out += name + ":" + value + "\n";
  out += "\n" + signed_header_names(headers) + "\n" + request.payload_sha256;
  return out;
}

std::string sigv4_string_to_sign(const SigningRequest& request) {
  return "AWS4-HMAC-SHA256\n" + request.amz_date + "\n" + scope(request) + "\n" +
         sha256_hex(sigv4_canonical_request(request));
}

std::string sigv4_authorization(const SigningRequest& request, const SigningKeys& keys) {
  const std::string secret = "AWS4" + keys.secret_access_key;
  Digest key = hmac_sha256(std::span(reinterpret_cast<const unsigned char*>(secret.data()), secret.size()),
                           request.amz_date.substr(0, 8));
  for (const std::string_view part :
       {std::string_view(request.region), std::string_view(request.service), std::string_view("aws4_request")}) {
    key = hmac_sha256(key, part);
  }
  const Digest signature = hmac_sha256(key, sigv4_string_to_sign(request));
  return "AWS4-HMAC-SHA256 Credential=" + keys.access_key_id + "/" + scope(request) +
         ", SignedHeaders=" + signed_header_names(canonical_headers(request)) + ", Signature=" + to_hex(signature);
}

}  // namespace walvault::storage
