// Encryption of a repository (FORMAT.md, "Encryption"): which objects stay readable without the key, the keyrings
// (keys/keyring-<20-digit sequence>.json, sealed JSON; the newest one is the repository's), and opening an encrypted
// repository's storage (storage/encrypted_storage.hpp) with the user's key.
//
// Errors: walvault::Error. kKey when the key cannot be read (repo/key_source.hpp) or does not open the keyring (the
// wrong key); kCorrupt when the keyring is missing or damaged; Storage errors pass through.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "format/keyring.hpp"
#include "repo/key_source.hpp"
#include "storage/encrypted_storage.hpp"
#include "storage/storage.hpp"

namespace walvault::repo {

inline constexpr std::string_view kKeyringPrefix = "keys/keyring-";
inline constexpr std::string_view kKeyringSuffix = ".json";

// Objects stored as they are in an encrypted repository: walvault.json, keyrings, locks.
[[nodiscard]] bool is_plain_object(std::string_view name);
// Append files (Storage::open_append): the streamer's tip/* and the index tip logs index/<TTTTTTTT>/tip-*.wvl.
[[nodiscard]] bool is_append_object(std::string_view name);

struct OpenedKeyring {
  std::string object;  // its name
  format::Keyring keyring;
  std::vector<format::DataKey> keys;  // unwrapped
};

// The newest keyring of raw (the encrypted repository's store), opened with secret. `source` and `repo` name the
// key and the repository in errors.
[[nodiscard]] OpenedKeyring open_keyring(const storage::Storage& raw, std::span<const std::byte> secret,
                                         const KeySource& source, const std::string& repo);
// Every keyring object, oldest first.
[[nodiscard]] std::vector<std::string> keyring_objects(const storage::Storage& raw);
// A new data key (random).
[[nodiscard]] format::DataKey new_data_key();
// A keyring holding keys (current: new objects' key), wrapped under a key-encryption key derived from secret with
// a fresh salt (scrypt for a passphrase, HKDF for a raw key).
[[nodiscard]] format::Keyring make_keyring(std::span<const std::byte> secret, const std::vector<format::DataKey>& keys,
                                           const format::KeyId& current);
// Writes keyring as the next keyring object; returns its name.
std::string write_keyring(storage::Storage& raw, const format::Keyring& keyring);

// The storage of an encrypted repository: raw wrapped with the data keys its newest keyring holds, opened with the
// key from source.
[[nodiscard]] std::unique_ptr<storage::EncryptedStorage> encrypted_storage(std::unique_ptr<storage::Storage> raw,
                                                                           const KeySource& source,
                                                                           const std::string& repo);

}  // namespace walvault::repo
