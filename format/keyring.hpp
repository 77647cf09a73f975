// The keyring of an encrypted repository (FORMAT.md, "Encryption"): the data keys that encrypt its objects
// (format/encrypted_object.hpp), each wrapped (AES-256-GCM) by the key-encryption key, which is derived from the
// user's key and never stored. Rotating the user's key writes a new keyring with the same data keys wrapped anew;
// re-encrypting adds a data key and retires the old ones until no object uses them.
//
// The keyring is sealed JSON (format/sealed_object.hpp), stored in plain text: it holds nothing but random salts and
// wrapped keys. A wrong user key is told apart from a damaged keyring: the seal checks the keyring's bytes, and
// then a key that does not unwrap its data keys is the wrong key.
//
// Pure: no IO, nothing throws; randomness (salts, nonces, new data keys) comes from the caller. scrypt, HKDF and
// AES-GCM are OpenSSL's.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "format/encrypted_object.hpp"
#include "wal/expected.hpp"

namespace walvault::format {

// How the key-encryption key comes from the user's secret: scrypt for a passphrase (memory-hard), HKDF-SHA256 for a
// 32-byte random key (already full strength).
enum class KekDerivation { kScrypt, kHkdf };

struct KekParameters {
  KekDerivation derivation = KekDerivation::kHkdf;
  Salt salt{};
  // scrypt cost (N = 2^log2_n, r, p); unused for HKDF.
  uint32_t log2_n = 16;
  uint32_t r = 8;
  uint32_t p = 1;
};

// The secret a user gives is a raw key when it is exactly 32 bytes and not all printable text (head -c 32
// /dev/urandom), and a passphrase otherwise (one trailing newline removed).
struct UserSecret {
  std::vector<std::byte> bytes;
  bool raw_key = false;
};
[[nodiscard]] UserSecret classify_secret(std::span<const std::byte> bytes);

// The key-encryption key; nullopt only when OpenSSL fails (out of memory for scrypt).
[[nodiscard]] std::optional<KeyBytes> derive_kek(std::span<const std::byte> secret, const KekParameters& parameters);

struct DataKey {
  KeyId id{};
  KeyBytes key{};
  bool retired = false;  // being re-encrypted away: readable, never used for new objects
};

struct WrappedKey {
  KeyId id{};
  std::vector<std::byte> wrapped;  // 12-byte nonce, ciphertext, tag
  bool retired = false;
};

struct Keyring {
  KekParameters kek;
  KeyId current{};  // the data key new objects are written under
  std::vector<WrappedKey> keys;
  std::string created;  // ISO 8601 UTC
};

// Wraps data_key under kek (nonce: 12 random bytes from the caller).
[[nodiscard]] WrappedKey wrap_data_key(const KeyBytes& kek, const DataKey& data_key,
                                       std::span<const std::byte, 12> nonce);
// Unwraps every data key; nullopt when kek does not open them (the wrong user key).
[[nodiscard]] std::optional<std::vector<DataKey>> unwrap_data_keys(const KeyBytes& kek, const Keyring& keyring);

// Sealed JSON text, and back. Errors: the seal's (format/sealed_object.hpp), or "has no valid <member>".
[[nodiscard]] std::string encode_keyring(const Keyring& keyring);
[[nodiscard]] Expected<Keyring, std::string> decode_keyring(std::string_view text);

[[nodiscard]] std::string key_id_text(const KeyId& id);

}  // namespace walvault::format
