// Where the key of an encrypted repository comes from, as the command line names it: a file (--key-file, or
// WALVAULT_KEY_FILE), an environment variable holding a passphrase (--passphrase-env), or a command that prints
// the key (--key-command, run with sh -c: a secrets manager's or a KMS's CLI). walvault reads the secret when it
// opens the repository and never stores or prints it; other walvault processes (restore_command, the wal-fetch
// prefetcher) are given the source, never the secret.
//
// The secret is a raw key or a passphrase (format/keyring.hpp, classify_secret).
//
// Errors: walvault::Error kKey, one line naming the source and the repository: a file that cannot be read, that
// others may read or write (mode & 077), an unset variable, a command that fails or prints nothing.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace walvault::repo {

struct KeySource {
  enum class Kind { kNone, kFile, kEnvironment, kCommand };
  Kind kind = Kind::kNone;
  std::string value;  // the path, the variable's name, or the command

  [[nodiscard]] bool given() const { return kind != Kind::kNone; }
  // "--key-file /etc/walvault.key", for messages (never the secret).
  [[nodiscard]] std::string describe() const;
  // The options that name this source to another walvault process (empty when none).
  [[nodiscard]] std::vector<std::string> argv() const;
};

// A source of that kind; a relative key file is made absolute (restore_command runs in the data directory).
[[nodiscard]] KeySource make_key_source(KeySource::Kind kind, const std::string& value);
// given, or when none is given the file WALVAULT_KEY_FILE names, else none.
[[nodiscard]] KeySource or_environment(KeySource given);

// The secret's bytes. `repo` names the repository in errors.
[[nodiscard]] std::vector<std::byte> read_secret(const KeySource& source, const std::string& repo);

}  // namespace walvault::repo
