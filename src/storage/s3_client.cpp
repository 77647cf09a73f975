#include "storage/s3_client.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "common/log.hpp"
#include "storage/libcurl.hpp"
#include "storage/s3_signer.hpp"
#include "storage/s3_xml.hpp"

namespace walvault::storage {

namespace {

std::string trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\r\n");
  return std::string(text.substr(first, last - first + 1));
}

std::string lowercase(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::optional<std::string> environment(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

// The host part of an authority ("host:port", "[v6]:port").
std::string_view host_of(std::string_view authority) {
  if (authority.starts_with('[')) return authority.substr(0, authority.find(']') + 1);
  return authority.substr(0, authority.find(':'));
}

bool is_ip_or_localhost(std::string_view host) {
  if (host == "localhost" || host.starts_with('[')) return true;
  return !host.empty() &&
         std::all_of(host.begin(), host.end(), [](char c) { return c == '.' || (c >= '0' && c <= '9'); });
}

std::string normalize_prefix(std::string_view prefix) {
  while (prefix.starts_with('/')) prefix.remove_prefix(1);
  while (prefix.ends_with('/')) prefix.remove_suffix(1);
  return std::string(prefix);
}

// "20150830T123600Z" for now.
std::string amz_date_now() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y%m%dT%H%M%SZ", &tm);
  return text;
}

bool retryable_status(long status, std::string_view code) {
  return status >= 500 || status == 429 || code == "SlowDown" || code == "ConditionalRequestConflict" ||
         code == "RequestTimeout";
}

bool retryable_transport(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
      return true;
    default:
      return false;
  }
}

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto& body = *static_cast<Bytes*>(user);
  const auto* bytes = reinterpret_cast<const std::byte*>(data);
  body.insert(body.end(), bytes, bytes + size * count);
  return size * count;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto& headers = *static_cast<std::vector<std::pair<std::string, std::string>>*>(user);
  const std::string_view line(data, size * count);
  if (line.starts_with("HTTP/")) {
    headers.clear();  // a new response (after 100 Continue, for example)
  } else if (const auto colon = line.find(':'); colon != std::string_view::npos) {
    headers.emplace_back(lowercase(trim(line.substr(0, colon))), trim(line.substr(colon + 1)));
  }
  return size * count;
}

struct Upload {
  std::span<const std::byte> body;
  std::size_t offset = 0;
};

std::size_t on_read(char* buffer, std::size_t size, std::size_t count, void* user) {
  auto& upload = *static_cast<Upload*>(user);
  const std::size_t n = std::min(size * count, upload.body.size() - upload.offset);
  if (n > 0) std::memcpy(buffer, upload.body.data() + upload.offset, n);
  upload.offset += n;
  return n;
}

// Rewinds the upload when curl resends the body (a redirect or an authentication round).
int on_seek(void* user, curl_off_t offset, int origin) {
  auto& upload = *static_cast<Upload*>(user);
  if (origin != SEEK_SET || offset < 0 || static_cast<std::size_t>(offset) > upload.body.size()) {
    return CURL_SEEKFUNC_FAIL;
  }
  upload.offset = static_cast<std::size_t>(offset);
  return CURL_SEEKFUNC_OK;
}

std::string one_line(std::string_view text) {
  std::string out;
  for (const char c : text) out.push_back(c == '\n' || c == '\r' ? ' ' : c);
  return trim(out);
}

}  // namespace

std::optional<S3Credentials> parse_shared_credentials(std::string_view text, std::string_view profile) {
  S3Credentials found;
  bool in_profile = false;
  std::istringstream lines{std::string(text)};
  for (std::string raw; std::getline(lines, raw);) {
    const std::string line = trim(raw);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    if (line.front() == '[') {
      in_profile = line.back() == ']' && trim(std::string_view(line).substr(1, line.size() - 2)) == profile;
      continue;
    }
    const auto equals = line.find('=');
    if (!in_profile || equals == std::string::npos) continue;
    const std::string name = lowercase(trim(std::string_view(line).substr(0, equals)));
    std::string value = trim(std::string_view(line).substr(equals + 1));
    if (name == "aws_access_key_id") found.access_key_id = std::move(value);
    if (name == "aws_secret_access_key") found.secret_access_key = std::move(value);
    if (name == "aws_session_token") found.session_token = std::move(value);
  }
  if (found.access_key_id.empty() || found.secret_access_key.empty()) return std::nullopt;
  return found;
}

