// EncryptedStorage (storage/encrypted_storage.hpp): the whole Storage contract through the encryption, and what
// encryption adds: nothing readable in the stored bytes, plaintext idempotence, damage named with its range, logs
// that survive torn records, and data keys found again after another process re-encrypted.
#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>
#include <string>

#include "../../common/error_code.hpp"
#include "../../common/storage_contract.hpp"
#include "format/encrypted_object.hpp"
#include "repo/encryption.hpp"
#include "storage/encrypted_storage.hpp"
#include "storage/memory_storage.hpp"

namespace {

using walvault::ErrorCode;
using walvault::storage::Bytes;
using walvault::storage::DataKeys;
using walvault::storage::EncryptedStorage;
using walvault::storage::MemoryStorage;
using walvault::test::bytes_of;
using walvault::test::code_of;
namespace contract = walvault::test::contract;
namespace repo = walvault::repo;

struct Encrypted {
  explicit Encrypted(DataKeys keys = fresh()) : reload_keys(keys) {
    auto memory = std::make_unique<MemoryStorage>();
    inner = memory.get();
    storage = std::make_unique<EncryptedStorage>(std::move(memory), keys,
                                                 walvault::storage::EncryptionNames{repo::is_plain_object,
                                                                                    repo::is_append_object},
                                                 [this] { return reload_keys; });
  }
  static DataKeys fresh() {
    const auto key = repo::new_data_key();
    return DataKeys{key.id, {key}};
  }
  DataKeys reload_keys;
  MemoryStorage* inner = nullptr;
  std::unique_ptr<EncryptedStorage> storage;
};

bool contains(const Bytes& haystack, std::string_view needle) {
  const auto n = std::as_bytes(std::span(needle.data(), needle.size()));
  return std::search(haystack.begin(), haystack.end(), n.begin(), n.end()) != haystack.end();
}

}  // namespace

TEST_CASE("encrypted storage: the storage contract holds through encryption", "[storage][encryption]") {
  for (const auto& [name, check] : contract::kAll) {
    DYNAMIC_SECTION(name) {
      Encrypted e;
      check(*e.storage);
    }
  }
  for (const auto& [name, check] : contract::kAppend) {
    DYNAMIC_SECTION(name) {
      Encrypted e;
      check(*e.storage);
    }
  }
}

TEST_CASE("encrypted storage: stored bytes hold no plaintext, plain names stay readable", "[storage][encryption]") {
  Encrypted e;
  const std::string secret = "zebra-row-value-4711 " + std::string(200000, 'q') + " tail-marker";
  e.storage->write_atomic("wal/000000010000000000000001.wvs", bytes_of(secret));
  auto tip = e.storage->open_append("tip/stream.state");
  tip->append(bytes_of("tip-secret-text"));
  tip->sync();
  e.storage->write_atomic("walvault.json", bytes_of("{\"plain\": true}"));
  for (const auto& object : e.inner->list("")) {
    const Bytes stored = e.inner->read(object.name);
    CHECK_FALSE(contains(stored, "zebra-row-value"));
    CHECK_FALSE(contains(stored, "tip-secret-text"));
    CHECK_FALSE(contains(stored, "qqqqqqqq"));
  }
  CHECK(e.inner->read("walvault.json") == bytes_of("{\"plain\": true}"));
  CHECK(e.storage->read("wal/000000010000000000000001.wvs") == bytes_of(secret));
  CHECK(e.storage->read_range("wal/000000010000000000000001.wvs", 65530, 12) == bytes_of(secret.substr(65530, 12)));
  CHECK(e.storage->info("wal/000000010000000000000001.wvs") == std::optional<uint64_t>(secret.size()));
  CHECK(*e.inner->info("wal/000000010000000000000001.wvs") ==
        walvault::format::encrypted_stored_size(secret.size()));
}

TEST_CASE("encrypted storage: a flipped or cut byte is damage naming the chunk and its range",
          "[storage][encryption]") {
  Encrypted e;
  const std::string text(150000, 'x');
  e.storage->write_atomic("wal/a", bytes_of(text));
  Bytes stored = e.inner->read("wal/a");
  stored[70000] ^= std::byte{1};  // inside chunk 1: stored bytes [65616, 131168)
  e.inner->remove("wal/a");
  e.inner->write_atomic("wal/a", stored);
  try {
    (void)e.storage->read("wal/a");
    FAIL("read a damaged object");
  } catch (const walvault::Error& error) {
    CHECK(error.code() == ErrorCode::kCorrupt);
    CHECK(std::string(error.what()) == "wal/a is damaged: chunk 1 (stored bytes [65616, 131168)) fails authentication");
  }
  CHECK(e.storage->read_range("wal/a", 0, 100) == bytes_of(text.substr(0, 100)));  // chunk 0 is intact
  CHECK(code_of([&] { (void)e.storage->read_range("wal/a", 65536, 10); }) == ErrorCode::kCorrupt);

  stored[70000] ^= std::byte{1};
  stored.resize(131168);  // cut at a chunk boundary: the new last chunk was not written as the last
  e.inner->remove("wal/a");
  e.inner->write_atomic("wal/a", stored);
  CHECK(code_of([&] { (void)e.storage->read("wal/a"); }) == ErrorCode::kCorrupt);
  CHECK(code_of([&] { (void)e.storage->read_range("wal/a", 65536, 10); }) == ErrorCode::kCorrupt);

  e.inner->remove("wal/a");
  e.inner->write_atomic("wal/a", bytes_of(text));  // plain text where an encrypted object belongs
  CHECK(code_of([&] { (void)e.storage->read("wal/a"); }) == ErrorCode::kCorrupt);
}

