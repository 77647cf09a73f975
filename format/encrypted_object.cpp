#include "format/encrypted_object.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <algorithm>
#include <limits>
#include <cstring>
#include <memory>

#include "format/endian.hpp"

namespace walvault::format {
namespace {

constexpr uint16_t kEncryptionVersion = 1;
constexpr std::size_t kNonceSize = 12;
constexpr uint32_t kLogNonceDomain = 1;  // log records and object chunks never share a nonce, even in principle

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

std::array<unsigned char, kNonceSize> nonce_for(uint64_t counter, uint32_t domain) {
  std::array<unsigned char, kNonceSize> nonce{};
  put_le<uint64_t>(reinterpret_cast<std::byte*>(nonce.data()), counter);
  put_le<uint32_t>(reinterpret_cast<std::byte*>(nonce.data() + 8), domain);
  return nonce;
}

const unsigned char* uc(const std::byte* p) { return reinterpret_cast<const unsigned char*>(p); }
unsigned char* uc(std::byte* p) { return reinterpret_cast<unsigned char*>(p); }

// AES-256-GCM of plaintext with additional data; ciphertext followed by the tag.
std::vector<std::byte> gcm_seal(const KeyBytes& key, uint64_t counter, uint32_t domain,
                                std::span<const std::byte> aad, std::span<const std::byte> plaintext) {
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  const auto nonce = nonce_for(counter, domain);
  std::vector<std::byte> out(plaintext.size() + kAeadTagSize);
  int len = 0;
  bool ok = ctx && EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, uc(key.data()), nonce.data()) == 1 &&
            EVP_EncryptUpdate(ctx.get(), nullptr, &len, uc(aad.data()), static_cast<int>(aad.size())) == 1 &&
            EVP_EncryptUpdate(ctx.get(), uc(out.data()), &len, uc(plaintext.data()),
                              static_cast<int>(plaintext.size())) == 1 &&
            EVP_EncryptFinal_ex(ctx.get(), uc(out.data()) + len, &len) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kAeadTagSize,
                                out.data() + plaintext.size()) == 1;
  if (!ok) out.clear();  // only when OpenSSL cannot allocate; the caller's authentication then fails loudly
  return out;
}

std::optional<std::vector<std::byte>> gcm_open(const KeyBytes& key, uint64_t counter, uint32_t domain,
                                               std::span<const std::byte> aad, std::span<const std::byte> sealed) {
  if (sealed.size() < kAeadTagSize) return std::nullopt;
  const std::size_t size = sealed.size() - kAeadTagSize;
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  const auto nonce = nonce_for(counter, domain);
  std::vector<std::byte> out(size);
  std::array<std::byte, kAeadTagSize> tag{};
  std::memcpy(tag.data(), sealed.data() + size, kAeadTagSize);
  int len = 0;
  const bool ok =
      ctx && EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, uc(key.data()), nonce.data()) == 1 &&
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, uc(aad.data()), static_cast<int>(aad.size())) == 1 &&
      EVP_DecryptUpdate(ctx.get(), uc(out.data()), &len, uc(sealed.data()), static_cast<int>(size)) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kAeadTagSize, tag.data()) == 1 &&
      EVP_DecryptFinal_ex(ctx.get(), uc(out.data()) + len, &len) == 1;
  if (!ok) return std::nullopt;
  return out;
}

std::vector<std::byte> chunk_aad(std::span<const std::byte> header, uint64_t index, bool last) {
  std::vector<std::byte> aad(header.begin(), header.end());
  aad.resize(header.size() + 9);
  put_le<uint64_t>(aad.data() + header.size(), index);
  aad[header.size() + 8] = std::byte{last ? uint8_t{1} : uint8_t{0}};
  return aad;
}

std::vector<std::byte> record_aad(std::span<const std::byte> header, uint64_t sequence, uint64_t cut,
                                  uint32_t length) {
  std::vector<std::byte> aad(header.begin(), header.end());
  aad.resize(header.size() + 20);
  put_le<uint64_t>(aad.data() + header.size(), sequence);
  put_le<uint64_t>(aad.data() + header.size() + 8, cut);
  put_le<uint32_t>(aad.data() + header.size() + 16, length);
  return aad;
}

}  // namespace

