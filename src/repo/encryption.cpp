#include "repo/encryption.hpp"

#include <algorithm>

#include "common/clock.hpp"
#include "common/random.hpp"
#include "repo/sequenced.hpp"

namespace walvault::repo {

bool is_plain_object(std::string_view name) {
  return name == "walvault.json" || name.starts_with("keys/") || name.starts_with("locks/");
}

bool is_append_object(std::string_view name) {
  if (name.starts_with("tip/")) return true;
  const auto slash = name.rfind('/');
  const std::string_view file = slash == std::string_view::npos ? name : name.substr(slash + 1);
  return name.starts_with("index/") && file.starts_with("tip-") && file.ends_with(".wvl");
}

std::vector<std::string> keyring_objects(const storage::Storage& raw) {
  std::vector<std::string> out;
  for (auto& object : sequenced_objects(raw, kKeyringPrefix, kKeyringSuffix)) out.push_back(std::move(object.name));
  return out;
}

OpenedKeyring open_keyring(const storage::Storage& raw, std::span<const std::byte> secret, const KeySource& source,
                           const std::string& repo) {
  const auto objects = keyring_objects(raw);
  if (objects.empty()) {
    throw Error(ErrorCode::kCorrupt, "the encrypted repository at " + repo + " has no keyring (keys/ is empty)",
                "its data keys are lost with it: restore keys/ from a copy of the repository");
  }
  OpenedKeyring out;
  out.object = objects.back();
  const storage::Bytes bytes = raw.read(out.object);
  auto keyring = format::decode_keyring(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  if (!keyring) {
    throw Error(ErrorCode::kCorrupt, "the keyring " + out.object + " of " + repo + " is damaged: it " + keyring.error(),
                "restore keys/ from a copy of the repository; the data keys are only there");
  }
  out.keyring = std::move(*keyring);
  const format::UserSecret user = format::classify_secret(secret);
  const auto kek = format::derive_kek(user.bytes, out.keyring.kek);
  if (!kek) throw Error(ErrorCode::kInternal, "cannot derive the key-encryption key (out of memory?)");
  auto keys = format::unwrap_data_keys(*kek, out.keyring);
  if (!keys) {
    throw Error(ErrorCode::kKey,
                "wrong key for " + repo + ": the key from " + source.describe() + " does not open its keyring " +
                    out.object,
                "give the repository's current key (after 'walvault key rotate', only the new key opens it)");
  }
  out.keys = std::move(*keys);
  return out;
}

format::DataKey new_data_key() {
  format::DataKey key;
  fill_random(key.id);
  fill_random(key.key);
  return key;
}

format::Keyring make_keyring(std::span<const std::byte> secret, const std::vector<format::DataKey>& keys,
                             const format::KeyId& current) {
  const format::UserSecret user = format::classify_secret(secret);
  format::Keyring keyring;
  keyring.kek.derivation = user.raw_key ? format::KekDerivation::kHkdf : format::KekDerivation::kScrypt;
  fill_random(keyring.kek.salt);
  const auto kek = format::derive_kek(user.bytes, keyring.kek);
  if (!kek) throw Error(ErrorCode::kInternal, "cannot derive the key-encryption key (out of memory?)");
  keyring.current = current;
  for (const format::DataKey& key : keys) {
    std::array<std::byte, 12> nonce{};
    fill_random(nonce);
    keyring.keys.push_back(format::wrap_data_key(*kek, key, nonce));
  }
  keyring.created = format_time(std::chrono::system_clock::now());
  return keyring;
}

std::string write_keyring(storage::Storage& raw, const format::Keyring& keyring) {
  const std::string text = format::encode_keyring(keyring);
  const std::string name = next_sequenced_name(raw, kKeyringPrefix, kKeyringSuffix);
  raw.write_atomic(name, std::as_bytes(std::span(text.data(), text.size())));
  return name;
}

std::unique_ptr<storage::EncryptedStorage> encrypted_storage(std::unique_ptr<storage::Storage> raw,
                                                             const KeySource& source, const std::string& repo) {
  const std::vector<std::byte> secret = read_secret(source, repo);
  const auto data_keys = [](const OpenedKeyring& opened) {
    return storage::DataKeys{opened.keyring.current, opened.keys};
  };
  const storage::DataKeys keys = data_keys(open_keyring(*raw, secret, source, repo));
  const storage::Storage* store = raw.get();
  return std::make_unique<storage::EncryptedStorage>(
      std::move(raw), keys, storage::EncryptionNames{is_plain_object, is_append_object},
      [store, secret, source, repo, data_keys] { return data_keys(open_keyring(*store, secret, source, repo)); });
}

}  // namespace walvault::repo
