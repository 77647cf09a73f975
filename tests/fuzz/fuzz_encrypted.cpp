// Fuzz target: the decryption path of an encrypted repository (format/encrypted_object.hpp, format/keyring.hpp).
// The input is a stored object under the fixed data key 00 01 02 .. 1f (the seeds in corpus/encrypted/ are made by
// make_encrypted_seeds.py, an implementation of FORMAT.md's "Encryption" written apart from the C++): it must
// decrypt or fail as a value, never crash; an object that decrypts must encrypt back to exactly its bytes; a log's
// valid length never exceeds its size; a keyring that decodes must encode to one that decodes the same.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "format/encrypted_object.hpp"
#include "format/keyring.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace walvault::format;
  const auto bytes = std::as_bytes(std::span(data, size));
  KeyBytes key{};
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = std::byte(static_cast<uint8_t>(i));

  if (const auto plain = encrypted_plain_size(size); plain && encrypted_stored_size(*plain) != size) __builtin_trap();
  const auto header = decode_encrypted_header(bytes);
  if (const auto object = decrypt_object(key, bytes)) {
    const auto again = encrypt_object(key, *header, *object);
    if (!std::equal(again.begin(), again.end(), bytes.begin(), bytes.end())) __builtin_trap();
  }
  if (const auto log = parse_encrypted_log(key, bytes); log && log->valid_length > size) __builtin_trap();

  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (const auto keyring = decode_keyring(text)) {
    const auto again = decode_keyring(encode_keyring(*keyring));
    if (!again || again->keys.size() != keyring->keys.size() || again->current != keyring->current) __builtin_trap();
    (void)unwrap_data_keys(key, *keyring);
  }
  return 0;
}