std::string byte_range_text(uint64_t from, uint64_t to) {
  std::string out = "[";  // appended piece by piece: g++ 12 -O3 warns falsely (-Wrestrict) on "[" + std::string
  out += std::to_string(from);
  out += ", ";
  out += std::to_string(to);
  out += ")";
  return out;
}

bool looks_encrypted(std::span<const std::byte> bytes) noexcept {
  if (bytes.size() < 12 || !has_magic(bytes.data(), kMagic)) return false;
  const auto kind = get_le<uint16_t>(bytes.data() + 10);
  return kind == kEncryptedObjectKind || kind == kEncryptedLogKind;
}

std::array<std::byte, kEncryptedHeaderSize> encode_encrypted_header(const EncryptedHeader& header) {
  std::array<std::byte, kEncryptedHeaderSize> out{};
  std::memcpy(out.data(), kMagic.data(), kMagic.size());
  put_le<uint16_t>(out.data() + 8, kEncryptionVersion);
  put_le<uint16_t>(out.data() + 10, header.kind);
  put_le<uint32_t>(out.data() + 12, header.kind == kEncryptedObjectKind ? kEncryptedChunkSize : 0);
  std::memcpy(out.data() + 16, header.key_id.data(), header.key_id.size());
  std::memcpy(out.data() + 32, header.salt.data(), header.salt.size());
  return out;
}

Expected<EncryptedHeader, std::string> decode_encrypted_header(std::span<const std::byte> bytes) {
  if (bytes.size() < kEncryptedHeaderSize) return Unexpected(std::string("is shorter than an encrypted header"));
  if (!has_magic(bytes.data(), kMagic)) return Unexpected(std::string("is not an encrypted object (bad magic)"));
  const auto version = get_le<uint16_t>(bytes.data() + 8);
  if (version != kEncryptionVersion) {
    return Unexpected("has an unsupported encryption version " + std::to_string(version));
  }
  EncryptedHeader header;
  header.kind = get_le<uint16_t>(bytes.data() + 10);
  const auto chunk = get_le<uint32_t>(bytes.data() + 12);
  const bool object = header.kind == kEncryptedObjectKind && chunk == kEncryptedChunkSize;
  const bool log = header.kind == kEncryptedLogKind && chunk == 0;
  if (!object && !log) return Unexpected(std::string("is not an encrypted object (bad header)"));
  std::memcpy(header.key_id.data(), bytes.data() + 16, header.key_id.size());
  std::memcpy(header.salt.data(), bytes.data() + 32, header.salt.size());
  return header;
}

KeyBytes object_key(const KeyBytes& data_key, const Salt& salt) {
  KeyBytes out{};
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  EVP_KDF_CTX* ctx = kdf == nullptr ? nullptr : EVP_KDF_CTX_new(kdf);
  EVP_KDF_free(kdf);
  char digest[] = "SHA256";
  char info[] = "walvault object key";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<std::byte*>(data_key.data()), data_key.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<std::byte*>(salt.data()), salt.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, sizeof info - 1),
      OSSL_PARAM_construct_end()};
  if (ctx == nullptr || EVP_KDF_derive(ctx, uc(out.data()), out.size(), params) != 1) {
    out = data_key;  // unreachable with a working OpenSSL; a wrong key then fails every chunk loudly
    out[0] ^= std::byte{0xff};
  }
  EVP_KDF_CTX_free(ctx);
  return out;
}

uint64_t encrypted_chunk_count(uint64_t plain_size) noexcept {
  return plain_size == 0 ? 1 : (plain_size + kEncryptedChunkSize - 1) / kEncryptedChunkSize;
}

uint64_t encrypted_stored_size(uint64_t plain_size) noexcept {
  return kEncryptedHeaderSize + plain_size + kAeadTagSize * encrypted_chunk_count(plain_size);
}

std::optional<uint64_t> encrypted_plain_size(uint64_t stored_size) noexcept {
  if (stored_size < kEncryptedHeaderSize + kAeadTagSize) return std::nullopt;
  const uint64_t body = stored_size - kEncryptedHeaderSize;
  const uint64_t chunks = (body + kEncryptedChunkSize + kAeadTagSize - 1) / (kEncryptedChunkSize + kAeadTagSize);
  const uint64_t plain = body - kAeadTagSize * chunks;
  if (encrypted_stored_size(plain) != stored_size) return std::nullopt;
  return plain;
}

