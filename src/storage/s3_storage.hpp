// S3Storage: the Storage interface over a bucket of an S3-compatible object store (see s3_client.hpp).
//
// The object "wal/a" is the key "PREFIX/wal/a". There is no rename on S3, so every object is written once under
// its final name:
//   - write_atomic() is one PutObject with If-None-Match: * (the server refuses to replace an existing key). On
//     412 the existing object is compared with the new bytes: the same bytes succeed, different bytes are
//     content_conflict(). The payload's SHA-256 is signed, so the server stores exactly these bytes.
//   - open_writer() buffers up to one part (S3Config::part_size, growing for very large objects: s3_part_size()). An
//   object that fits
//     in one part is a single PutObject at commit(); a larger one is a multipart upload whose parts go out as they
//     fill. commit() first checks whether the name exists (same content: the upload is aborted and commit
//     succeeds; different: aborted, content_conflict()), then completes the upload with If-None-Match: *. Servers
//     that honour that condition on CompleteMultipartUpload (AWS S3 since 2024) close the race between the check and
//     the completion; servers that ignore it (Ceph radosgw 16) leave a window of one request in which two writers
//     of the same new name with different content could both succeed, the last one winning. walvault never has two
//     writers of one name unless two processes share a repository, which the streamer's lock refuses. abort(), a
//     failed commit() and the destructor abort the upload, so nothing half written stays visible or billed;
//     uploads left by a killed process are not listed by list(), and sweep_temporaries() aborts them.
// Reads: read() and read_range() are (ranged) GetObject; info() and version() are a one-byte ranged GetObject
// rather than HeadObject, because a HEAD response has no body, so a missing bucket would look like a missing
// object. version() is a hash of the ETag (an object rewritten with the same bytes keeps its token). list() is
// ListObjectsV2 with continuation tokens, sorted. capabilities(): append files, no local root.
//
// Append files (the streamer's in-progress segment, its tail and index logs, tip/stream.state) are logs of
// write-once pieces, since S3 cannot grow or rewrite an object in place (FORMAT.md, "Append files on S3"). The
// append file NAME is the set of keys "PREFIX/NAME/.piece-SSSSSSSSSSSSSSSS-OOOOOOOOOOOOOOOO" (16 hex digits each:
// S the piece's sequence number, O its offset); a piece means "cut the file to O, then append my bytes", so the
// content is the pieces replayed in sequence order, and a piece at offset 0 replaces everything before it. sync()
// writes the bytes changed since the last sync() as one piece (PutObject, If-None-Match: *): one request, and
// none when nothing changed; the piece is durable in the bucket when sync() returns. Pieces a later piece cuts
// away entirely are deleted in batches (DeleteObjects) once 32 have gathered; a log of more than 32 live pieces
// no larger than 1 MiB is rewritten as one piece at offset 0. An open AppendFile keeps the file's content in
// memory (at most one compressed segment), so publish_append() of an open file uploads it without reading it
// back; it writes the target once, under its final name, then deletes the pieces. Readers (list, info, read,
// read_range, version) see an append file as one object of its replayed size; a reader that loses a race with a
// writer's cleanup lists again. Object names never have a component starting with '.', so piece keys never
// collide with objects.
//
// lock(name) is a lease: the object "locks/NAME" holding its owner (a random id, host and pid) and an expiry
// time, created with If-None-Match: *. A thread renews it every lease_duration / 3 with a conditional overwrite
// (If-Match: the ETag it wrote last). A lease whose expiry has passed is stale, and so is one whose holder is a
// process of this host (same host name) that no longer exists: another process takes it over with a conditional
// overwrite of the ETag it read, so of several takers exactly one wins. Destroying the lock deletes
// the lease if it still names this owner. What this guarantees: at most one holder at a time, provided the
// machines' clocks agree to within lease_duration / 3 (10 s by default) and a holder's renewals succeed; a holder
// cut off from the bucket for longer than lease_duration loses the lease (it logs an error) and another process
// may then take it. The process that dies without releasing blocks others for at most lease_duration.
// Errors as in storage.hpp and s3_client.hpp.
#pragma once

#include <map>
#include <mutex>

#include "storage/s3_client.hpp"
#include "storage/storage.hpp"

