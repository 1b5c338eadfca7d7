"""The lock cryptography of the Tuya cloud, as pure functions.

* Remote unlock with a PIN: :func:`decrypt_ticket_key` turns the ``ticket_key`` of a password
  ticket into the 16-byte key that :func:`encrypt_password` uses for the PIN.
* Media files: :func:`decrypt_media` opens the container Tuya stores cover images in;
  :class:`MediaDecryptor` does the same chunk by chunk for streamed downloads.
* Push messages: :func:`decrypt_message` opens the ``data`` of a Pulsar envelope (:class:`MessageCipher` does
  it for many messages with one key) and :func:`pulsar_password` derives the broker password.

The ``encrypt_*`` inverses exist for the local simulator and for tests.

Every function raises :class:`~lockcloud.CryptoError` on corrupt input (bad hex or base64, a wrong key, bad
padding, a truncated container, a tampered tag) and never a bare ``ValueError``. Messages never contain keys,
secrets, PINs or plaintext; errors are raised ``from None`` so that no lower-level message carrying
decrypted bytes is chained to them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import struct
from typing import Any

from Crypto.Cipher import AES

from lockcloud._core.errors import CryptoError

__all__ = [
    "MEDIA_HEADER_SIZE",
    "MediaDecryptor",
    "MessageCipher",
    "decrypt_media",
    "decrypt_message",
    "decrypt_password",
    "decrypt_ticket_key",
    "encrypt_media",
    "encrypt_message",
    "encrypt_password",
    "encrypt_ticket_key",
    "pulsar_password",
]

_BLOCK = 16
_AES_KEY_SIZES = frozenset({16, 24, 32})

#: Bytes before the ciphertext in a media file: version (4, little-endian), IV (16), reserved (44).
MEDIA_HEADER_SIZE = 64
_MEDIA_VERSION = 1
_IV_SLICE = slice(4, 20)

_GCM_NONCE_SIZE = 12
_GCM_TAG_SIZE = 16
_MESSAGE_KEY_SLICE = slice(8, 24)


# -- building blocks -----------------------------------------------------------------------------------------


def _aes_key(key: bytes | str, what: str) -> bytes:
    raw = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    if len(raw) not in _AES_KEY_SIZES:
        # Only the length is reported: the key itself must never reach a message.
        raise CryptoError(f"{what} must be 16, 24 or 32 bytes long for AES, got {len(raw)}")
    return raw


def _pad(data: bytes) -> bytes:
    count = _BLOCK - len(data) % _BLOCK
    return data + bytes([count]) * count


def _unpad(data: bytes, what: str) -> bytes:
    if not data or len(data) % _BLOCK:
        raise CryptoError(f"{what}: padded plaintext is not a whole number of blocks")
    count = data[-1]
    if not 1 <= count <= _BLOCK or data[-count:] != bytes([count]) * count:
        raise CryptoError(f"{what}: bad padding (wrong key or corrupt data)")
    return data[:-count]


def _from_hex(text: str, what: str) -> bytes:
    if not isinstance(text, str):
        raise CryptoError(f"{what} must be a hex string, got {type(text).__name__}")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise CryptoError(f"{what} is not valid hex") from None


def _check_ciphertext(ciphertext: bytes, what: str) -> None:
    if not ciphertext:
        raise CryptoError(f"{what} is empty")
    if len(ciphertext) % _BLOCK:
        raise CryptoError(f"{what} length {len(ciphertext)} is not a multiple of {_BLOCK}")


def _ecb_decrypt(ciphertext: bytes, key: bytes, what: str) -> bytes:
    _check_ciphertext(ciphertext, what)
    return _unpad(AES.new(key, AES.MODE_ECB).decrypt(ciphertext), what)


def _ecb_encrypt(plaintext: bytes, key: bytes) -> bytes:
    return bytes(AES.new(key, AES.MODE_ECB).encrypt(_pad(plaintext)))


# -- password tickets (remote unlock with a PIN) -------------------------------------------------------------


def decrypt_ticket_key(ticket_key_hex: str, access_secret: str) -> bytes:
    """The AES key hidden in a password ticket's ``ticket_key``.

    ``ticket_key`` is hex of AES-256-ECB(key = the project's access secret, PKCS7) over a 16-character key.
    A wrong secret almost always shows up as bad padding or an impossible key length: :class:`CryptoError`.
    """
    secret = _aes_key(access_secret, "access secret")
    key = _ecb_decrypt(_from_hex(ticket_key_hex, "ticket key"), secret, "ticket key")
    if len(key) not in _AES_KEY_SIZES:
        raise CryptoError(f"ticket key decrypted to {len(key)} bytes, not an AES key (wrong access secret?)")
    return key


def encrypt_ticket_key(key: bytes, access_secret: str) -> str:
    """Inverse of :func:`decrypt_ticket_key`: upper-case hex ``ticket_key`` a server issues for ``key``."""
    _aes_key(key, "ticket key")
    return _ecb_encrypt(bytes(key), _aes_key(access_secret, "access secret")).hex().upper()


def encrypt_password(pin: str, key: bytes) -> str:
    """The ``password`` of open-door: AES-ECB(key from the ticket, PKCS7) over the PIN, upper-case hex."""
    if not isinstance(pin, str):
        raise CryptoError(f"the PIN must be a string, got {type(pin).__name__}")
    return _ecb_encrypt(pin.encode("utf-8"), _aes_key(key, "ticket key")).hex().upper()


def decrypt_password(password_hex: str, key: bytes) -> str:
    """Inverse of :func:`encrypt_password` (what the lock side does with the ``password`` field)."""
    plaintext = _ecb_decrypt(_from_hex(password_hex, "password"), _aes_key(key, "ticket key"), "password")
    try:
        return plaintext.decode("utf-8")
    except UnicodeDecodeError:
        raise CryptoError("password did not decrypt to text (wrong key?)") from None


# -- media files ---------------------------------------------------------------------------------------------


class MediaDecryptor:
    """Decrypts a media container fed in chunks of any size.

    ``feed`` returns the plaintext that can already be released; ``finish`` checks the container was
    complete, strips the padding and returns the rest. Only the last block is held back (it carries the
    padding), so memory use stays at one chunk however large the file is.
    """

    def __init__(self, file_key: str) -> None:
        self._key = _aes_key(file_key, "file key")
        self._header = bytearray()
        self._pending = bytearray()
        self._cipher: Any = None
        self._ciphertext_size = 0
        self._finished = False

    def __repr__(self) -> str:
        return f"MediaDecryptor(<file key hidden>, ciphertext_bytes={self._ciphertext_size})"

    def feed(self, chunk: bytes) -> bytes:
        if self._finished:
            raise CryptoError("media decryptor already finished")
        data = memoryview(chunk)
        if len(self._header) < MEDIA_HEADER_SIZE:
            take = MEDIA_HEADER_SIZE - len(self._header)
            self._header += data[:take]
            data = data[take:]
            if len(self._header) < MEDIA_HEADER_SIZE:
                return b""
        self._pending += data
        self._ciphertext_size += len(data)
        # Keep at least one whole block back: whichever block turns out to be last carries the padding.
        ready = (len(self._pending) - 1) // _BLOCK * _BLOCK
        if ready <= 0:
            return b""
        block, self._pending = bytes(self._pending[:ready]), self._pending[ready:]
        return self._decrypt(block)

    def finish(self) -> bytes:
        if self._finished:
            raise CryptoError("media decryptor already finished")
        self._finished = True
        if len(self._header) < MEDIA_HEADER_SIZE:
            raise CryptoError(
                f"media file truncated: {len(self._header)} of {MEDIA_HEADER_SIZE} header bytes"
            )
        if not self._ciphertext_size:
            raise CryptoError("media file has no ciphertext after its header")
        if self._ciphertext_size % _BLOCK:
            raise CryptoError(
                f"media ciphertext length {self._ciphertext_size} is not a multiple of {_BLOCK} (truncated?)"
            )
        return _unpad(self._decrypt(bytes(self._pending)), "media file")

    @property
    def version(self) -> int | None:
        """The container version from the header, once the header has been read."""
        if len(self._header) < 4:
            return None
        return int(struct.unpack_from("<i", self._header, 0)[0])

    def _decrypt(self, block: bytes) -> bytes:
        if self._cipher is None:
            self._cipher = AES.new(self._key, AES.MODE_CBC, iv=bytes(self._header[_IV_SLICE]))
        return bytes(self._cipher.decrypt(block))


def decrypt_media(blob: bytes, file_key: str) -> bytes:
    """Plaintext of a downloaded media file: 64-byte header with the IV, then AES-CBC ciphertext with PKCS7.

    ``file_key`` is the 16-character ``file_key`` Tuya returns with the file's URL.
    """
    decryptor = MediaDecryptor(file_key)
    head = decryptor.feed(bytes(blob))
    return head + decryptor.finish()


def encrypt_media(data: bytes, file_key: str, *, iv: bytes | None = None) -> bytes:
    """Inverse of :func:`decrypt_media`: a version-1 container with a random IV unless ``iv`` is given."""
    key = _aes_key(file_key, "file key")
    if iv is None:
        iv = os.urandom(_BLOCK)
    if len(iv) != _BLOCK:
        raise CryptoError(f"media IV must be {_BLOCK} bytes, got {len(iv)}")
    header = struct.pack("<i", _MEDIA_VERSION) + bytes(iv) + bytes(MEDIA_HEADER_SIZE - 4 - _BLOCK)
    return header + bytes(AES.new(key, AES.MODE_CBC, iv=bytes(iv)).encrypt(_pad(bytes(data))))


# -- push messages -------------------------------------------------------------------------------------------


def _message_key(access_secret: str) -> bytes:
    if not isinstance(access_secret, str) or len(access_secret) < _MESSAGE_KEY_SLICE.stop:
        raise CryptoError("access secret too short to derive the message key (needs at least 24 characters)")
    return _aes_key(access_secret[_MESSAGE_KEY_SLICE], "message key")


def _cipher_mode(em: str | None) -> str:
    mode = (em or "aes_ecb").strip().lower()
    if mode not in _MESSAGE_MODES:
        raise CryptoError(f"unknown message encryption {em!r} (expected 'aes_gcm' or 'aes_ecb')")
    return mode


_MESSAGE_MODES = frozenset({"aes_ecb", "aes_gcm"})
#: What an ``em`` property usually holds, mapped without string work on the hot path.
_EXACT_MODES = {None: "aes_ecb", "": "aes_ecb", "aes_ecb": "aes_ecb", "aes_gcm": "aes_gcm"}


class MessageCipher:
    """Opens the ``data`` of push messages encrypted with one key; build it once and reuse it.

    AES-GCM goes through ``cryptography``'s ``AESGCM``, one object per key serving every nonce (pycryptodome must
    build a cipher object per nonce, which cost more than the rest of decoding a message); AES-ECB through
    pycryptodome, one cipher object for every message (ECB keeps no state between blocks).
    :func:`decrypt_message` and the stream's decoder both decrypt here.
    """

    __slots__ = ("_ecb", "_gcm")

    def __init__(self, key: bytes) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        raw = _aes_key(key, "message key")
        self._gcm = AESGCM(raw)
        self._ecb: Any = AES.new(raw, AES.MODE_ECB)

    @classmethod
    def for_secret(cls, access_secret: str) -> MessageCipher:
        """The cipher of a project: the key is characters 8 to 24 of its access secret."""
        return cls(_message_key(access_secret))

    def __repr__(self) -> str:
        return "MessageCipher(<key hidden>)"

    def decrypt(self, data_b64: str | bytes, em: str | None = None) -> bytes:
        """The plaintext of a message's base64 ``data``; ``em`` as in :func:`decrypt_message`."""
        mode = _EXACT_MODES.get(em) if em is None or type(em) is str else None
        if mode is None:
            mode = _cipher_mode(em)
        try:
            # Strict: an alphabet character short, a stray byte or misplaced padding is an error, not skipped.
            raw = binascii.a2b_base64(data_b64, strict_mode=True)
        except (binascii.Error, ValueError, TypeError):
            raise CryptoError("message data is not valid base64") from None
        if mode == "aes_gcm":
            return self.open_gcm(raw)
        return self.open_ecb(raw)

    def open_gcm(self, raw: bytes) -> bytes:
        """12-byte nonce, ciphertext, 16-byte tag, no associated data (Tuya's layout) -> plaintext."""
        if len(raw) < _GCM_NONCE_SIZE + _GCM_TAG_SIZE:
            raise CryptoError(f"message data too short for AES-GCM: {len(raw)} bytes")
        view = memoryview(raw)
        try:
            return self._gcm.decrypt(view[:_GCM_NONCE_SIZE], view[_GCM_NONCE_SIZE:], None)
        except _invalid_tag():
            raise CryptoError(
                "message authentication failed (tampered data or wrong access secret)"
            ) from None

    def open_ecb(self, raw: bytes) -> bytes:
        """Whole AES blocks with PKCS7 padding -> plaintext, the padding checked and stripped."""
        _check_ciphertext(raw, "message data")
        return _unpad(self._ecb.decrypt(raw), "message data")


