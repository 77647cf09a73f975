// `walvault key rotate`: changes an encrypted repository's key without rewriting its data (repo/encryption.hpp).
//
//   1. Opens the newest keyring with the current key (--key-file, --passphrase-env, --key-command).
//   2. With --new-key-*, wraps the same data keys under the new key as the next keyring, then removes the older
//      keyrings: from then on only the new key opens the repository. Nothing else changes, so a streamer keeps
//      running (it holds the data keys already) and restores work throughout.
//   3. With --reencrypt (for a data key that may have leaked), also adds a new data key and retires the old ones
//      (a keyring holding both, so every object stays readable), rewrites every object written under a retired key
//      under the new one (each replaced atomically: a reader sees the old object or the new), then writes a keyring
//      without the retired keys. It takes the stream and backup locks (their writers hold the old data key), and is
//      resumable: run again after an interruption, it finds the retired keys and goes on.
// Errors: kUsage (nothing to do; a repository that is not encrypted), kKey (a key), kRepository (a streamer or
// backup running, for --reencrypt), Storage errors.
#pragma once

#include "repo/address.hpp"
#include "repo/key_source.hpp"

namespace walvault::command {

struct KeyRotateOptions {
  repo::RepoAddress repo;
  repo::KeySource new_key;  // unset: keep the current key
  bool reencrypt = false;
  bool json = false;
};

int run_key_rotate(const KeyRotateOptions& options);

}  // namespace walvault::command