namespace walvault::storage {

class S3AppendFile;

// The size of part part_number (1-based) of a multipart upload with S3Config::part_size base: base for the first
// 2000 parts, doubled every 2000 parts after, so the 10000 parts S3 allows hold 31 × 2000 × base (about 520 GB at
// the default 8 MiB) while a writer buffers at most 16 × base. Pure.
[[nodiscard]] uint64_t s3_part_size(uint64_t base, uint64_t part_number);
// S3's limit on the parts of one upload.
inline constexpr uint64_t kS3MaxParts = 10000;

class S3Storage final : public Storage {
 public:
  // Throws kUsage for an invalid endpoint or settings (part_size < 5 MiB, list_page_size 0, lease_duration < 3 s).
  explicit S3Storage(S3Config config);

  [[nodiscard]] Capabilities capabilities() const override;
  [[nodiscard]] std::vector<ObjectInfo> list(std::string_view prefix) const override;
  [[nodiscard]] std::optional<uint64_t> info(std::string_view name) const override;
  [[nodiscard]] std::optional<uint64_t> version(std::string_view name) const override;
  [[nodiscard]] Bytes read(std::string_view name) const override;
  [[nodiscard]] Bytes read_range(std::string_view name, uint64_t offset, uint64_t length) const override;
  void write_atomic(std::string_view name, std::span<const std::byte> bytes) override;
  [[nodiscard]] std::unique_ptr<ObjectWriter> open_writer(std::string_view name,
                                                          WriteMode mode = WriteMode::kCreate) override;
  void remove(std::string_view name) override;
  [[nodiscard]] std::unique_ptr<AppendFile> open_append(std::string_view name) override;
  void publish_append(std::string_view from, std::string_view to) override;
  [[nodiscard]] std::unique_ptr<StorageLock> lock(std::string_view name, LockWait wait) override;
  // The lease's owner while it has not expired.
  [[nodiscard]] std::optional<LockHolder> lock_holder(std::string_view name) const override;
  // The multipart uploads under the prefix that a killed writer left behind: started before modified_before and
  // with no part uploaded since (a live writer uploads a part every part_size bytes), aborted unless dry_run.
  // Named "NAME?uploadId=ID" (not object names), sized by their parts.
  [[nodiscard]] std::vector<ObjectInfo> sweep_temporaries(std::string_view prefix,
                                                          std::chrono::system_clock::time_point modified_before,
                                                          bool dry_run) override;

  // Deletes keys (full keys) with DeleteObjects, 1000 per request; a key that does not exist is no error.
  void delete_keys(const std::vector<std::string>& keys) const;

  [[nodiscard]] const S3Client& client() const noexcept { return client_; }
  // The bucket key of an object name.
  [[nodiscard]] std::string key(std::string_view name) const;

 private:
  friend class S3ObjectWriter;
  friend class S3Lease;
  friend class S3AppendFile;

  struct Piece {
    uint64_t seq = 0;
    uint64_t offset = 0;
    uint64_t length = 0;
    std::string key;
  };

  struct Probe {
    uint64_t size = 0;
    std::string etag;
  };
  // Size and ETag of a key, nullopt when it does not exist.
  [[nodiscard]] std::optional<Probe> probe(const std::string& key) const;
  // Whether key holds an object of this size and SHA-256 (streamed in part_size ranges: bounded memory).
  [[nodiscard]] bool holds(const std::string& key, uint64_t size, const std::string& sha256) const;
  // GetObject of key, with a Range header when given; nullopt when the key does not exist. Any other response
  // but 200, 206 and 416 throws.
  [[nodiscard]] std::optional<S3Response> get(const std::string& key, const std::optional<std::string>& range) const;
  // PutObject If-None-Match: * of the object name, with the immutability rule (see the top of this file).
  void put_new(std::string_view name, std::span<const std::byte> bytes) const;
  // A PutObject without a condition: replaces the object (WriteMode::kReplace).
  void put_replacing(std::string_view name, std::span<const std::byte> bytes) const;
  // The same for a full key; errors name `name`.
  void put_new_key(const std::string& key, std::string_view name, std::span<const std::byte> bytes) const;
  // Every key under the full key prefix, with its size, sorted; keys relative to the storage's prefix.
  [[nodiscard]] std::vector<ObjectInfo> list_keys(std::string_view prefix) const;
  // The pieces of the append file name, by sequence number (empty when it is none).
  [[nodiscard]] std::vector<Piece> pieces(std::string_view name) const;
  // The content of the append file name; nullopt when it has no pieces.
  [[nodiscard]] std::optional<Bytes> read_pieces(std::string_view name) const;

  S3Client client_;
  // The open append files by name: publish_append() takes an open file's content from memory.
  mutable std::mutex open_mutex_;
  std::map<std::string, S3AppendFile*, std::less<>> open_files_;
};

}  // namespace walvault::storage