TEST_CASE("encrypted storage: another key cannot read, a re-encrypted object is found by reloading the keyring",
          "[storage][encryption]") {
  Encrypted writer;
  writer.storage->write_atomic("wal/a", bytes_of("secret"));
  Encrypted reader;  // different data keys
  reader.inner->write_atomic("wal/a", writer.inner->read("wal/a"));
  CHECK(code_of([&] { (void)reader.storage->read("wal/a"); }) == ErrorCode::kCorrupt);
  reader.reload_keys.keys.push_back(writer.reload_keys.keys.front());  // the newest keyring now holds it
  CHECK(reader.storage->read("wal/a") == bytes_of("secret"));
}

TEST_CASE("encrypted storage: an append log keeps every synced byte across a torn record", "[storage][encryption]") {
  Encrypted e;
  {
    auto f = e.storage->open_append("tip/000000010000000000000001.partial");
    f->append(bytes_of("first "));
    f->sync();
    f->append(bytes_of("second"));
    f->sync();
  }
  // A crash while the next record was written: its first bytes landed.
  {
    auto raw = e.inner->open_append("tip/000000010000000000000001.partial");
    raw->append(bytes_of("\x03\x00\x00\x00\x00\x00\x00\x00\x10"));
    raw->sync();
  }
  CHECK(e.storage->read("tip/000000010000000000000001.partial") == bytes_of("first second"));
  auto f = e.storage->open_append("tip/000000010000000000000001.partial");
  CHECK(f->size() == 12);
  f->append(bytes_of("!"));
  f->sync();
  CHECK(e.storage->read("tip/000000010000000000000001.partial") == bytes_of("first second!"));
  // Rewritten whole with a fresh salt (the torn record's nonce is never used again): one record.
  CHECK(*e.inner->info("tip/000000010000000000000001.partial") ==
        walvault::format::kEncryptedHeaderSize + 2 * (walvault::format::kLogRecordHeaderSize + 16) + 13);
}

TEST_CASE("encrypted storage: a log rewritten over and over stays small", "[storage][encryption]") {
  Encrypted e;
  auto f = e.storage->open_append("tip/stream.state");
  for (int i = 0; i < 2000; ++i) {
    f->write_at(0, bytes_of("state " + std::to_string(100000 + i) + std::string(200, ' ')));
    f->sync();
  }
  CHECK(*e.inner->info("tip/stream.state") < 200 * 1024);
  CHECK(e.storage->read("tip/stream.state") == bytes_of("state 101999" + std::string(200, ' ')));
}

TEST_CASE("encrypted storage: an append log under a retired data key is rewritten under the current one",
          "[storage][encryption]") {
  Encrypted e;
  contract::make_append(*e.storage, "tip/stream.state", "state");
  const auto old_key = e.reload_keys.current;
  auto fresh = repo::new_data_key();
  auto keys = e.reload_keys;
  for (auto& k : keys.keys) k.retired = true;
  keys.keys.push_back(fresh);
  keys.current = fresh.id;
  Encrypted again(keys);
  again.inner->write_atomic("tip/stream.state", e.inner->read("tip/stream.state"));
  CHECK(again.storage->key_of("tip/stream.state") == old_key);
  (void)again.storage->open_append("tip/stream.state");
  CHECK(again.storage->key_of("tip/stream.state") == fresh.id);
  CHECK(again.storage->read("tip/stream.state") == bytes_of("state"));
}

TEST_CASE("encrypted storage: an append file holds only its unsynced change, and publishes record by record",
          "[storage][encryption]") {
  Encrypted e;
  std::string expected;
  {
    auto f = e.storage->open_append("tip/000000010000000000000002.partial");
    const auto apply = [&](uint64_t offset, const std::string& text) {
      f->write_at(offset, bytes_of(text));
      if (expected.size() < offset + text.size()) expected.resize(offset + text.size());
      expected.replace(offset, text.size(), text);
    };
    apply(0, "hello world");
    f->sync();
    apply(2, "XY");  // inside synced bytes, not at the end: the rest up to the end is written again
    apply(11, "!");
    f->sync();
    CHECK(e.storage->read("tip/000000010000000000000002.partial") == bytes_of(expected));
    for (int i = 0; i < 50; ++i) {
      apply(expected.size(), "chunk " + std::to_string(i) + ";");
      if (i % 7 == 6) {  // a cut, as a torn tail's or a restarted tail log's
        f->truncate(expected.size() - 3);
        expected.resize(expected.size() - 3);
      }
      if (i % 5 == 0) apply(1, "E");  // below the unsynced change
      f->sync();
    }
    CHECK(f->size() == expected.size());
    CHECK(e.storage->read("tip/000000010000000000000002.partial") == bytes_of(expected));
    e.storage->publish_append("tip/000000010000000000000002.partial", "wal/000000010000000000000002.wvs");
  }
  CHECK(e.storage->read("wal/000000010000000000000002.wvs") == bytes_of(expected));
  CHECK_FALSE(e.storage->info("tip/000000010000000000000002.partial"));
}
