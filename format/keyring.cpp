#include "format/keyring.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "format/sealed_object.hpp"

namespace walvault::format {
namespace {

constexpr int kKeyringVersion = 1;
constexpr std::size_t kWrapNonce = 12;
constexpr uint64_t kScryptMaxMemory = 1ULL << 30;

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;
using KdfCtx = std::unique_ptr<EVP_KDF_CTX, decltype(&EVP_KDF_CTX_free)>;

unsigned char* uc(std::byte* p) { return reinterpret_cast<unsigned char*>(p); }
const unsigned char* uc(const std::byte* p) { return reinterpret_cast<const unsigned char*>(p); }

std::string hex(std::span<const std::byte> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const std::byte b : bytes) {
    out += kDigits[std::to_integer<unsigned>(b) >> 4];
    out += kDigits[std::to_integer<unsigned>(b) & 15];
  }
  return out;
}

std::optional<std::vector<std::byte>> unhex(const nlohmann::json& value) {
  if (!value.is_string()) return std::nullopt;
  const auto& text = value.get_ref<const std::string&>();
  if (text.size() % 2 != 0) return std::nullopt;
  std::vector<std::byte> out;
  out.reserve(text.size() / 2);
  const auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < text.size(); i += 2) {
    const int hi = digit(text[i]);
    const int lo = digit(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<std::byte>(hi * 16 + lo));
  }
  return out;
}

template <std::size_t N>
std::optional<std::array<std::byte, N>> unhex_array(const nlohmann::json& value) {
  const auto bytes = unhex(value);
  if (!bytes || bytes->size() != N) return std::nullopt;
  std::array<std::byte, N> out{};
  std::copy(bytes->begin(), bytes->end(), out.begin());
  return out;
}

std::vector<std::byte> wrap_aad(const KeyId& id) {
  static constexpr std::string_view kLabel = "walvault data key ";
  std::vector<std::byte> aad(kLabel.size() + id.size());
  std::memcpy(aad.data(), kLabel.data(), kLabel.size());
  std::memcpy(aad.data() + kLabel.size(), id.data(), id.size());
  return aad;
}

std::optional<KeyBytes> derive(const char* algorithm, std::vector<OSSL_PARAM> params) {
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, algorithm, nullptr);
  KdfCtx ctx(kdf == nullptr ? nullptr : EVP_KDF_CTX_new(kdf), EVP_KDF_CTX_free);
  EVP_KDF_free(kdf);
  params.push_back(OSSL_PARAM_construct_end());
  KeyBytes out{};
  if (!ctx || EVP_KDF_derive(ctx.get(), uc(out.data()), out.size(), params.data()) != 1) return std::nullopt;
  return out;
}

}  // namespace

UserSecret classify_secret(std::span<const std::byte> bytes) {
  const bool printable = std::all_of(bytes.begin(), bytes.end(), [](std::byte b) {
    const auto c = std::to_integer<unsigned>(b);
    return (c >= 0x20 && c < 0x7f) || c == '\n' || c == '\r' || c == '\t';
  });
  if (bytes.size() == 32 && !printable) return {{bytes.begin(), bytes.end()}, true};
  auto text = bytes;
  if (!text.empty() && text.back() == std::byte{'\n'}) text = text.first(text.size() - 1);
  if (!text.empty() && text.back() == std::byte{'\r'}) text = text.first(text.size() - 1);
  return {{text.begin(), text.end()}, false};
}

std::optional<KeyBytes> derive_kek(std::span<const std::byte> secret, const KekParameters& parameters) {
  auto* pass = const_cast<std::byte*>(secret.data());
  auto* salt = const_cast<std::byte*>(parameters.salt.data());
  if (parameters.derivation == KekDerivation::kScrypt) {
    uint64_t n = uint64_t{1} << std::min<uint32_t>(parameters.log2_n, 30);
    uint32_t r = parameters.r;
    uint32_t p = parameters.p;
    uint64_t maxmem = kScryptMaxMemory;
    return derive("SCRYPT", {OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, pass, secret.size()),
                             OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, salt, parameters.salt.size()),
                             OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n),
                             OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r),
                             OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p),
                             OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem)});
  }
  char digest[] = "SHA256";
  char info[] = "walvault key-encryption key";
  return derive("HKDF", {OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, pass, secret.size()),
                         OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, salt, parameters.salt.size()),
                         OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, sizeof info - 1)});
}

WrappedKey wrap_data_key(const KeyBytes& kek, const DataKey& data_key, std::span<const std::byte, 12> nonce) {
  WrappedKey out{data_key.id, {nonce.begin(), nonce.end()}, data_key.retired};
  out.wrapped.resize(kWrapNonce + data_key.key.size() + kAeadTagSize);
  const auto aad = wrap_aad(data_key.id);
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int len = 0;
  const bool ok =
      ctx && EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, uc(kek.data()), uc(nonce.data())) == 1 &&
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, uc(aad.data()), static_cast<int>(aad.size())) == 1 &&
      EVP_EncryptUpdate(ctx.get(), uc(out.wrapped.data() + kWrapNonce), &len, uc(data_key.key.data()),
                        static_cast<int>(data_key.key.size())) == 1 &&
      EVP_EncryptFinal_ex(ctx.get(), uc(out.wrapped.data() + kWrapNonce) + len, &len) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kAeadTagSize,
                          out.wrapped.data() + kWrapNonce + data_key.key.size()) == 1;
  if (!ok) out.wrapped.clear();  // fails to unwrap later: loudly, never silently
  return out;
}

