#include "storage/s3_storage.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>
#include <map>

#include "common/log.hpp"
#include "storage/buffered_content.hpp"
#include "storage/s3_signer.hpp"
#include "storage/s3_xml.hpp"

namespace walvault::storage {

namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

Error not_found(std::string_view name) {
  return Error(ErrorCode::kNotFound, "object " + std::string(name) + " does not exist in the repository");
}

std::optional<uint64_t> parse_u64(std::string_view text) {
  uint64_t value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

// The total size in a Content-Range header ("bytes 0-0/1234", "bytes */1234").
std::optional<uint64_t> content_range_total(const std::optional<std::string>& header) {
  if (!header) return std::nullopt;
  const auto slash = header->rfind('/');
  if (slash == std::string::npos) return std::nullopt;
  return parse_u64(std::string_view(*header).substr(slash + 1));
}

// An S3 timestamp ("2026-12-07T05:34:14.034Z", UTC), to the second; nullopt when it is not one.
std::optional<std::chrono::system_clock::time_point> parse_s3_time(const std::optional<std::string>& text) {
  if (!text) return std::nullopt;
  std::tm tm{};
  if (std::sscanf(text->c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec) != 6) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  const std::time_t t = ::timegm(&tm);
  if (t == -1) return std::nullopt;
  return std::chrono::system_clock::from_time_t(t);
}

// FNV-1a, 64 bits: a stable token from an ETag.
uint64_t fnv1a(std::string_view text) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (const char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

std::string random_id() {
  std::random_device device;
  std::array<unsigned char, 16> bytes{};
  for (auto& b : bytes) b = static_cast<unsigned char>(device());
  return to_hex(bytes);
}

int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string lease_body(const std::string& owner, std::chrono::seconds duration) {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  return nlohmann::json{{"owner", owner},
                        {"host", host},
                        {"pid", ::getpid()},
                        {"expires_unix_ms", unix_ms_now() + duration.count() * 1000}}
      .dump();
}

// A lease that cannot be read names no live holder: it counts as expired.
bool lease_expired(std::string_view body) {
  const auto json = nlohmann::json::parse(body, nullptr, false);
  if (!json.is_object() || !json.contains("expires_unix_ms") || !json["expires_unix_ms"].is_number_integer()) {
    return true;
  }
  return json["expires_unix_ms"].get<int64_t>() < unix_ms_now();
}

// A lease whose holder is a process of this host that no longer exists (killed before it could release it): it
// is stale at once rather than when it expires, so that a streamer restarted after a kill -9 resumes at once.
bool lease_holder_dead(std::string_view body) {
  const auto json = nlohmann::json::parse(body, nullptr, false);
  if (!json.is_object() || !json.contains("host") || !json["host"].is_string() || !json.contains("pid") ||
      !json["pid"].is_number_integer()) {
    return false;
  }
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  const auto pid = json["pid"].get<long>();
  return json["host"] == host && pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

bool lease_owned_by(std::string_view body, const std::string& owner) {
  const auto json = nlohmann::json::parse(body, nullptr, false);
  return json.is_object() && json.contains("owner") && json["owner"] == owner;
}

// The If-Match value for an ETag: without its quotes. radosgw compares the header with the bare MD5 it stores
// (a quoted value never matches there); AWS S3 accepts either form.
std::string if_match(std::string_view etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') etag = etag.substr(1, etag.size() - 2);
  return std::string(etag);
}

std::span<const std::byte> bytes_of(const std::string& text) {
  return std::as_bytes(std::span(text.data(), text.size()));
}

constexpr std::string_view kPieceMarker = "/.piece-";
constexpr std::size_t kPieceDigits = 16;
// Cut-away pieces are deleted once this many have gathered; a log of more live pieces is rewritten as one piece
// when its content is at most kCompactBytes.
constexpr std::size_t kPieceBatch = 32;
constexpr uint64_t kCompactBytes = 1 << 20;

std::string hex16(uint64_t value) {
  char text[kPieceDigits + 1];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(value));
  return text;
}

std::optional<uint64_t> parse_hex16(std::string_view text) {
  uint64_t value = 0;
  if (text.size() != kPieceDigits) return std::nullopt;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 16);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

// The pieces that hold bytes of the file: a piece is cut away entirely when a later piece starts at or before its
// offset. pieces are sorted by sequence number.
template <typename Piece>
std::vector<Piece> live_pieces(const std::vector<Piece>& pieces) {
  std::vector<Piece> live;
  uint64_t cut = UINT64_MAX;
  for (auto it = pieces.rbegin(); it != pieces.rend(); ++it) {
    if (it->offset < cut) live.push_back(*it);
    cut = std::min(cut, it->offset);
  }
  std::reverse(live.begin(), live.end());
  return live;
}

}  // namespace

uint64_t s3_part_size(uint64_t base, uint64_t part_number) {
  const uint64_t doublings = std::min<uint64_t>((part_number - 1) / 2000, 4);
  return base << doublings;
}

// --- writer --------------------------------------------------------------------------------------------------

class S3ObjectWriter final : public ObjectWriter {
 public:
  S3ObjectWriter(const S3Storage& storage, std::string name, WriteMode mode)
      : storage_(storage), name_(std::move(name)), key_(storage.key(name_)), mode_(mode) {}
  ~S3ObjectWriter() override { abort(); }
  S3ObjectWriter(const S3ObjectWriter&) = delete;
  S3ObjectWriter& operator=(const S3ObjectWriter&) = delete;

  void write(std::span<const std::byte> bytes) override {
    check_open();
    try {
      while (!bytes.empty()) {
        const uint64_t part_size = s3_part_size(storage_.client_.config().part_size, etags_.size() + 1);
        const std::size_t n = std::min<std::size_t>(bytes.size(), part_size - buffer_.size());
        if (buffer_.size() + n > buffer_.capacity()) {  // grow, but never past one part
          buffer_.reserve(std::min<std::size_t>(part_size, std::max(2 * buffer_.capacity(), buffer_.size() + n)));
        }
        buffer_.insert(buffer_.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
        sha256_.update(bytes.first(n));
        size_ += n;
        bytes = bytes.subspan(n);
        if (buffer_.size() == part_size) upload_part();
      }
    } catch (...) {
      abort();
      throw;
    }
  }

  void commit() override {
    check_open();
    open_ = false;
    try {
      if (!upload_id_) {
        if (mode_ == WriteMode::kReplace) storage_.put_replacing(name_, buffer_);
        else storage_.put_new(name_, buffer_);
        return;
      }
      if (!buffer_.empty()) upload_part();
      complete(sha256_.finish());
    } catch (...) {
      abort_upload();
      throw;
    }
  }

  void abort() noexcept override {
    open_ = false;
    buffer_ = Bytes();
    abort_upload();
  }

  [[nodiscard]] uint64_t size() const override { return size_; }

 private:
  void check_open() const {
    if (!open_) throw Error(ErrorCode::kInternal, "object writer for " + name_ + " used after commit or abort");
  }

  [[nodiscard]] S3Response send(std::string_view operation, std::string method, Headers query, Headers headers = {},
                                std::span<const std::byte> body = {}) const {
    return storage_.client_.send(S3Request{.operation = operation,
                                           .method = std::move(method),
                                           .key = key_,
                                           .query = std::move(query),
                                           .headers = std::move(headers),
                                           .body = body});
  }

  [[noreturn]] void fail(std::string_view operation, const S3Response& response) const {
    throw s3_response_error(storage_.client_.config(), operation, key_, response);
  }

  void upload_part() {
    if (!upload_id_) {
      const S3Response created = send("CreateMultipartUpload", "POST", {{"uploads", ""}});
      const auto id = xml_text(created.text(), "UploadId");
      if (created.status != 200 || !id || id->empty()) fail("CreateMultipartUpload", created);
      upload_id_ = *id;
    }
    if (etags_.size() == kS3MaxParts) {
      throw Error(
          ErrorCode::kIo,
          "cannot write " + storage_.client_.describe(key_) + ": more than " + std::to_string(kS3MaxParts) + " parts",
          "the object is larger than S3 allows for this part size: raise the S3 part size");
    }
    const std::string number = std::to_string(etags_.size() + 1);
    const S3Response part = send("UploadPart", "PUT", {{"partNumber", number}, {"uploadId", *upload_id_}}, {}, buffer_);
    const auto etag = part.header("etag");
    if (part.status != 200 || !etag) fail("UploadPart", part);
    etags_.push_back(*etag);
    buffer_.clear();
  }

  // Completes the upload under the immutability rule (see s3_storage.hpp).
  void complete(const std::string& sha256) {
    if (mode_ == WriteMode::kCreate && storage_.probe(key_)) {
      finish_on_existing(sha256);
      return;
    }
    std::string body = "<CompleteMultipartUpload>";
    for (std::size_t i = 0; i < etags_.size(); ++i) {
      body += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" + xml_escape(etags_[i]) +
              "</ETag></Part>";
    }
    body += "</CompleteMultipartUpload>";
    Headers condition;
    if (mode_ == WriteMode::kCreate) condition = {{"If-None-Match", "*"}};
    const S3Response done =
        send("CompleteMultipartUpload", "POST", {{"uploadId", *upload_id_}}, std::move(condition), bytes_of(body));
    // A 200 response may still carry an <Error> (S3 reports failures that happen after it started answering so).
    if (done.status == 200 && xml_elements(done.text(), "Error").empty()) {
      upload_id_.reset();
      return;
    }
    if (done.status == 412) {  // the server honoured If-None-Match: the name appeared meanwhile
      finish_on_existing(sha256);
      return;
    }
    // A retried completion whose first attempt went through finds its upload gone.
    if (done.status == 404 && done.error_code() == "NoSuchUpload" && storage_.holds(key_, size_, sha256)) {
      upload_id_.reset();
      return;
    }
    fail("CompleteMultipartUpload", done);
  }

  // The name exists: same content succeeds, different content is a conflict; the upload goes either way.
  void finish_on_existing(const std::string& sha256) {
    const bool same = storage_.holds(key_, size_, sha256);
    abort_upload();
    if (!same) throw content_conflict(name_);
  }

  void abort_upload() noexcept {
    if (!upload_id_) return;
    try {
      (void)send("AbortMultipartUpload", "DELETE", {{"uploadId", *upload_id_}});
    } catch (const std::exception& e) {
      log::warning("cannot abort the multipart upload of " + storage_.client_.describe(key_) + ": " + e.what() +
                   " (the bucket keeps its parts until it is aborted)");
    }
    upload_id_.reset();
  }

  const S3Storage& storage_;
  std::string name_;
  std::string key_;
  WriteMode mode_;
  Bytes buffer_;
  Sha256 sha256_;
  uint64_t size_ = 0;
  std::optional<std::string> upload_id_;
  std::vector<std::string> etags_;
  bool open_ = true;
};

// --- lease lock ------------------------------------------------------------------------------------------------

class S3Lease final : public StorageLock {
 public:
  S3Lease(const S3Storage& storage, std::string key, std::string owner, std::string etag)
      : storage_(storage), key_(std::move(key)), owner_(std::move(owner)), etag_(std::move(etag)) {
    thread_ = std::thread([this] { heartbeat(); });
  }
  ~S3Lease() override {
    {
      const std::lock_guard lock(mutex_);
      stop_ = true;
    }
    stopped_.notify_all();
    thread_.join();
    if (lost_) return;
    try {
      // Delete the lease only while it is still ours (a takeover after a long outage may have replaced it).
      const auto held = storage_.get(key_, std::nullopt);
      if (held && lease_owned_by(held->text(), owner_)) {
        (void)storage_.client_.send(S3Request{.operation = "DeleteObject", .method = "DELETE", .key = key_});
      }
    } catch (const std::exception& e) {
      log::warning("cannot release the lease " + storage_.client_.describe(key_) + ": " + e.what() +
                   " (it expires by itself)");
    }
  }
  S3Lease(const S3Lease&) = delete;
  S3Lease& operator=(const S3Lease&) = delete;

  [[nodiscard]] bool lost() const noexcept override { return lost_; }

 private:
  void heartbeat() {
    const auto duration = storage_.client_.config().lease_duration;
    const auto interval = std::chrono::duration_cast<std::chrono::milliseconds>(duration) / 3;
    std::unique_lock lock(mutex_);
    while (!stopped_.wait_for(lock, interval, [this] { return stop_; })) {
      lock.unlock();
      renew(duration);
      lock.lock();
      if (lost_) return;
    }
  }

  void renew(std::chrono::seconds duration) {
    const std::string body = lease_body(owner_, duration);
    try {
      const S3Response r = storage_.client_.send(S3Request{.operation = "PutObject",
                                                           .method = "PUT",
                                                           .key = key_,
                                                           .headers = {{"If-Match", if_match(etag_)}},
                                                           .body = bytes_of(body)});
      if (r.status == 200 && r.header("etag")) {
        etag_ = *r.header("etag");
      } else if (r.status == 412 || r.status == 404) {
        lost_ = true;
        log::error("lost the lease " + storage_.client_.describe(key_) +
                   ": another process took it over after renewals failed for longer than the lease lasts");
      } else {
        log::warning(s3_response_error(storage_.client_.config(), "PutObject", key_, r).what());
      }
    } catch (const std::exception& e) {
      log::warning(std::string("cannot renew the lease: ") + e.what());
    }
  }

  const S3Storage& storage_;
  std::string key_;
  std::string owner_;
  std::string etag_;  // of the lease as this holder last wrote it
  std::mutex mutex_;
  std::condition_variable stopped_;
  bool stop_ = false;
  std::atomic<bool> lost_ = false;  // written by the heartbeat thread only
  std::thread thread_;
};

// --- append files ----------------------------------------------------------------------------------------------

class S3AppendFile final : public AppendFile {
 public:
  S3AppendFile(S3Storage& storage, std::string name) : storage_(storage), name_(std::move(name)), content_(name_) {
    const auto pieces = storage_.pieces(name_);
    if (pieces.empty()) {
      content_.mark_changed_from(0);
      sync();  // created empty and durable
    } else {
      content_.load(storage_.read_pieces(name_).value_or(Bytes()));
      next_seq_ = pieces.back().seq + 1;
      live_ = live_pieces(pieces);
      for (const auto& piece : pieces) {
        if (std::none_of(live_.begin(), live_.end(), [&](const auto& l) { return l.seq == piece.seq; })) {
          cut_.push_back(piece.key);
        }
      }
    }
    const std::lock_guard lock(storage_.open_mutex_);
    storage_.open_files_[name_] = this;
  }
  ~S3AppendFile() override {
    const std::lock_guard lock(storage_.open_mutex_);
    if (const auto it = storage_.open_files_.find(name_); it != storage_.open_files_.end() && it->second == this) {
      storage_.open_files_.erase(it);
    }
  }
  S3AppendFile(const S3AppendFile&) = delete;
  S3AppendFile& operator=(const S3AppendFile&) = delete;

  [[nodiscard]] uint64_t size() const override { return content_.size(); }

  void write_at(uint64_t offset, std::span<const std::byte> bytes) override { content_.write_at(offset, bytes); }
  void truncate(uint64_t length) override { content_.truncate(length); }

  void sync() override {
    if (!content_.changed_from()) return;
    uint64_t from = *content_.changed_from();
    if (live_.size() >= kPieceBatch && content_.size() <= kCompactBytes) from = 0;
    S3Storage::Piece piece{.seq = next_seq_, .offset = from, .length = content_.size() - from, .key = ""};
    piece.key = storage_.key(name_) + std::string(kPieceMarker) + hex16(piece.seq) + "-" + hex16(piece.offset);
    storage_.put_new_key(piece.key, name_, std::span(content_.bytes()).subspan(from));
    ++next_seq_;
    content_.mark_synced();
    std::erase_if(live_, [&](const S3Storage::Piece& l) {
      if (l.offset < from) return false;
      cut_.push_back(l.key);
      return true;
    });
    live_.push_back(std::move(piece));
    if (cut_.size() >= kPieceBatch) {
      try {
        storage_.delete_keys(cut_);
        cut_.clear();
      } catch (const Error& e) {  // they only cost space: the next batch tries again
        log::warning("cannot delete the replaced pieces of " + name_ + ": " + e.what());
      }
    }
  }

  void replace(std::span<const std::byte> bytes) override {
    content_.assign(bytes);
    sync();
  }

  // The content, synced first (publish_append).
  [[nodiscard]] const Bytes& synced_content() {
    sync();
    return content_.bytes();
  }

 private:
  S3Storage& storage_;
  std::string name_;
  BufferedContent content_;
  uint64_t next_seq_ = 1;
  std::vector<S3Storage::Piece> live_;  // the pieces that hold bytes of the synced content
  std::vector<std::string> cut_;        // keys of pieces cut away entirely, not deleted yet
};

// --- storage ---------------------------------------------------------------------------------------------------

S3Storage::S3Storage(S3Config config) : client_(std::move(config)) {
  const S3Config& c = client_.config();
  if (c.part_size < (5 << 20) || c.list_page_size == 0 || c.lease_duration < std::chrono::seconds(3)) {
    throw Error(ErrorCode::kUsage, "invalid S3 storage settings",
                "parts are at least 5 MiB (S3's minimum), a listing page holds at least one key, and a lease lasts "
                "at least 3 s");
  }
}

Capabilities S3Storage::capabilities() const { return Capabilities{.append = true, .local_root = {}}; }

std::string S3Storage::key(std::string_view name) const {
  const std::string& prefix = client_.config().prefix;
  return prefix.empty() ? std::string(name) : prefix + "/" + std::string(name);
}

std::optional<S3Response> S3Storage::get(const std::string& key, const std::optional<std::string>& range) const {
  S3Request request{.operation = "GetObject", .method = "GET", .key = key};
  if (range) request.headers.emplace_back("Range", *range);
  S3Response response = client_.send(request);
  if (response.status == 200 || response.status == 206 || response.status == 416) return response;
  if (response.status == 404 && response.error_code() != "NoSuchBucket") return std::nullopt;
  throw client_.error(request, response);
}

std::optional<S3Storage::Probe> S3Storage::probe(const std::string& key) const {
  const auto response = get(key, "bytes=0-0");
  if (!response) return std::nullopt;
  Probe probe{.size = 0, .etag = response->header("etag").value_or("")};
  if (response->status == 200) {
    probe.size = response->body.size();
  } else if (const auto total = content_range_total(response->header("content-range"))) {
    probe.size = *total;
  } else if (response->status == 206) {
    throw Error(ErrorCode::kIo, "s3 GetObject of " + client_.describe(key) + " returned no Content-Range",
                "the endpoint " + client_.config().endpoint + " does not behave like S3");
  }  // 416 without a total: an empty object
  return probe;
}

bool S3Storage::holds(const std::string& key, uint64_t size, const std::string& sha256) const {
  const auto found = probe(key);
  if (!found || found->size != size) return false;
  Sha256 digest;
  const uint64_t step = client_.config().part_size;
  for (uint64_t offset = 0; offset < size; offset += step) {
    const auto part =
        get(key, "bytes=" + std::to_string(offset) + "-" + std::to_string(std::min(size, offset + step) - 1));
    if (!part || part->status != 206) return false;
    digest.update(part->body);
  }
  return digest.finish() == sha256;
}

std::vector<ObjectInfo> S3Storage::list_keys(std::string_view prefix) const {
  const std::string root = key("");  // "" or "prefix/"
  std::vector<ObjectInfo> out;
  std::optional<std::string> token;
  do {
    S3Request request{.operation = "ListObjectsV2",
                      .method = "GET",
                      .key = "",
                      .query = {{"list-type", "2"},
                                {"prefix", root + std::string(prefix)},
                                {"max-keys", std::to_string(client_.config().list_page_size)}},
                      .subject = root + std::string(prefix)};
    if (token) request.query.emplace_back("continuation-token", *token);
    const S3Response response = client_.send(request);
    if (response.status != 200) throw client_.error(request, response);
    for (const std::string_view entry : xml_elements(response.text(), "Contents")) {
      const auto name = xml_text(entry, "Key");
      const auto size = parse_u64(xml_text(entry, "Size").value_or(""));
      if (!name || !size || !name->starts_with(root)) {
        throw Error(ErrorCode::kIo, "s3 ListObjectsV2 of " + client_.describe(root) + " returned an invalid entry",
                    "the endpoint " + client_.config().endpoint + " does not behave like S3");
      }
      out.push_back(ObjectInfo{name->substr(root.size()), *size});
    }
    token.reset();
    if (xml_text(response.text(), "IsTruncated") == "true") {
      token = xml_text(response.text(), "NextContinuationToken");
      if (!token || token->empty()) {
        throw Error(ErrorCode::kIo,
                    "s3 ListObjectsV2 of " + client_.describe(root) + " is truncated without a continuation token",
                    "the endpoint " + client_.config().endpoint + " does not behave like S3");
      }
    }
  } while (token);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<ObjectInfo> S3Storage::list(std::string_view prefix) const {
  std::vector<ObjectInfo> out;
  std::map<std::string, uint64_t, std::less<>> append_files;  // name → replayed size
  std::map<std::string, uint64_t, std::less<>> newest;        // name → sequence number of its newest piece
  for (ObjectInfo& entry : list_keys(prefix)) {
    const auto marker = entry.name.rfind(kPieceMarker);
    if (marker == std::string::npos) {
      out.push_back(std::move(entry));
      continue;
    }
    const std::string_view tail = std::string_view(entry.name).substr(marker + kPieceMarker.size());
    const auto seq = parse_hex16(tail.substr(0, kPieceDigits));
    const auto offset = tail.size() == 2 * kPieceDigits + 1 ? parse_hex16(tail.substr(kPieceDigits + 1)) : std::nullopt;
    if (!seq || !offset) continue;  // not a piece walvault wrote
    std::string name = entry.name.substr(0, marker);
    if (const auto it = newest.find(name); it != newest.end() && it->second > *seq) continue;
    newest[name] = *seq;
    append_files[std::move(name)] = *offset + entry.size;
  }
  for (auto& [name, size] : append_files) out.push_back(ObjectInfo{name, size});
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<S3Storage::Piece> S3Storage::pieces(std::string_view name) const {
  const std::string prefix = std::string(name) + std::string(kPieceMarker);
  std::vector<Piece> out;
  for (const ObjectInfo& entry : list_keys(prefix)) {
    const std::string_view tail = std::string_view(entry.name).substr(prefix.size());
    const auto seq = parse_hex16(tail.substr(0, kPieceDigits));
    const auto offset = tail.size() == 2 * kPieceDigits + 1 ? parse_hex16(tail.substr(kPieceDigits + 1)) : std::nullopt;
    if (seq && offset) out.push_back(Piece{.seq = *seq, .offset = *offset, .length = entry.size, .key = key(entry.name)});
  }
  std::sort(out.begin(), out.end(), [](const Piece& a, const Piece& b) { return a.seq < b.seq; });
  return out;
}

std::optional<Bytes> S3Storage::read_pieces(std::string_view name) const {
  // A writer deletes the pieces its newer ones cut away: a piece that vanished between the listing and the read
  // means the listing is stale, so list again.
  for (int attempt = 1;; ++attempt) {
    const auto all = pieces(name);
    if (all.empty()) return std::nullopt;
    Bytes content;
    bool stale = false;
    for (const Piece& piece : live_pieces(all)) {
      auto body = get(piece.key, std::nullopt);
      if (!body) {
        stale = true;
        break;
      }
      content.resize(std::min<uint64_t>(content.size(), piece.offset));
      if (content.size() != piece.offset) {
        throw Error(ErrorCode::kCorrupt, "append file " + std::string(name) + " has a hole at offset " +
                                             std::to_string(content.size()) + " in " + client_.describe(piece.key),
                    "a piece of it is missing from the bucket");
      }
      content.insert(content.end(), body->body.begin(), body->body.end());
    }
    if (!stale) return content;
    if (attempt == 5) {
      throw Error(ErrorCode::kIo, "append file " + std::string(name) + " kept changing while it was read",
                  "try again", /*retryable=*/true);
    }
  }
}

std::optional<uint64_t> S3Storage::info(std::string_view name) const {
  check_object_name(name);
  if (const auto found = probe(key(name))) return found->size;
  const auto all = pieces(name);
  if (all.empty()) return std::nullopt;
  return all.back().offset + all.back().length;
}

std::optional<uint64_t> S3Storage::version(std::string_view name) const {
  check_object_name(name);
  if (const auto found = probe(key(name))) return fnv1a(found->etag);
  const auto all = pieces(name);
  if (all.empty()) throw not_found(name);
  return fnv1a(all.back().key);
}

Bytes S3Storage::read(std::string_view name) const {
  check_object_name(name);
  if (auto response = get(key(name), std::nullopt)) return std::move(response->body);
  if (auto content = read_pieces(name)) return std::move(*content);
  throw not_found(name);
}

Bytes S3Storage::read_range(std::string_view name, uint64_t offset, uint64_t length) const {
  check_object_name(name);
  if (length == 0) {
    if (!probe(key(name))) throw not_found(name);
    return {};
  }
  std::string range = "bytes=" + std::to_string(offset) + "-";
  if (length <= UINT64_MAX - offset) range += std::to_string(offset + length - 1);
  auto response = get(key(name), range);
  if (!response) {
    auto content = read_pieces(name);
    if (!content) throw not_found(name);
    if (offset >= content->size()) return {};
    const auto first = content->begin() + static_cast<std::ptrdiff_t>(offset);
    return Bytes(first, first + static_cast<std::ptrdiff_t>(std::min<uint64_t>(length, content->size() - offset)));
  }
  if (response->status == 416) return {};  // offset at or past the end
  Bytes& body = response->body;
  if (response->status == 200) {  // the whole object (a server that ignores ranges, or an empty object)
    if (offset >= body.size()) return {};
    const auto first = body.begin() + static_cast<std::ptrdiff_t>(offset);
    return Bytes(first, first + static_cast<std::ptrdiff_t>(std::min<uint64_t>(length, body.size() - offset)));
  }
  if (body.size() > length) body.resize(length);
  return std::move(body);
}

void S3Storage::put_new(std::string_view name, std::span<const std::byte> bytes) const {
  put_new_key(key(name), name, bytes);
}

void S3Storage::put_new_key(const std::string& key, std::string_view name, std::span<const std::byte> bytes) const {
  const S3Request request{
      .operation = "PutObject", .method = "PUT", .key = key, .headers = {{"If-None-Match", "*"}}, .body = bytes};
  const S3Response response = client_.send(request);
  if (response.status == 200) return;
  if (response.status != 412) throw client_.error(request, response);
  if (!holds(request.key, bytes.size(), sha256_hex(bytes))) throw content_conflict(name);
}

void S3Storage::put_replacing(std::string_view name, std::span<const std::byte> bytes) const {
  const S3Request request{.operation = "PutObject", .method = "PUT", .key = key(name), .body = bytes};
  const S3Response response = client_.send(request);
  if (response.status != 200) throw client_.error(request, response);
}

void S3Storage::write_atomic(std::string_view name, std::span<const std::byte> bytes) {
  check_object_name(name);
  put_new(name, bytes);
}

std::unique_ptr<ObjectWriter> S3Storage::open_writer(std::string_view name, WriteMode mode) {
  check_object_name(name);
  return std::make_unique<S3ObjectWriter>(*this, std::string(name), mode);
}

void S3Storage::remove(std::string_view name) {
  check_object_name(name);
  const S3Request request{.operation = "DeleteObject", .method = "DELETE", .key = key(name)};
  const S3Response response = client_.send(request);
  if (response.status != 204 && response.status != 200 &&
      !(response.status == 404 && response.error_code() != "NoSuchBucket")) {
    throw client_.error(request, response);
  }
  std::vector<std::string> keys;
  for (const Piece& piece : pieces(name)) keys.push_back(piece.key);
  delete_keys(keys);
}

void S3Storage::delete_keys(const std::vector<std::string>& keys) const {
  constexpr std::size_t kPerRequest = 1000;  // S3's limit
  for (std::size_t first = 0; first < keys.size(); first += kPerRequest) {
    std::string body = "<Delete><Quiet>true</Quiet>";
    for (std::size_t i = first; i < std::min(keys.size(), first + kPerRequest); ++i) {
      body += "<Object><Key>" + xml_escape(keys[i]) + "</Key></Object>";
    }
    body += "</Delete>";
    const S3Request request{.operation = "DeleteObjects",
                            .method = "POST",
                            .key = "",
                            .query = {{"delete", ""}},
                            .headers = {{"Content-MD5", md5_base64(bytes_of(body))}},
                            .body = bytes_of(body),
                            .subject = keys[first]};
    const S3Response response = client_.send(request);
    if (response.status != 200) throw client_.error(request, response);
    // Quiet mode lists only the keys that failed.
    if (const auto failed = xml_elements(response.text(), "Error"); !failed.empty()) {
      throw Error(ErrorCode::kIo,
                  "s3 DeleteObjects of " + client_.describe(xml_text(failed.front(), "Key").value_or(keys[first])) +
                      " failed: " + xml_text(failed.front(), "Code").value_or("unknown error"),
                  "check that the credentials may delete objects in the bucket", /*retryable=*/true);
    }
  }
}

std::unique_ptr<AppendFile> S3Storage::open_append(std::string_view name) {
  check_object_name(name);
  return std::make_unique<S3AppendFile>(*this, std::string(name));
}

void S3Storage::publish_append(std::string_view from, std::string_view to) {
  check_object_name(from);
  check_object_name(to);
  std::optional<Bytes> read_back;
  const Bytes* content = nullptr;
  {
    const std::lock_guard lock(open_mutex_);
    if (const auto it = open_files_.find(from); it != open_files_.end()) content = &it->second->synced_content();
  }
  if (content == nullptr) {
    read_back = read_pieces(from);
    if (!read_back) throw not_found(from);
    content = &*read_back;
  }
  put_new(to, *content);
  std::vector<std::string> keys;
  for (const Piece& piece : pieces(from)) keys.push_back(piece.key);
  delete_keys(keys);
}

std::vector<ObjectInfo> S3Storage::sweep_temporaries(std::string_view prefix,
                                                        std::chrono::system_clock::time_point modified_before,
                                                        bool dry_run) {
  const std::string root = key("");
  std::vector<ObjectInfo> out;
  std::string key_marker;
  std::string upload_id_marker;
  while (true) {
    S3Request uploads{.operation = "ListMultipartUploads",
                      .method = "GET",
                      .key = "",
                      .query = {{"uploads", ""}, {"prefix", root + std::string(prefix)}},
                      .subject = root + std::string(prefix)};
    if (!key_marker.empty()) {
      uploads.query.emplace_back("key-marker", key_marker);
      uploads.query.emplace_back("upload-id-marker", upload_id_marker);
    }
    const S3Response listed = client_.send(uploads);
    if (listed.status != 200) throw client_.error(uploads, listed);
    for (const std::string_view upload : xml_elements(listed.text(), "Upload")) {
      const auto upload_key = xml_text(upload, "Key");
      const auto id = xml_text(upload, "UploadId");
      const auto initiated = parse_s3_time(xml_text(upload, "Initiated"));
      // Unreadable or recent: possibly a live writer's.
      if (!upload_key || !upload_key->starts_with(root) || !id || !initiated || *initiated >= modified_before) continue;
      uint64_t size = 0;
      bool live = false;
      std::string part_marker;
      do {
        S3Request parts{.operation = "ListParts", .method = "GET", .key = *upload_key, .query = {{"uploadId", *id}}};
        if (!part_marker.empty()) parts.query.emplace_back("part-number-marker", part_marker);
        const S3Response response = client_.send(parts);
        if (response.status == 404) break;  // finished or aborted meanwhile
        if (response.status != 200) throw client_.error(parts, response);
        for (const std::string_view part : xml_elements(response.text(), "Part")) {
          size += parse_u64(xml_text(part, "Size").value_or("")).value_or(0);
          const auto modified = parse_s3_time(xml_text(part, "LastModified"));
          live = live || !modified || *modified >= modified_before;
        }
        part_marker = xml_text(response.text(), "IsTruncated") == "true"
                          ? xml_text(response.text(), "NextPartNumberMarker").value_or("")
                          : "";
      } while (!part_marker.empty() && !live);
      if (live) continue;
      out.push_back(ObjectInfo{upload_key->substr(root.size()) + "?uploadId=" + *id, size});
      if (dry_run) continue;
      const S3Request abort{
          .operation = "AbortMultipartUpload", .method = "DELETE", .key = *upload_key, .query = {{"uploadId", *id}}};
      const S3Response aborted = client_.send(abort);
      if (aborted.status != 204 && aborted.status != 200 && aborted.status != 404) throw client_.error(abort, aborted);
    }
    if (xml_text(listed.text(), "IsTruncated") != "true") break;
    key_marker = xml_text(listed.text(), "NextKeyMarker").value_or("");
    upload_id_marker = xml_text(listed.text(), "NextUploadIdMarker").value_or("");
    if (key_marker.empty()) {
      throw Error(ErrorCode::kIo,
                  "s3 ListMultipartUploads of " + client_.describe(root) + " is truncated without a marker",
                  "the endpoint " + client_.config().endpoint + " does not behave like S3");
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::unique_ptr<StorageLock> S3Storage::lock(std::string_view name, LockWait wait) {
  check_lock_name(name);
  const std::string lease_key = key("locks/" + std::string(name));
  const std::string owner = random_id();
  const auto duration = client_.config().lease_duration;
  const auto put = [&](Headers condition) {
    const std::string body = lease_body(owner, duration);
    return client_.send(S3Request{.operation = "PutObject",
                                  .method = "PUT",
                                  .key = lease_key,
                                  .headers = std::move(condition),
                                  .body = bytes_of(body)});
  };
  const auto granted = [&](const S3Response& response) -> std::unique_ptr<StorageLock> {
    const auto etag = response.header("etag");
    if (!etag) throw s3_response_error(client_.config(), "PutObject", lease_key, response);
    return std::make_unique<S3Lease>(*this, lease_key, owner, *etag);
  };
  std::string refused_etag;  // of a stale lease whose takeover the server refused
  while (true) {
    const S3Response created = put({{"If-None-Match", "*"}});
    if (created.status == 200) return granted(created);
    if (created.status != 412) throw s3_response_error(client_.config(), "PutObject", lease_key, created);
    const auto held = get(lease_key, std::nullopt);
    if (!held) continue;  // released meanwhile
    if (lease_expired(held->text()) || lease_holder_dead(held->text())) {
      // Take the stale lease over; If-Match makes exactly one of several takers win.
      const std::string etag = held->header("etag").value_or("");
      if (etag == refused_etag) {
        throw Error(ErrorCode::kIo, "cannot take over the expired lease " + client_.describe(lease_key),
                    "the server refuses a conditional overwrite (If-Match) of an unchanged object; remove the lease "
                    "object by hand once no walvault process uses the repository");
      }
      const S3Response taken = put({{"If-Match", if_match(etag)}});
      if (taken.status == 200) {
        log::info("took over the stale lease " + client_.describe(lease_key));
        return granted(taken);
      }
      if (taken.status != 412) throw s3_response_error(client_.config(), "PutObject", lease_key, taken);
      refused_etag = etag;  // another taker won, or the server cannot do it: the next round tells
      continue;
    }
    if (wait == LockWait::kTry) return nullptr;
    std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(std::chrono::seconds(1), duration / 3));
  }
}

std::optional<LockHolder> S3Storage::lock_holder(std::string_view name) const {
  check_lock_name(name);
  const auto held = get(key("locks/" + std::string(name)), std::nullopt);
  if (!held || lease_expired(held->text()) || lease_holder_dead(held->text())) return std::nullopt;
  const auto json = nlohmann::json::parse(held->text(), nullptr, false);
  LockHolder holder;
  if (json.contains("pid") && json["pid"].is_number_integer()) holder.pid = json["pid"].get<long>();
  if (json.contains("host") && json["host"].is_string()) holder.host = json["host"].get<std::string>();
  return holder;
}

}  // namespace walvault::storage