S3Credentials s3_credentials_from_environment() {
  if (auto id = environment("AWS_ACCESS_KEY_ID")) {
    auto secret = environment("AWS_SECRET_ACCESS_KEY");
    if (!secret) {
      throw Error(ErrorCode::kUsage, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not",
                  "set both (and AWS_SESSION_TOKEN for temporary credentials), or neither to use AWS_PROFILE");
    }
    return S3Credentials{std::move(*id), std::move(*secret), environment("AWS_SESSION_TOKEN").value_or("")};
  }
  const std::string profile = environment("AWS_PROFILE").value_or("default");
  std::string path;
  if (auto file = environment("AWS_SHARED_CREDENTIALS_FILE")) {
    path = std::move(*file);
  } else if (auto home = environment("HOME")) {
    path = *home + "/.aws/credentials";
  }
  if (!path.empty()) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    if (auto found = parse_shared_credentials(text.str(), profile)) return std::move(*found);
  }
  throw Error(ErrorCode::kUsage, "no S3 credentials found",
              "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give profile '" + profile + "' keys in " +
                  (path.empty() ? std::string("~/.aws/credentials") : path) + " (AWS_PROFILE chooses the profile)");
}

bool s3_path_style(const S3Config& config) {
  if (config.path_style) return *config.path_style;
  std::string_view rest = config.endpoint;
  if (const auto scheme = rest.find("://"); scheme != std::string_view::npos) rest.remove_prefix(scheme + 3);
  return is_ip_or_localhost(host_of(rest.substr(0, rest.find('/'))));
}

std::optional<std::string> S3Response::header(std::string_view lowercase_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lowercase_name) return value;
  }
  return std::nullopt;
}

std::string S3Response::error_code() const { return xml_text(text(), "Code").value_or(""); }

Error s3_response_error(const S3Config& config, std::string_view operation, std::string_view key,
                        const S3Response& response) {
  std::string code = response.error_code();
  if (code.empty()) {  // HEAD responses carry no body
    if (response.status == 403) code = "AccessDenied";
    if (response.status == 404) code = "NotFound";
  }
  const std::string where = "s3://" + config.bucket + "/" + std::string(key);
  std::string message = "s3 " + std::string(operation) + " of " + where + " failed: HTTP " +
                        std::to_string(response.status) + (code.empty() ? "" : " " + one_line(code));
  if (const std::string detail = one_line(xml_text(response.text(), "Message").value_or("")); !detail.empty()) {
    message += ": " + detail;
  }
  std::string hint;
  if (code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch") {
    hint =
        "the server refused the credentials (InvalidAccessKeyId/SignatureDoesNotMatch): check "
        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or the AWS_PROFILE entry of the shared credentials file";
  } else if (code == "NoSuchBucket") {
    hint = "bucket " + config.bucket + " does not exist at " + config.endpoint +
           ": create it, or check the bucket name and the endpoint";
  } else if (code == "AccessDenied") {
    hint = "the credentials may not " + std::string(operation) + " in bucket " + config.bucket +
           ": check the user's and the bucket's policy (or the credentials themselves)";
  } else if (code == "RequestTimeTooSkewed") {
    hint = "this machine's clock differs too much from the server's: synchronise it (NTP)";
  } else if (code == "AuthorizationHeaderMalformed" || code == "PermanentRedirect" || code == "IncorrectEndpoint") {
    hint = "check the region (" + config.region + ") and the endpoint (" + config.endpoint + ") of bucket " +
           config.bucket;
  } else {
    hint = "check the S3 endpoint (" + config.endpoint + "), bucket " + config.bucket + " and credentials";
  }
  return Error(ErrorCode::kIo, std::move(message), std::move(hint), retryable_status(response.status, code));
}

struct S3Client::Attempt {
  CURLcode transport = CURLE_OK;
  std::string transport_error;
  S3Response response;
};

