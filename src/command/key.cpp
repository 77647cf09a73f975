#include "command/key.hpp"

#include <algorithm>
#include <iostream>
#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "common/log.hpp"
#include "common/progress.hpp"
#include "repo/encryption.hpp"
#include "repo/lock.hpp"
#include "repo/repository.hpp"

namespace walvault::command {
namespace {

constexpr uint64_t kCopyBytes = 4 << 20;

// Writes the next keyring and removes every older one (their data keys are wrapped under a key being retired).
std::string replace_keyring(storage::Storage& raw, std::span<const std::byte> secret,
                            const std::vector<format::DataKey>& keys, const format::KeyId& current) {
  const auto before = repo::keyring_objects(raw);
  const std::string written = repo::write_keyring(raw, repo::make_keyring(secret, keys, current));
  for (const auto& old : before) raw.remove(old);
  return written;
}

// Rewrites the object under the current data key, replacing it atomically.
void reencrypt_object(storage::EncryptedStorage& storage, const std::string& name, uint64_t size) {
  if (repo::is_append_object(name)) {
    (void)storage.open_append(name);  // opening a log under a retired key rewrites it under the current one
    return;
  }
  const auto writer = storage.open_writer(name, storage::WriteMode::kReplace);
  for (uint64_t at = 0; at < size; at += kCopyBytes) writer->write(storage.read_range(name, at, kCopyBytes));
  writer->commit();
}

}  // namespace

int run_key_rotate(const KeyRotateOptions& options) {
  if (!options.new_key.given() && !options.reencrypt) {
    throw Error(ErrorCode::kUsage, "key rotate needs a new key or --reencrypt",
                "give the new key with --new-key-file, --new-passphrase-env or --new-key-command, and/or "
                "--reencrypt to rewrite the objects under a new data key");
  }
  const repo::Repository repository = repo::open_repository(options.repo);
  auto* storage = dynamic_cast<storage::EncryptedStorage*>(repository.storage.get());
  if (storage == nullptr) {
    throw Error(ErrorCode::kUsage, "the repository at " + repository.path + " is not encrypted",
                "only an encrypted repository ('walvault init --encrypt') has keys to rotate");
  }
  storage::Storage& raw = storage->inner();
  const repo::KeySource current_source = repo::or_environment(options.repo.key);
  const std::vector<std::byte> secret = repo::read_secret(current_source, repository.path);
  const std::vector<std::byte> new_secret =
      options.new_key.given() ? repo::read_secret(options.new_key, repository.path) : secret;
  repo::OpenedKeyring opened = repo::open_keyring(raw, secret, current_source, repository.path);

  std::optional<repo::RepositoryLock> stream_lock;
  std::optional<repo::RepositoryLock> backup_lock;
  uint64_t rewritten = 0;
  std::string keyring = opened.object;
  if (!options.reencrypt) {
    keyring = replace_keyring(raw, new_secret, opened.keys, opened.keyring.current);
  } else {
    stream_lock.emplace(repo::lock_stopped_streamer(*storage, "key rotate --reencrypt"));
    backup_lock.emplace(*storage, repo::kBackupLockName, "backup or expire");
    std::vector<format::DataKey> keys = opened.keys;
    format::KeyId current = opened.keyring.current;
    const bool resuming = std::any_of(keys.begin(), keys.end(), [](const auto& k) { return k.retired; });
    if (!resuming) {
      for (auto& k : keys) k.retired = true;
      const format::DataKey fresh = repo::new_data_key();
      keys.push_back(fresh);
      current = fresh.id;
    }
    if (!resuming || options.new_key.given()) keyring = replace_keyring(raw, new_secret, keys, current);
    const repo::Repository renewed = repo::open_repository(
        repo::RepoAddress{options.repo.url, options.repo.s3, options.new_key.given() ? options.new_key : current_source});
    auto& fresh = dynamic_cast<storage::EncryptedStorage&>(*renewed.storage);
    {
      const auto objects = raw.list("");
      ProgressMeter progress("re-encrypting " + repository.path, objects.size(), ProgressMeter::Unit::kObjects);
      uint64_t done = 0;
      for (const auto& object : objects) {
        ++done;
        if (repo::is_plain_object(object.name) || object.size == 0) continue;
        if (fresh.key_of(object.name) == current) continue;
        progress.update(done, object.name);
        reencrypt_object(fresh, object.name, fresh.info(object.name).value_or(0));
        ++rewritten;
      }
    }
    std::erase_if(keys, [](const auto& k) { return k.retired; });
    keyring = replace_keyring(raw, new_secret, keys, current);
  }

  if (options.json) {
    nlohmann::ordered_json j;
    j["repository"] = repository.path;
    j["keyring"] = keyring;
    j["new_key"] = options.new_key.given();
    j["reencrypted_objects"] = rewritten;
    std::cout << j.dump(2) << "\n";
  } else {
    if (options.new_key.given()) {
      std::cout << "rotated the key of " << repository.path << ": " << keyring << " is wrapped under "
                << options.new_key.describe() << "; the old key no longer opens the repository\n";
    }
    if (options.reencrypt) {
      std::cout << "re-encrypted " << rewritten << " objects of " << repository.path
                << " under a new data key; the old data keys are gone from " << keyring << "\n";
    }
  }
  return 0;
}

}  // namespace walvault::command