StoredRange encrypted_chunk_range(uint64_t plain_size, uint64_t index) noexcept {
  const uint64_t from = index * kEncryptedChunkSize;
  const uint64_t plain = std::min<uint64_t>(kEncryptedChunkSize, plain_size - std::min(plain_size, from));
  return {kEncryptedHeaderSize + index * (kEncryptedChunkSize + kAeadTagSize), plain + kAeadTagSize};
}

std::vector<std::byte> seal_chunk(const KeyBytes& key, std::span<const std::byte> header, uint64_t index, bool last,
                                  std::span<const std::byte> plaintext) {
  return gcm_seal(key, index, 0, chunk_aad(header, index, last), plaintext);
}

Expected<std::vector<std::byte>, ChunkFailure> open_chunk(const KeyBytes& key, std::span<const std::byte> header,
                                                         uint64_t index, bool last,
                                                         std::span<const std::byte> sealed) {
  auto plain = gcm_open(key, index, 0, chunk_aad(header, index, last), sealed);
  if (!plain) return Unexpected(ChunkFailure{index, "chunk " + std::to_string(index) + " fails authentication"});
  return std::move(*plain);
}

std::vector<std::byte> encrypt_object(const KeyBytes& data_key, const EncryptedHeader& header,
                                      std::span<const std::byte> plaintext) {
  const auto head = encode_encrypted_header(header);
  const KeyBytes key = object_key(data_key, header.salt);
  const uint64_t chunks = encrypted_chunk_count(plaintext.size());
  std::vector<std::byte> out(head.begin(), head.end());
  out.reserve(encrypted_stored_size(plaintext.size()));
  for (uint64_t i = 0; i < chunks; ++i) {
    const uint64_t from = i * kEncryptedChunkSize;
    const auto piece = plaintext.subspan(from, std::min<uint64_t>(kEncryptedChunkSize, plaintext.size() - from));
    const auto sealed = seal_chunk(key, head, i, i + 1 == chunks, piece);
    out.insert(out.end(), sealed.begin(), sealed.end());
  }
  return out;
}

Expected<std::vector<std::byte>, std::string> decrypt_object(const KeyBytes& data_key,
                                                            std::span<const std::byte> stored) {
  const auto header = decode_encrypted_header(stored);
  if (!header) return Unexpected(header.error());
  if (header->kind != kEncryptedObjectKind) return Unexpected(std::string("is an append log, not an object"));
  const auto plain_size = encrypted_plain_size(stored.size());
  if (!plain_size) return Unexpected("is truncated (" + std::to_string(stored.size()) + " bytes fit no chunking)");
  const KeyBytes key = object_key(data_key, header->salt);
  const auto head = stored.first(kEncryptedHeaderSize);
  const uint64_t chunks = encrypted_chunk_count(*plain_size);
  std::vector<std::byte> out;
  out.reserve(*plain_size);
  for (uint64_t i = 0; i < chunks; ++i) {
    const StoredRange range = encrypted_chunk_range(*plain_size, i);
    const auto plain = open_chunk(key, head, i, i + 1 == chunks, stored.subspan(range.offset, range.size));
    if (!plain) {
      return Unexpected("chunk " + std::to_string(i) + " (stored bytes " +
                        byte_range_text(range.offset, range.offset + range.size) + ") fails authentication");
    }
    out.insert(out.end(), plain->begin(), plain->end());
  }
  return out;
}

std::vector<std::byte> seal_log_record(const KeyBytes& key, std::span<const std::byte> header, uint64_t sequence,
                                       uint64_t cut_offset, std::span<const std::byte> plaintext) {
  std::vector<std::byte> out(kLogRecordHeaderSize);
  put_le<uint64_t>(out.data(), cut_offset);
  put_le<uint32_t>(out.data() + 8, static_cast<uint32_t>(plaintext.size()));
  const auto sealed = gcm_seal(key, sequence, kLogNonceDomain,
                               record_aad(header, sequence, cut_offset, static_cast<uint32_t>(plaintext.size())),
                               plaintext);
  out.insert(out.end(), sealed.begin(), sealed.end());
  return out;
}

