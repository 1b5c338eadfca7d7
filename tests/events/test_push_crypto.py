"""Push-message ciphers: known-answer vectors through lockcloud's one decrypt path and through both AES libraries.

GCM is opened by ``cryptography``'s AESGCM and ECB by pycryptodome; each vector is checked against both libraries
as well, so that a library (or a wrong slicing of nonce, ciphertext and tag) cannot drift from the standard. The
GCM vectors are test cases 2 and 3 of McGrew and Viega's GCM specification (AES-128, 96-bit IV, no associated
data); the ECB one is NIST SP 800-38A F.1.1's first block followed by the PKCS7 padding block under the same key.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from Crypto.Cipher import AES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from lockcloud import CryptoError, DecodeError
from lockcloud.crypto import MessageCipher, decrypt_message, encrypt_message
from lockcloud.events import Decoder, EnrollmentProgress

from support import ACCESS_SECRET

GCM_VECTORS = {
    "gcm-tc2": (
        "00000000000000000000000000000000",
        "000000000000000000000000",
        "00000000000000000000000000000000",
        "0388dace60b6a392f328c2b971b2fe78",
        "ab6e47d42cec13bdf53a67b21257bddf",
    ),
    "gcm-tc3": (
        "feffe9928665731c6d6a8f9467308308",
        "cafebabefacedbaddecaf888",
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
        "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
        "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
        "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985",
        "4d5c2af327cd64a62cf35abd2ba6fab4",
    ),
}
ECB_KEY = "2b7e151628aed2a6abf7158809cf4f3c"
ECB_PLAINTEXT = "6bc1bee22e409f96e93d7e117393172a"
# First block: SP 800-38A; second: the full PKCS7 padding block (16 x 0x10) under the same key.
ECB_CIPHERTEXT = "3ad77bb40d7a3660a89ecaf32466ef97" + "a254be88e037ddd9d79fb6411c3f9df8"


def _lockcloud_gcm(key: bytes, nonce: bytes, ciphertext: bytes, tag: bytes) -> bytes:
    return MessageCipher(key).decrypt(base64.b64encode(nonce + ciphertext + tag), "aes_gcm")


def _pycryptodome_gcm(key: bytes, nonce: bytes, ciphertext: bytes, tag: bytes) -> bytes:
    return bytes(AES.new(key, AES.MODE_GCM, nonce=nonce).decrypt_and_verify(ciphertext, tag))


def _cryptography_gcm(key: bytes, nonce: bytes, ciphertext: bytes, tag: bytes) -> bytes:
    return AESGCM(key).decrypt(nonce, ciphertext + tag, None)


GCM_BACKENDS: dict[str, Callable[[bytes, bytes, bytes, bytes], bytes]] = {
    "lockcloud": _lockcloud_gcm,
    "pycryptodome": _pycryptodome_gcm,
    "cryptography": _cryptography_gcm,
}


def _lockcloud_ecb(key: bytes, ciphertext: bytes) -> bytes:
    return MessageCipher(key).decrypt(base64.b64encode(ciphertext), "aes_ecb")


def _pycryptodome_ecb(key: bytes, ciphertext: bytes) -> bytes:
    padded = AES.new(key, AES.MODE_ECB).decrypt(ciphertext)
    return bytes(padded[: -padded[-1]])


def _cryptography_ecb(key: bytes, ciphertext: bytes) -> bytes:
    decryptor = Cipher(algorithms.AES(key), modes.ECB()).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    return padded[: -padded[-1]]


ECB_BACKENDS: dict[str, Callable[[bytes, bytes], bytes]] = {
    "lockcloud": _lockcloud_ecb,
    "pycryptodome": _pycryptodome_ecb,
    "cryptography": _cryptography_ecb,
}


@pytest.mark.parametrize("backend", GCM_BACKENDS)
@pytest.mark.parametrize("vector", GCM_VECTORS)
def test_gcm_known_answers(backend: str, vector: str) -> None:
    key, nonce, plaintext, ciphertext, tag = (bytes.fromhex(part) for part in GCM_VECTORS[vector])
    assert GCM_BACKENDS[backend](key, nonce, ciphertext, tag) == plaintext


@pytest.mark.parametrize("backend", ECB_BACKENDS)
def test_ecb_known_answer(backend: str) -> None:
    assert ECB_BACKENDS[backend](bytes.fromhex(ECB_KEY), bytes.fromhex(ECB_CIPHERTEXT)) == bytes.fromhex(
        ECB_PLAINTEXT
    )


@pytest.mark.parametrize("backend", GCM_BACKENDS)
@pytest.mark.parametrize("where", ["tag", "ciphertext", "nonce"])
def test_gcm_tampering_is_refused_by_every_backend(backend: str, where: str) -> None:
    key, nonce, _, ciphertext, tag = (bytes.fromhex(part) for part in GCM_VECTORS["gcm-tc3"])
    flip = {"tag": (0, 0, 1), "ciphertext": (0, 1, 0), "nonce": (1, 0, 0)}[where]
    nonce, ciphertext, tag = (
        bytes([part[0] ^ bit]) + part[1:] for part, bit in zip((nonce, ciphertext, tag), flip, strict=True)
    )
    # lockcloud raises its own typed error; the libraries their own exceptions.
    expected: Any = CryptoError if backend == "lockcloud" else Exception
    with pytest.raises(expected) as info:
        GCM_BACKENDS[backend](key, nonce, ciphertext, tag)
    if backend == "lockcloud":
        assert "authentication failed" in str(info.value)
        assert info.value.__cause__ is None


SECRET = ACCESS_SECRET


@pytest.mark.parametrize("em", ["aes_gcm", "aes_ecb"])
def test_messages_sealed_by_one_library_open_with_the_other(em: str) -> None:
    """encrypt_message (AESGCM / pycryptodome ECB) and a pycryptodome-only reference agree both ways."""
    key = SECRET[8:24].encode()
    plaintext = b'{"devId":"lock-1","bizCode":"doorUnlockMethodStatus"}'
    sealed = base64.b64decode(encrypt_message(plaintext, SECRET, em))
    if em == "aes_gcm":
        assert _pycryptodome_gcm(key, sealed[:12], sealed[12:-16], sealed[-16:]) == plaintext
        nonce = bytes(range(12))
        ciphertext, tag = AES.new(key, AES.MODE_GCM, nonce=nonce).encrypt_and_digest(plaintext)
        reference = base64.b64encode(nonce + ciphertext + tag)
    else:
        assert _cryptography_ecb(key, sealed) == plaintext
        reference = base64.b64encode(AES.new(key, AES.MODE_ECB).encrypt(plaintext + bytes([11]) * 11))
    assert decrypt_message(reference, SECRET, em) == plaintext
    assert MessageCipher.for_secret(SECRET).decrypt(reference, em) == plaintext


def test_the_decoder_reports_a_tampered_tag_as_a_decode_error_keeping_the_message(push: Any) -> None:
    good = push.enrollment(4)
    assert isinstance(Decoder(push.SECRET).decode(good, {"em": "aes_gcm"}, None), EnrollmentProgress)
    tampered = push.build.tampered(good)
    with pytest.raises(DecodeError) as info:
        Decoder(push.SECRET).decode(tampered, {"em": "aes_gcm"}, "1:2:0")
    # The decoder's error is the crypto module's, word for word: one decrypt path.
    with pytest.raises(CryptoError) as crypto:
        decrypt_message(json.loads(tampered)["data"], push.SECRET, "aes_gcm")
    assert str(crypto.value) in str(info.value)
    assert info.value.payload == tampered
    assert info.value.properties == {"em": "aes_gcm"}


def test_the_cipher_hides_its_key() -> None:
    cipher = MessageCipher.for_secret(SECRET)
    assert SECRET[8:24] not in repr(cipher)
    with pytest.raises(CryptoError) as info:
        MessageCipher(b"short")
    assert "short" not in str(info.value)