_InvalidTag: type[Exception] | None = None


def _invalid_tag() -> type[Exception]:
    global _InvalidTag
    if _InvalidTag is None:
        from cryptography.exceptions import InvalidTag

        _InvalidTag = InvalidTag
    return _InvalidTag


def decrypt_message(data_b64: str | bytes, access_secret: str, em: str | None = None) -> bytes:
    """The plaintext of a Pulsar envelope's ``data``.

    ``em`` is the message property of the same name: ``"aes_gcm"`` (12-byte nonce, ciphertext, 16-byte tag,
    no associated data) or ``"aes_ecb"``, also meant by a missing or empty ``em`` (PKCS7, unpadded properly).
    The key is characters 8 to 24 of the access secret. To open many messages, build a :class:`MessageCipher`
    once instead.
    """
    _cipher_mode(em)
    return MessageCipher.for_secret(access_secret).decrypt(data_b64, em)


def encrypt_message(plaintext: bytes, access_secret: str, em: str | None = None) -> str:
    """Inverse of :func:`decrypt_message`: base64 ``data`` for an envelope, GCM with a random nonce or ECB."""
    mode = _cipher_mode(em)
    key = _message_key(access_secret)
    if mode == "aes_ecb":
        raw = _ecb_encrypt(bytes(plaintext), key)
    else:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        nonce = os.urandom(_GCM_NONCE_SIZE)
        raw = nonce + AESGCM(key).encrypt(nonce, bytes(plaintext), None)
    return base64.b64encode(raw).decode("ascii")


def pulsar_password(access_id: str, access_secret: str) -> str:
    """The Pulsar ``auth1`` password: ``md5hex(access_id + md5hex(access_secret))[8:24]``."""
    inner = hashlib.md5(access_secret.encode("utf-8")).hexdigest()
    return hashlib.md5((access_id + inner).encode("utf-8")).hexdigest()[8:24]