namespace {

struct RecordSpan {
  uint64_t offset = 0;  // of the record header in the stored log
  uint64_t cut = 0;
  uint32_t length = 0;
  uint64_t end = 0;  // past its tag
};

// The records that are whole by their lengths (nothing authenticated yet), from the header on.
std::vector<RecordSpan> record_spans(std::span<const std::byte> stored) {
  std::vector<RecordSpan> spans;
  uint64_t at = kEncryptedHeaderSize;
  while (stored.size() - at >= kLogRecordHeaderSize + kAeadTagSize) {
    RecordSpan r{at, get_le<uint64_t>(stored.data() + at), get_le<uint32_t>(stored.data() + at + 8), 0};
    r.end = at + kLogRecordHeaderSize + uint64_t{r.length} + kAeadTagSize;
    if (r.length > kMaxLogRecord || r.end > stored.size()) break;  // a torn record header or body
    spans.push_back(r);
    at = r.end;
  }
  return spans;
}

std::optional<std::vector<std::byte>> open_record(const KeyBytes& key, std::span<const std::byte> stored,
                                                  uint64_t sequence, const RecordSpan& r) {
  return gcm_open(key, sequence, kLogNonceDomain,
                  record_aad(stored.first(kEncryptedHeaderSize), sequence, r.cut, r.length), stored.subspan(r.offset + kLogRecordHeaderSize, uint64_t{r.length} + kAeadTagSize));
}

std::string record_failure(uint64_t sequence, const RecordSpan& r, const std::string& what) {
  return "record " + std::to_string(sequence) + " (stored bytes " + byte_range_text(r.offset, r.end) + ") " + what;
}

Expected<KeyBytes, std::string> log_key(const KeyBytes& data_key, std::span<const std::byte> stored) {
  const auto header = decode_encrypted_header(stored);
  if (!header) return Unexpected(header.error());
  if (header->kind != kEncryptedLogKind) return Unexpected(std::string("is an encrypted object, not an append log"));
  return object_key(data_key, header->salt);
}

}  // namespace

Expected<EncryptedLog, std::string> parse_encrypted_log(const KeyBytes& data_key, std::span<const std::byte> stored) {
  const auto key = log_key(data_key, stored);
  if (!key) return Unexpected(key.error());
  const auto spans = record_spans(stored);
  EncryptedLog log;
  for (const RecordSpan& r : spans) {
    const auto plain = open_record(*key, stored, log.records, r);
    if (!plain) {
      if (r.end == stored.size()) break;  // the last record: torn while it was written
      return Unexpected(record_failure(log.records, r, "fails authentication"));
    }
    if (r.cut > log.content.size()) {
      return Unexpected(record_failure(log.records, r, "cuts at " + std::to_string(r.cut) + ", past the content's end"));
    }
    log.content.resize(r.cut);
    log.content.insert(log.content.end(), plain->begin(), plain->end());
    ++log.records;
    log.valid_length = r.end;
  }
  return log;
}

Expected<uint64_t, std::string> replay_encrypted_log(const KeyBytes& data_key, std::span<const std::byte> stored,
                                                    const std::function<void(std::span<const std::byte>)>& emit) {
  const auto key = log_key(data_key, stored);
  if (!key) return Unexpected(key.error());
  const auto spans = record_spans(stored);
  const uint64_t stored_end = spans.empty() ? kEncryptedHeaderSize : spans.back().end;
  if (stored_end != stored.size()) return Unexpected(std::string("ends in a torn record"));
  // What survives of record n: its bytes below every later record's cut. Those pieces, in order, are the content.
  std::vector<uint64_t> below(spans.size() + 1, std::numeric_limits<uint64_t>::max());
  for (std::size_t n = spans.size(); n-- > 0;) below[n] = std::min(below[n + 1], spans[n].cut);
  uint64_t size = 0;
  for (std::size_t n = 0; n < spans.size(); ++n) {
    const RecordSpan& r = spans[n];
    if (r.cut > size) {
      return Unexpected(record_failure(n, r, "cuts at " + std::to_string(r.cut) + ", past the content's end"));
    }
    const auto plain = open_record(*key, stored, n, r);
    if (!plain) return Unexpected(record_failure(n, r, "fails authentication"));
    const uint64_t limit = below[n + 1];
    const uint64_t keep = limit <= r.cut ? 0 : std::min<uint64_t>(r.length, limit - r.cut);
    if (keep > 0) emit(std::span(*plain).first(keep));
    size = r.cut + r.length;
  }
  return size;
}

}  // namespace walvault::format
