// format/encrypted_object.hpp and format/keyring.hpp: sizes, round trips, and every way a stored byte can be wrong.
#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>
#include <numeric>
#include <string>

#include "format/encrypted_object.hpp"
#include "format/keyring.hpp"

namespace {

using namespace walvault::format;

KeyBytes key_of(uint8_t seed) {
  KeyBytes k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = std::byte(static_cast<uint8_t>(seed + i));
  return k;
}

std::vector<std::byte> pattern(std::size_t n) {
  std::vector<std::byte> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = std::byte(static_cast<uint8_t>(i * 7 + i / 251));
  return out;
}

EncryptedHeader header(uint16_t kind) {
  EncryptedHeader h{kind, {}, {}};
  h.key_id[0] = std::byte{0x42};
  h.salt[5] = std::byte{0x17};
  return h;
}

}  // namespace

TEST_CASE("encrypted objects: the stored size gives back the plaintext size", "[format][encryption]") {
  for (uint64_t plain : {0ULL, 1ULL, 65535ULL, 65536ULL, 65537ULL, 131072ULL, 1000000ULL, 16777216ULL}) {
    const uint64_t stored = encrypted_stored_size(plain);
    CHECK(encrypted_plain_size(stored) == std::optional<uint64_t>(plain));
  }
  CHECK(encrypted_stored_size(0) == kEncryptedHeaderSize + kAeadTagSize);
  CHECK_FALSE(encrypted_plain_size(kEncryptedHeaderSize + kAeadTagSize - 1));
  // A size between two chunkings: a chunk's tag (or more) is missing.
  CHECK_FALSE(encrypted_plain_size(kEncryptedHeaderSize + kEncryptedChunkSize + kAeadTagSize + 5));
}

TEST_CASE("encrypted objects: round trip, and any flipped or missing byte fails", "[format][encryption]") {
  const auto plain = pattern(150000);
  const auto stored = encrypt_object(key_of(1), header(kEncryptedObjectKind), plain);
  REQUIRE(stored.size() == encrypted_stored_size(plain.size()));
  CHECK(decrypt_object(key_of(1), stored).value() == plain);
  CHECK_FALSE(decrypt_object(key_of(2), stored));  // another data key

  for (std::size_t at : {std::size_t{3}, std::size_t{20}, std::size_t{40}, std::size_t{64}, std::size_t{70000},
                         stored.size() - 1}) {
    auto flipped = stored;
    flipped[at] ^= std::byte{0x80};
    CHECK_FALSE(decrypt_object(key_of(1), flipped));
  }
  auto cut = stored;
  cut.resize(encrypted_chunk_range(plain.size(), 1).offset + encrypted_chunk_range(plain.size(), 1).size);
  const auto truncated = decrypt_object(key_of(1), cut);  // ends on a chunk that was not the last
  REQUIRE_FALSE(truncated);
  CHECK(truncated.error() == "chunk 1 (stored bytes [65616, 131168)) fails authentication");

  const auto empty = encrypt_object(key_of(1), header(kEncryptedObjectKind), {});
  CHECK(decrypt_object(key_of(1), empty).value().empty());
}

TEST_CASE("encrypted append logs: records replay with their cuts, a torn last record is dropped",
          "[format][encryption]") {
  const auto h = encode_encrypted_header(header(kEncryptedLogKind));
  const KeyBytes k = object_key(key_of(3), header(kEncryptedLogKind).salt);
  std::vector<std::byte> log(h.begin(), h.end());
  const auto add = [&](uint64_t seq, uint64_t cut, std::string_view text) {
    const auto r = seal_log_record(k, h, seq, cut, std::as_bytes(std::span(text.data(), text.size())));
    log.insert(log.end(), r.begin(), r.end());
  };
  add(0, 0, "hello world");
  add(1, 6, "there");
  add(2, 11, "!");
  const auto parsed = parse_encrypted_log(key_of(3), log);
  REQUIRE(parsed);
  std::string replayed;
  const auto replayed_size = replay_encrypted_log(key_of(3), log, [&](std::span<const std::byte> piece) {
    replayed.append(reinterpret_cast<const char*>(piece.data()), piece.size());
  });
  CHECK(replayed_size.value() == 12);
  CHECK(replayed == "hello there!");
  CHECK(std::string(reinterpret_cast<const char*>(parsed->content.data()), parsed->content.size()) ==
        "hello there!");
  CHECK(parsed->records == 3);
  CHECK(parsed->valid_length == log.size());

  add(3, 3, "XY");  // a cut below what every earlier record holds
  std::string cut_replay;
  CHECK(replay_encrypted_log(key_of(3), log, [&](std::span<const std::byte> piece) {
          cut_replay.append(reinterpret_cast<const char*>(piece.data()), piece.size());
        }).value() == 5);
  CHECK(cut_replay == "helXY");
  CHECK(std::string(reinterpret_cast<const char*>(parse_encrypted_log(key_of(3), log)->content.data()), 5) == "helXY");
  log.resize(log.size() - (kLogRecordHeaderSize + 2 + kAeadTagSize));

  auto torn = log;
  torn.resize(torn.size() - 3);
  CHECK_FALSE(replay_encrypted_log(key_of(3), torn, [](std::span<const std::byte>) {}));
  const auto cut_short = parse_encrypted_log(key_of(3), torn);
  REQUIRE(cut_short);
  CHECK(cut_short->content.size() == 11);
  CHECK(cut_short->records == 2);

  auto damaged = log;
  damaged[kEncryptedHeaderSize + kLogRecordHeaderSize + 2] ^= std::byte{1};  // inside the first of three records
  CHECK_FALSE(parse_encrypted_log(key_of(3), damaged));
  CHECK_FALSE(parse_encrypted_log(key_of(4), log));  // a wrong key fails the first record, which is not the last
}

