#!/usr/bin/env python3
"""Seeds for fuzz_encrypted (tests/fuzz/corpus/encrypted/): an encrypted object, an encrypted append log and a
keyring, built from FORMAT.md's "Encryption" with Python's `cryptography` package, apart from walvault's C++, under
the data key 00 01 .. 1f. Run: python3 tests/fuzz/make_encrypted_seeds.py tests/fuzz/corpus/encrypted"""
import hashlib, json, os, struct, sys
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

DATA_KEY = bytes(range(32))
CHUNK = 65536

def header(kind, key_id, salt):
    return b"WALVAULT" + struct.pack("<HHI", 1, kind, CHUNK if kind == 6 else 0) + key_id + salt

def object_key(salt):
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=b"walvault object key").derive(DATA_KEY)

def encrypted_object(plain, key_id, salt):
    head = header(6, key_id, salt)
    aead = AESGCM(object_key(salt))
    chunks = [plain[i:i + CHUNK] for i in range(0, len(plain), CHUNK)] or [b""]
    out = head
    for i, chunk in enumerate(chunks):
        last = i + 1 == len(chunks)
        out += aead.encrypt(struct.pack("<QI", i, 0), chunk, head + struct.pack("<QB", i, last))
    return out

def encrypted_log(records, key_id, salt):
    head = header(7, key_id, salt)
    aead = AESGCM(object_key(salt))
    out = head
    for seq, (cut, data) in enumerate(records):
        out += struct.pack("<QI", cut, len(data))
        out += aead.encrypt(struct.pack("<QI", seq, 1), data, head + struct.pack("<QQI", seq, cut, len(data)))
    return out

def keyring():
    kek = HKDF(algorithm=hashes.SHA256(), length=32, salt=bytes(32), info=b"walvault key-encryption key").derive(DATA_KEY)
    key_id = bytes([1] * 16)
    nonce = bytes(12)
    wrapped = nonce + AESGCM(kek).encrypt(nonce, bytes([7] * 32), b"walvault data key " + key_id)
    body = {"cipher": "aes-256-gcm", "created": "2026-12-07T00:00:00Z", "current": key_id.hex(),
            "format_version": 1, "kek": {"derivation": "hkdf-sha256", "salt": bytes(32).hex()},
            "keys": [{"id": key_id.hex(), "retired": False, "wrapped": wrapped.hex()}]}
    # Unsealed: the seal (xxh3-64) is checked by the unit tests; the fuzzer mutates from here.
    return (json.dumps(body, sort_keys=True, separators=(",", ":")) + "\n").encode()

def main(out):
    os.makedirs(out, exist_ok=True)
    key_id, salt = bytes([0xAB] * 16), bytes(range(32, 64))
    plain = bytes((i * 7) & 0xFF for i in range(70000))
    open(os.path.join(out, "object"), "wb").write(encrypted_object(plain, key_id, salt))
    open(os.path.join(out, "object-empty"), "wb").write(encrypted_object(b"", key_id, salt))
    open(os.path.join(out, "log"), "wb").write(
        encrypted_log([(0, b"hello world"), (6, b"there"), (11, b"!")], key_id, salt))
    open(os.path.join(out, "keyring.json"), "wb").write(keyring())

if __name__ == "__main__":
    main(sys.argv[1])