S3Client::S3Client(S3Config config) : config_(std::move(config)) {
  (void)libcurl();  // loaded and initialised before the first request
  config_.prefix = normalize_prefix(config_.prefix);
  std::string_view rest = config_.endpoint;
  const auto scheme = rest.find("://");
  if (scheme == std::string_view::npos || (rest.substr(0, scheme) != "http" && rest.substr(0, scheme) != "https")) {
    throw Error(ErrorCode::kUsage, "invalid S3 endpoint \"" + config_.endpoint + "\"",
                "give a URL such as https://s3.eu-west-1.amazonaws.com or http://127.0.0.1:7480");
  }
  scheme_ = std::string(rest.substr(0, scheme));
  rest.remove_prefix(scheme + 3);
  authority_ = std::string(rest.substr(0, rest.find('/')));
  if (authority_.empty()) {
    throw Error(ErrorCode::kUsage, "invalid S3 endpoint \"" + config_.endpoint + "\": no host",
                "give a URL such as https://s3.eu-west-1.amazonaws.com or http://127.0.0.1:7480");
  }
  path_style_ = s3_path_style(config_);
}

S3Client::~S3Client() {
  for (void* handle : idle_handles_) libcurl().curl_easy_cleanup(handle);
}

std::string S3Client::describe(std::string_view key) const { return "s3://" + config_.bucket + "/" + std::string(key); }

Error S3Client::error(const S3Request& request, const S3Response& response) const {
  return s3_response_error(config_, request.operation, subject_of(request), response);
}

void* S3Client::take_handle() const {
  {
    const std::lock_guard lock(pool_mutex_);
    if (!idle_handles_.empty()) {
      void* handle = idle_handles_.back();
      idle_handles_.pop_back();
      return handle;
    }
  }
  void* handle = libcurl().curl_easy_init();
  if (handle == nullptr) throw Error(ErrorCode::kIo, "cannot start an HTTP client (curl_easy_init failed)");
  return handle;
}

void S3Client::return_handle(void* handle) const {
  libcurl().curl_easy_reset(handle);  // keeps the handle's live connections
  const std::lock_guard lock(pool_mutex_);
  idle_handles_.push_back(handle);
}

S3Client::Attempt S3Client::attempt(const S3Request& request) const {
  const std::string host = path_style_ ? authority_ : config_.bucket + "." + authority_;
  std::string path = path_style_ ? "/" + config_.bucket : "";
  if (!request.key.empty() || !path_style_) path += "/" + uri_encode(request.key, /*keep_slash=*/true);
  const std::string payload_sha256 = sha256_hex(request.body);
  SigningRequest signing{.method = request.method,
                         .canonical_uri = path,
                         .query = request.query,
                         .headers = request.headers,
                         .payload_sha256 = payload_sha256,
                         .amz_date = amz_date_now(),
                         .region = config_.region};
  signing.headers.emplace_back("host", host);
  signing.headers.emplace_back("x-amz-date", signing.amz_date);
  signing.headers.emplace_back("x-amz-content-sha256", payload_sha256);
  if (!config_.credentials.session_token.empty()) {
    signing.headers.emplace_back("x-amz-security-token", config_.credentials.session_token);
  }
  const std::string authorization = sigv4_authorization(
      signing, SigningKeys{config_.credentials.access_key_id, config_.credentials.secret_access_key});

  curl_slist* header_list = nullptr;
  for (const auto& [name, value] : signing.headers) {
    header_list = libcurl().curl_slist_append(header_list, (name + ": " + value).c_str());
  }
  header_list = libcurl().curl_slist_append(header_list, ("Authorization: " + authorization).c_str());
  header_list = libcurl().curl_slist_append(header_list, "Expect:");  // no 100-continue round trip
  header_list = libcurl().curl_slist_append(header_list, "Content-Type:");

  const std::string query = canonical_query(request.query);
  const std::string url = scheme_ + "://" + host + path + (query.empty() ? "" : "?" + query);
  Attempt out;
  Upload upload{request.body};
  char error_buffer[CURL_ERROR_SIZE] = {};
  void* curl = take_handle();
  libcurl().curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  libcurl().curl_easy_setopt(curl, CURLOPT_HTTPHEADER, header_list);
  libcurl().curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  libcurl().curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  libcurl().curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, static_cast<long>(config_.connect_timeout.count()));
  libcurl().curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
  libcurl().curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, static_cast<long>(config_.stall_timeout.count()));
  libcurl().curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
  libcurl().curl_easy_setopt(curl, CURLOPT_HEADERDATA, &out.response.headers);
  libcurl().curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  libcurl().curl_easy_setopt(curl, CURLOPT_WRITEDATA, &out.response.body);
  if (request.method == "HEAD") {
    libcurl().curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (request.method == "PUT" || request.method == "POST") {
    libcurl().curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    libcurl().curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    libcurl().curl_easy_setopt(curl, CURLOPT_READFUNCTION, on_read);
    libcurl().curl_easy_setopt(curl, CURLOPT_READDATA, &upload);
    libcurl().curl_easy_setopt(curl, CURLOPT_SEEKFUNCTION, on_seek);
    libcurl().curl_easy_setopt(curl, CURLOPT_SEEKDATA, &upload);
    libcurl().curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  } else if (request.method != "GET") {
    libcurl().curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  out.transport = libcurl().curl_easy_perform(curl);
  if (out.transport == CURLE_OK) {
    libcurl().curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out.response.status);
  } else {
    out.transport_error = error_buffer[0] != '\0' ? error_buffer : libcurl().curl_easy_strerror(out.transport);
  }
  libcurl().curl_slist_free_all(header_list);
  return_handle(curl);
  return out;
}

