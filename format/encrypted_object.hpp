// Encrypted objects (FORMAT.md, "Encryption"): how an encrypted repository stores the bytes of every object but
// walvault.json, its keyrings and its locks.
//
// Both shapes start with a 64-byte header naming the data key (by id) and a random 32-byte salt; the object's own
// key is HKDF-SHA256(data key, salt), so no two objects share a key and nonces can be counters.
// - An *encrypted object* (kind 6, immutable objects): the plaintext cut into chunks of kEncryptedChunkSize bytes,
//   each sealed with AES-256-GCM (ciphertext + 16-byte tag), nonce = the chunk's index, additional data = the
//   header, the index and whether it is the last chunk. Any chunk can be read and checked alone (ranged reads), and
//   the plaintext size follows from the stored size alone (encrypted_plain_size), so a listing needs no reads.
// - An *encrypted append log* (kind 7, append files): records "cut the content to OFFSET, then append these bytes",
//   each sealed the same way with nonce = the record's sequence number. A writer only ever appends records, so a
//   crash tears at most the record being written and never touches bytes already synced; readers take the longest
//   prefix of whole records that authenticate (parse_encrypted_log).
//
// Pure: no IO, nothing throws, no randomness (the caller supplies salts). Errors are values naming the chunk or
// record and its byte range in the stored object. AES-GCM and HKDF are OpenSSL's.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "wal/expected.hpp"

namespace walvault::format {

inline constexpr uint16_t kEncryptedObjectKind = 6;
inline constexpr uint16_t kEncryptedLogKind = 7;
inline constexpr uint32_t kEncryptedHeaderSize = 64;
inline constexpr uint32_t kEncryptedChunkSize = 64 * 1024;  // plaintext bytes per chunk (fixed in version 1)
inline constexpr uint32_t kAeadTagSize = 16;
inline constexpr uint32_t kLogRecordHeaderSize = 12;  // u64 cut offset, u32 length
inline constexpr uint32_t kMaxLogRecord = 1U << 30;   // plaintext bytes of one append-log record, at most

using KeyBytes = std::array<std::byte, 32>;
using KeyId = std::array<std::byte, 16>;
using Salt = std::array<std::byte, 32>;

struct EncryptedHeader {
  uint16_t kind = kEncryptedObjectKind;
  KeyId key_id{};
  Salt salt{};
};

// Whether bytes start with an encrypted header (magic and a kind 6 or 7), without checking anything else.
[[nodiscard]] bool looks_encrypted(std::span<const std::byte> bytes) noexcept;
[[nodiscard]] std::array<std::byte, kEncryptedHeaderSize> encode_encrypted_header(const EncryptedHeader& header);
// Errors: "is not an encrypted object (bad magic)", "has an unsupported encryption version N", "bad header".
[[nodiscard]] Expected<EncryptedHeader, std::string> decode_encrypted_header(std::span<const std::byte> bytes);

// "[from, to)": a range of stored bytes, as errors name it.
[[nodiscard]] std::string byte_range_text(uint64_t from, uint64_t to);

// The key of one object: HKDF-SHA256 of the data key with the object's salt.
[[nodiscard]] KeyBytes object_key(const KeyBytes& data_key, const Salt& salt);

// --- encrypted objects (kind 6) ---
[[nodiscard]] uint64_t encrypted_stored_size(uint64_t plain_size) noexcept;
// The plaintext size of an encrypted object of stored_size bytes; nullopt when no plaintext has that size.
[[nodiscard]] std::optional<uint64_t> encrypted_plain_size(uint64_t stored_size) noexcept;
[[nodiscard]] uint64_t encrypted_chunk_count(uint64_t plain_size) noexcept;

// Encrypts plaintext chunk `index` (at most kEncryptedChunkSize bytes; `last` for the object's final chunk) of the
// object whose header is `header` (its encoded bytes are authenticated too).
[[nodiscard]] std::vector<std::byte> seal_chunk(const KeyBytes& key, std::span<const std::byte> header,
                                                uint64_t index, bool last, std::span<const std::byte> plaintext);
struct ChunkFailure {
  uint64_t index = 0;
  std::string message;  // "chunk N (stored bytes [a, b)) fails authentication"
};
[[nodiscard]] Expected<std::vector<std::byte>, ChunkFailure> open_chunk(const KeyBytes& key,
                                                                       std::span<const std::byte> header,
                                                                       uint64_t index, bool last,
                                                                       std::span<const std::byte> sealed);
// Where chunk `index` of an object of plain_size bytes lies in the stored object: [offset, offset + size).
struct StoredRange {
  uint64_t offset = 0;
  uint64_t size = 0;
};
[[nodiscard]] StoredRange encrypted_chunk_range(uint64_t plain_size, uint64_t index) noexcept;

// A whole encrypted object, and back (header checked by the caller, who chose the key from its key id).
[[nodiscard]] std::vector<std::byte> encrypt_object(const KeyBytes& data_key, const EncryptedHeader& header,
                                                    std::span<const std::byte> plaintext);
[[nodiscard]] Expected<std::vector<std::byte>, std::string> decrypt_object(const KeyBytes& data_key,
                                                                           std::span<const std::byte> stored);

// --- encrypted append logs (kind 7) ---
[[nodiscard]] std::vector<std::byte> seal_log_record(const KeyBytes& key, std::span<const std::byte> header,
                                                     uint64_t sequence, uint64_t cut_offset,
                                                     std::span<const std::byte> plaintext);
struct EncryptedLog {
  std::vector<std::byte> content;  // the plaintext: every whole record replayed
  uint64_t records = 0;            // whole records
  uint64_t valid_length = kEncryptedHeaderSize;  // stored bytes they take, header included
};
// The content of an append log, from the longest prefix of whole records that authenticate; what follows is a torn
// write (valid_length < stored size). Errors (damage, not a torn tail): a record before the last one that fails
// authentication, or one that cuts past the end of the content.
[[nodiscard]] Expected<EncryptedLog, std::string> parse_encrypted_log(const KeyBytes& data_key,
                                                                     std::span<const std::byte> stored);
// The same content, handed to emit piece by piece in order (each record's bytes that no later record cuts away)
// instead of built whole: memory for one record. For a log that ends on a whole record (one a writer has open);
// returns the content's size. Any record that fails authentication is damage.
[[nodiscard]] Expected<uint64_t, std::string> replay_encrypted_log(
    const KeyBytes& data_key, std::span<const std::byte> stored,
    const std::function<void(std::span<const std::byte>)>& emit);

}  // namespace walvault::format