TEST_CASE("keyrings: wrap, encode, decode, unwrap, and a wrong key told apart from a damaged keyring", "[format][encryption]") {
  const std::string passphrase = "correct horse battery staple\n";
  const UserSecret secret = classify_secret(std::as_bytes(std::span(passphrase.data(), passphrase.size())));
  CHECK_FALSE(secret.raw_key);
  CHECK(secret.bytes.size() == passphrase.size() - 1);  // the newline is not part of it
  std::vector<std::byte> raw(32, std::byte{0x01});
  CHECK(classify_secret(raw).raw_key);

  Keyring ring;
  ring.kek.derivation = KekDerivation::kScrypt;
  ring.kek.log2_n = 10;  // cheap for the test
  ring.kek.salt[0] = std::byte{9};
  const auto kek = derive_kek(secret.bytes, ring.kek);
  REQUIRE(kek);
  DataKey data{{}, key_of(7), false};
  data.id[0] = std::byte{1};
  std::array<std::byte, 12> nonce{};
  ring.keys.push_back(wrap_data_key(*kek, data, nonce));
  ring.current = data.id;
  ring.created = "2026-12-07T00:00:00Z";

  const std::string text = encode_keyring(ring);
  const auto decoded = decode_keyring(text);
  REQUIRE(decoded);
  const auto keys = unwrap_data_keys(*derive_kek(secret.bytes, decoded->kek), *decoded);
  REQUIRE(keys);
  CHECK(keys->front().key == data.key);

  const std::string other = "another passphrase";
  CHECK_FALSE(unwrap_data_keys(*derive_kek(std::as_bytes(std::span(other.data(), other.size())), decoded->kek),
                               *decoded));
  std::string damaged = text;
  damaged[damaged.find("wrapped") + 12] ^= 1;
  const auto broken = decode_keyring(damaged);
  REQUIRE_FALSE(broken);
  CHECK(broken.error().starts_with("fails its checksum"));
}

TEST_CASE("encryption fixtures: objects made apart from walvault (tests/fuzz/make_encrypted_seeds.py) decrypt",
          "[format][encryption]") {
  const auto read = [](const std::string& name) {
    std::ifstream in(std::string(WALVAULT_FIXTURE_DIR) + "/format/v3/" + name, std::ios::binary);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto b = std::as_bytes(std::span(text.data(), text.size()));
    return std::vector<std::byte>(b.begin(), b.end());
  };
  KeyBytes data_key{};
  for (std::size_t i = 0; i < data_key.size(); ++i) data_key[i] = std::byte(static_cast<uint8_t>(i));
  const auto object = decrypt_object(data_key, read("encrypted-object.bin"));
  REQUIRE(object);
  REQUIRE(object->size() == 70000);
  for (std::size_t i = 0; i < object->size(); ++i) {
    if ((*object)[i] != std::byte(static_cast<uint8_t>((i * 7) & 0xFF))) FAIL("byte " << i << " differs");
  }
  const auto log = parse_encrypted_log(data_key, read("encrypted-log.bin"));
  REQUIRE(log);
  CHECK(std::string(reinterpret_cast<const char*>(log->content.data()), log->content.size()) == "hello there!");
}