// How long a request retries before it says so.
constexpr auto kQuietRetries = std::chrono::seconds(3);

S3Response S3Client::send(const S3Request& request) const {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  thread_local std::minstd_rand random{std::random_device{}()};
  auto delay = config_.retry.first_delay;
  bool warned = false;
  for (int attempts = 1;; ++attempts) {
    Attempt result = attempt(request);
    std::string failure;
    if (result.transport != CURLE_OK) {
      if (!retryable_transport(result.transport)) {
        throw Error(ErrorCode::kIo,
                    "s3 " + std::string(request.operation) + " of " + describe(subject_of(request)) +
                        " failed: " + one_line(result.transport_error),
                    "check the S3 endpoint " + config_.endpoint);
      }
      failure = one_line(result.transport_error);
    } else if (retryable_status(result.response.status, result.response.error_code())) {
      failure = "HTTP " + std::to_string(result.response.status) + " " + result.response.error_code();
    } else {
      return std::move(result.response);
    }
    // Full jitter: a random wait up to the current backoff, which doubles up to the cap.
    const auto wait = std::chrono::milliseconds(
        std::uniform_int_distribution<int64_t>(0, std::max<int64_t>(delay.count(), 1))(random));
    if (Clock::now() + wait - start >= config_.retry.total) {
      if (result.transport == CURLE_OK) {
        Error last = error(request, result.response);
        throw Error(ErrorCode::kIo, std::string(last.what()) + " (" + std::to_string(attempts) + " attempts)",
                    last.hint(), true);
      }
      throw Error(ErrorCode::kIo,
                  "s3 " + std::string(request.operation) + " of " + describe(subject_of(request)) +
                      " failed: " + failure + " (" + std::to_string(attempts) + " attempts)",
                  "check that the S3 endpoint " + config_.endpoint + " is reachable; walvault retried for " +
                      std::to_string(config_.retry.total.count() / 1000) + " s",
                  /*retryable=*/true);
    }
    // Said once per request, when it has failed for a few seconds: an unreachable endpoint is never silent.
    if (!warned && Clock::now() - start >= kQuietRetries) {
      log::warning("s3 " + std::string(request.operation) + " of " + describe(subject_of(request)) + " at " +
                   config_.endpoint + " keeps failing (" + failure + "); retrying for up to " +
                   std::to_string(config_.retry.total.count() / 1000) + " s");
      warned = true;
    }
    std::this_thread::sleep_for(wait);
    delay = std::min(delay * 2, config_.retry.max_delay);
  }
}

}  // namespace walvault::storage