std::optional<std::vector<DataKey>> unwrap_data_keys(const KeyBytes& kek, const Keyring& keyring) {
  std::vector<DataKey> out;
  for (const WrappedKey& w : keyring.keys) {
    if (w.wrapped.size() != kWrapNonce + 32 + kAeadTagSize) return std::nullopt;
    DataKey key{w.id, {}, w.retired};
    const auto aad = wrap_aad(w.id);
    std::array<std::byte, kAeadTagSize> tag{};
    std::memcpy(tag.data(), w.wrapped.data() + kWrapNonce + 32, kAeadTagSize);
    CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
    int len = 0;
    const bool ok =
        ctx && EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, uc(kek.data()), uc(w.wrapped.data())) == 1 &&
        EVP_DecryptUpdate(ctx.get(), nullptr, &len, uc(aad.data()), static_cast<int>(aad.size())) == 1 &&
        EVP_DecryptUpdate(ctx.get(), uc(key.key.data()), &len, uc(w.wrapped.data() + kWrapNonce), 32) == 1 &&
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kAeadTagSize, tag.data()) == 1 &&
        EVP_DecryptFinal_ex(ctx.get(), uc(key.key.data()) + len, &len) == 1;
    if (!ok) return std::nullopt;
    out.push_back(key);
  }
  return out;
}

std::string key_id_text(const KeyId& id) { return hex(id); }

std::string encode_keyring(const Keyring& keyring) {
  nlohmann::ordered_json j;
  j["format_version"] = kKeyringVersion;
  nlohmann::ordered_json kek;
  kek["derivation"] = keyring.kek.derivation == KekDerivation::kScrypt ? "scrypt" : "hkdf-sha256";
  kek["salt"] = hex(keyring.kek.salt);
  if (keyring.kek.derivation == KekDerivation::kScrypt) {
    kek["log2_n"] = keyring.kek.log2_n;
    kek["r"] = keyring.kek.r;
    kek["p"] = keyring.kek.p;
  }
  j["kek"] = std::move(kek);
  j["cipher"] = "aes-256-gcm";
  j["current"] = hex(keyring.current);
  nlohmann::ordered_json keys = nlohmann::ordered_json::array();
  for (const WrappedKey& k : keyring.keys) {
    keys.push_back({{"id", hex(k.id)}, {"wrapped", hex(k.wrapped)}, {"retired", k.retired}});
  }
  j["keys"] = std::move(keys);
  j["created"] = keyring.created;
  return seal_json(std::move(j), 2);
}

Expected<Keyring, std::string> decode_keyring(std::string_view text) {
  auto opened = open_sealed_json(text, SealRule::kRequired);
  if (!opened) return Unexpected(opened.error());
  const nlohmann::json& j = opened->value;
  const auto missing = [](const char* what) { return Unexpected("has no valid " + std::string(what)); };
  if (!j.contains("format_version") || j["format_version"] != kKeyringVersion) return missing("format_version 1");
  if (!j.contains("cipher") || j["cipher"] != "aes-256-gcm") return missing("cipher");
  Keyring out;
  if (!j.contains("kek") || !j["kek"].is_object()) return missing("kek");
  const nlohmann::json& kek = j["kek"];
  const auto derivation = kek.value("derivation", std::string());
  if (derivation == "scrypt") {
    out.kek.derivation = KekDerivation::kScrypt;
    const auto number = [&](const char* name, uint32_t low, uint32_t high) -> std::optional<uint32_t> {
      if (!kek.contains(name) || !kek[name].is_number_unsigned()) return std::nullopt;
      const auto v = kek[name].get<uint64_t>();
      if (v < low || v > high) return std::nullopt;
      return static_cast<uint32_t>(v);
    };
    const auto n = number("log2_n", 10, 24);
    const auto r = number("r", 1, 64);
    const auto p = number("p", 1, 16);
    if (!n || !r || !p) return missing("scrypt cost");
    out.kek.log2_n = *n;
    out.kek.r = *r;
    out.kek.p = *p;
  } else if (derivation != "hkdf-sha256") {
    return missing("kek derivation");
  }
  const auto salt = unhex_array<32>(kek.value("salt", nlohmann::json()));
  if (!salt) return missing("kek salt");
  out.kek.salt = *salt;
  const auto current = unhex_array<16>(j.value("current", nlohmann::json()));
  if (!current) return missing("current key id");
  out.current = *current;
  if (!j.contains("keys") || !j["keys"].is_array() || j["keys"].empty()) return missing("keys");
  for (const auto& k : j["keys"]) {
    if (!k.is_object()) return missing("keys");
    const auto id = unhex_array<16>(k.value("id", nlohmann::json()));
    auto wrapped = unhex(k.value("wrapped", nlohmann::json()));
    const auto retired = k.find("retired");
    if (!id || !wrapped || retired == k.end() || !retired->is_boolean()) return missing("keys");
    out.keys.push_back({*id, std::move(*wrapped), retired->get<bool>()});
  }
  const bool has_current = std::any_of(out.keys.begin(), out.keys.end(),
                                       [&](const WrappedKey& k) { return k.id == out.current && !k.retired; });
  if (!has_current) return missing("current key (it is not among the keys, or retired)");
  out.created = j.value("created", std::string());
  return out;
}

}  // namespace walvault::format
