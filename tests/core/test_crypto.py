"""Known-answer vectors, round trips and corrupt input for lockcloud.crypto."""

from __future__ import annotations

import base64
import itertools
import os
import random
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lockcloud import CryptoError
from lockcloud.crypto import (
    MEDIA_HEADER_SIZE,
    MediaDecryptor,
    decrypt_media,
    decrypt_message,
    decrypt_password,
    decrypt_ticket_key,
    encrypt_media,
    encrypt_message,
    encrypt_password,
    encrypt_ticket_key,
    pulsar_password,
)

# Vectors from Tuya's password-ticket and message-service documents (their credentials).
DOC_ACCESS_ID = "1KAD46OrT9HafiKdsXeg"
DOC_SECRET = "4OHBOnWOqaEC1mWXOpVL3yV50s0qGSRC"
DOC_TICKET_KEY = "E8EACE19C6075C139FE8452771A6CF7F9173247C8D56147E406EBA159F6E577A"
DOC_KEY = b"0123456789abcdef"
DOC_PIN_CIPHERTEXT = "0FCF43FCEBC5AC8B66C48F5CB7C25B02"

# Produced with the openssl command line, independently of pycryptodome:
#   printf 'lockcloud cover image bytes\n' | openssl enc -aes-128-cbc -K <hex u8kstrtjm7qun83q> -iv <hex IV>
MEDIA_KEY = "u8kstrtjm7qun83q"
MEDIA_IV = b"Ab3dEf7hIj1lMn5p"
MEDIA_PLAINTEXT = b"lockcloud cover image bytes\n"
MEDIA_CIPHERTEXT = bytes.fromhex("3758050efa8faafa2e174e458cab4f3485dfa26372e1b6f4319b0a239b4026db")
MEDIA_BLOB = (1).to_bytes(4, "little") + MEDIA_IV + bytes(44) + MEDIA_CIPHERTEXT

MESSAGE_PLAINTEXT = b'{"bizCode":"doorUnlockMethodStatus","devId":"vdevo1"}'
#   printf '<MESSAGE_PLAINTEXT>' | openssl enc -aes-128-ecb -K <hex of DOC_SECRET[8:24]> | base64
MESSAGE_ECB = "LWCUTxCeOb23YsNrZGNOqwpFo1U27U8OhttqzejY6Htqo0K7H9Uuwv6TbQSqjOAT2yCT45NoWoSOz5Er2oCa6g=="
# AES-128-GCM, key DOC_SECRET[8:24], nonce 000102..0b, no AAD: nonce || ciphertext || tag.
MESSAGE_GCM = "AAECAwQFBgcICQoLwMb0fNhZhi23VwygNytxI2eAbgxY36inV2vSiVZ1J9Jt9AmuAWO9CEkuoSCHgkQwodFNjn9bpu+mVlUfFZY0pwfGbUZG"


def random_text_key(length: int = 16) -> str:
    rng = random.SystemRandom()
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(length))


def tamper(data: bytes, index: int) -> bytes:
    index %= len(data)
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


def b64_tamper(data_b64: str, index: int) -> str:
    return base64.b64encode(tamper(base64.b64decode(data_b64), index)).decode()


# -- known answers -------------------------------------------------------------------------------------------------


def test_ticket_key_vector() -> None:
    assert decrypt_ticket_key(DOC_TICKET_KEY, DOC_SECRET) == DOC_KEY


def test_ticket_key_accepts_lower_case_hex() -> None:
    assert decrypt_ticket_key(DOC_TICKET_KEY.lower(), DOC_SECRET) == DOC_KEY


def test_encrypt_ticket_key_vector() -> None:
    assert encrypt_ticket_key(DOC_KEY, DOC_SECRET) == DOC_TICKET_KEY


def test_password_vector() -> None:
    assert encrypt_password("123456", DOC_KEY) == DOC_PIN_CIPHERTEXT


def test_decrypt_password_vector() -> None:
    assert decrypt_password(DOC_PIN_CIPHERTEXT, DOC_KEY) == "123456"


def test_whole_ticket_flow_vector() -> None:
    assert encrypt_password("123456", decrypt_ticket_key(DOC_TICKET_KEY, DOC_SECRET)) == DOC_PIN_CIPHERTEXT


def test_pulsar_password_vector() -> None:
    assert pulsar_password(DOC_ACCESS_ID, DOC_SECRET) == "7e3ee9916b8f32b8"


def test_media_vector() -> None:
    assert decrypt_media(MEDIA_BLOB, MEDIA_KEY) == MEDIA_PLAINTEXT


def test_encrypt_media_vector() -> None:
    assert encrypt_media(MEDIA_PLAINTEXT, MEDIA_KEY, iv=MEDIA_IV) == MEDIA_BLOB


def test_media_version_field_is_not_enforced() -> None:
    # Tuya's own Java demo writes zeros where the version goes; the decoder must not depend on it.
    blob = bytes(4) + MEDIA_BLOB[4:]
    assert decrypt_media(blob, MEDIA_KEY) == MEDIA_PLAINTEXT


@pytest.mark.parametrize("em", [None, "", "aes_ecb", "AES_ECB"])
def test_message_ecb_vector(em: str | None) -> None:
    assert decrypt_message(MESSAGE_ECB, DOC_SECRET, em) == MESSAGE_PLAINTEXT


def test_message_accepts_bytes() -> None:
    assert decrypt_message(MESSAGE_ECB.encode(), DOC_SECRET) == MESSAGE_PLAINTEXT


def test_message_gcm_vector() -> None:
    assert decrypt_message(MESSAGE_GCM, DOC_SECRET, "aes_gcm") == MESSAGE_PLAINTEXT


def test_message_ecb_unpads_every_length() -> None:
    # The official Python SDK does not strip the padding: every length must come back exact here.
    for length in range(40):
        plaintext = bytes(range(length))
        assert decrypt_message(encrypt_message(plaintext, DOC_SECRET), DOC_SECRET) == plaintext


# -- round trips ---------------------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    key=st.binary(min_size=16, max_size=16),
    secret=st.text(string.ascii_letters + string.digits, min_size=32, max_size=32),
)
def test_ticket_key_round_trip(key: bytes, secret: str) -> None:
    assert decrypt_ticket_key(encrypt_ticket_key(key, secret), secret) == key


@settings(max_examples=60, deadline=None)
@given(pin=st.text(string.digits, min_size=1, max_size=40), key=st.binary(min_size=16, max_size=16))
def test_password_round_trip(pin: str, key: bytes) -> None:
    encrypted = encrypt_password(pin, key)
    assert encrypted == encrypted.upper()
    assert decrypt_password(encrypted, key) == pin


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=300))
def test_media_round_trip(data: bytes) -> None:
    key = random_text_key()
    blob = encrypt_media(data, key)
    assert len(blob) >= MEDIA_HEADER_SIZE + 16
    assert (len(blob) - MEDIA_HEADER_SIZE) % 16 == 0
    assert decrypt_media(blob, key) == data


def test_encrypt_media_uses_fresh_iv() -> None:
    assert encrypt_media(b"same", MEDIA_KEY) != encrypt_media(b"same", MEDIA_KEY)


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=500), cuts=st.lists(st.integers(min_value=0, max_value=700), max_size=8))
def test_media_streaming_matches_one_shot(data: bytes, cuts: list[int]) -> None:
    blob = encrypt_media(data, MEDIA_KEY, iv=MEDIA_IV)
    bounds = sorted({0, len(blob), *(c for c in cuts if c < len(blob))})
    decryptor = MediaDecryptor(MEDIA_KEY)
    out = b"".join(decryptor.feed(blob[a:b]) for a, b in itertools.pairwise(bounds))
    out += decryptor.finish()
    assert out == data
    assert decryptor.version == 1


def test_media_streaming_releases_data_before_the_end() -> None:
    data = os.urandom(4096)
    blob = encrypt_media(data, MEDIA_KEY)
    decryptor = MediaDecryptor(MEDIA_KEY)
    first = decryptor.feed(blob[:2048])
    assert first
    assert data.startswith(first)
    assert first + decryptor.feed(blob[2048:]) + decryptor.finish() == data


@pytest.mark.parametrize("em", ["aes_gcm", "aes_ecb", None])
@pytest.mark.parametrize("length", [0, 1, 15, 16, 17, 1000])
def test_message_round_trip(em: str | None, length: int) -> None:
    secret = random_text_key(32)
    plaintext = os.urandom(length)
    assert decrypt_message(encrypt_message(plaintext, secret, em), secret, em) == plaintext


# -- corrupt input -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ticket_key",
    [
        "zz" + DOC_TICKET_KEY[2:],  # bad hex
        DOC_TICKET_KEY[:-1],  # odd length
        DOC_TICKET_KEY[:-2],  # not a multiple of 16 bytes
        "",  # empty
        DOC_TICKET_KEY[:32],  # first block only: padding lost
    ],
)
def test_ticket_key_corrupt(ticket_key: str) -> None:
    with pytest.raises(CryptoError):
        decrypt_ticket_key(ticket_key, DOC_SECRET)


def test_ticket_key_wrong_secret() -> None:
    with pytest.raises(CryptoError) as info:
        decrypt_ticket_key(DOC_TICKET_KEY, "X" * 32)
    assert "X" * 8 not in str(info.value)


def test_ticket_key_wrong_secret_never_yields_a_key() -> None:
    for _ in range(200):
        with pytest.raises(CryptoError):
            decrypt_ticket_key(DOC_TICKET_KEY, random_text_key(32))


@pytest.mark.parametrize("secret", ["", "short", DOC_SECRET[:31], DOC_SECRET + "x"])
def test_ticket_key_bad_secret_length(secret: str) -> None:
    with pytest.raises(CryptoError) as info:
        decrypt_ticket_key(DOC_TICKET_KEY, secret)
    if secret:
        assert secret not in str(info.value)


def test_ticket_key_not_a_string() -> None:
    with pytest.raises(CryptoError):
        decrypt_ticket_key(b"\x00" * 32, DOC_SECRET)  # type: ignore[arg-type]


def test_ticket_key_bad_padding() -> None:
    bad = encrypt_ticket_key(DOC_KEY, DOC_SECRET)
    # Re-encrypt a block whose last byte is not valid PKCS7 padding.
    from Crypto.Cipher import AES

    forged = AES.new(DOC_SECRET.encode(), AES.MODE_ECB).encrypt(DOC_KEY + b"\x00" * 15 + b"\x05").hex()
    with pytest.raises(CryptoError, match="padding"):
        decrypt_ticket_key(forged, DOC_SECRET)
    assert decrypt_ticket_key(bad, DOC_SECRET) == DOC_KEY


def test_ticket_key_decrypting_to_non_key_length() -> None:
    from Crypto.Cipher import AES

    forged = AES.new(DOC_SECRET.encode(), AES.MODE_ECB).encrypt(b"0123456789" + b"\x06" * 6).hex()
    with pytest.raises(CryptoError, match="not an AES key"):
        decrypt_ticket_key(forged, DOC_SECRET)


@pytest.mark.parametrize("key", [b"", b"short", b"x" * 17])
def test_password_bad_key(key: bytes) -> None:
    with pytest.raises(CryptoError):
        encrypt_password("123456", key)
    with pytest.raises(CryptoError):
        decrypt_password(DOC_PIN_CIPHERTEXT, key)


def test_password_not_a_string() -> None:
    with pytest.raises(CryptoError):
        encrypt_password(123456, DOC_KEY)  # type: ignore[arg-type]


@pytest.mark.parametrize("ciphertext", ["nothex", DOC_PIN_CIPHERTEXT[:-2], ""])
def test_decrypt_password_corrupt(ciphertext: str) -> None:
    with pytest.raises(CryptoError):
        decrypt_password(ciphertext, DOC_KEY)


def test_decrypt_password_wrong_key_never_leaks_the_pin() -> None:
    errors: list[CryptoError] = []
    for _ in range(50):
        try:
            result = decrypt_password(DOC_PIN_CIPHERTEXT, os.urandom(16))
        except CryptoError as exc:
            errors.append(exc)
        else:
            assert result != "123456"
    assert errors
    for error in errors:
        assert "123456" not in str(error)
        # Nothing lower-level (a UnicodeDecodeError quoting decrypted bytes) may travel along.
        assert error.__cause__ is None
        assert error.__context__ is None or error.__suppress_context__


def test_encrypt_ticket_key_bad_key() -> None:
    with pytest.raises(CryptoError):
        encrypt_ticket_key(b"x" * 5, DOC_SECRET)


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        MEDIA_BLOB[:10],  # truncated inside the header
        MEDIA_BLOB[:MEDIA_HEADER_SIZE],  # header only
        MEDIA_BLOB[:-1],  # ciphertext not a multiple of 16
        MEDIA_BLOB[:-16],  # last block lost: padding gone
        MEDIA_BLOB + b"\x00" * 5,  # trailing garbage
        tamper(MEDIA_BLOB, len(MEDIA_BLOB) - 1),  # last byte flipped: bad padding
    ],
    ids=["empty", "short-header", "header-only", "unaligned", "last-block-lost", "trailing", "bad-padding"],
)
def test_media_corrupt(blob: bytes) -> None:
    with pytest.raises(CryptoError):
        decrypt_media(blob, MEDIA_KEY)


def test_media_wrong_key() -> None:
    # A wrong key gives random padding; over many keys nearly all fail and none returns the plaintext.
    failures = 0
    for _ in range(100):
        try:
            assert decrypt_media(MEDIA_BLOB, random_text_key()) != MEDIA_PLAINTEXT
        except CryptoError:
            failures += 1
    assert failures >= 90


@pytest.mark.parametrize("key", ["", "tooshort", "x" * 17])
def test_media_bad_key_length(key: str) -> None:
    with pytest.raises(CryptoError):
        decrypt_media(MEDIA_BLOB, key)
    with pytest.raises(CryptoError):
        encrypt_media(b"x", key)


def test_encrypt_media_bad_iv() -> None:
    with pytest.raises(CryptoError):
        encrypt_media(b"x", MEDIA_KEY, iv=b"short")


def test_media_decryptor_cannot_be_reused() -> None:
    decryptor = MediaDecryptor(MEDIA_KEY)
    decryptor.feed(MEDIA_BLOB)
    decryptor.finish()
    with pytest.raises(CryptoError):
        decryptor.feed(b"more")
    with pytest.raises(CryptoError):
        decryptor.finish()


def test_media_decryptor_repr_hides_key() -> None:
    assert MEDIA_KEY not in repr(MediaDecryptor(MEDIA_KEY))


@pytest.mark.parametrize(
    ("data", "em"),
    [
        ("not base64!!", None),  # bad base64
        ("QUJD", None),  # 3 bytes: not a whole block
        ("", None),  # empty
        (MESSAGE_ECB[:-4], None),  # base64 of a truncated ciphertext
        (b64_tamper(MESSAGE_ECB, -1), "aes_ecb"),  # last block changed: bad padding
        (b64_tamper(MESSAGE_GCM, -1), "aes_gcm"),  # tag tampered
        (b64_tamper(MESSAGE_GCM, 20), "aes_gcm"),  # ciphertext tampered
        (b64_tamper(MESSAGE_GCM, 0), "aes_gcm"),  # nonce tampered
        (base64.b64encode(b"\x00" * 27).decode(), "aes_gcm"),  # too short for nonce + tag
        (MESSAGE_GCM, None),  # GCM data read as ECB
        (MESSAGE_ECB, "aes_gcm"),  # ECB data read as GCM
        (MESSAGE_ECB, "aes_cbc"),  # unknown cipher
    ],
)
def test_message_corrupt(data: str, em: str | None) -> None:
    with pytest.raises(CryptoError):
        decrypt_message(data, DOC_SECRET, em)


@pytest.mark.parametrize("em", ["aes_gcm", "aes_ecb"])
def test_message_wrong_secret(em: str) -> None:
    data = MESSAGE_GCM if em == "aes_gcm" else MESSAGE_ECB
    wrong = DOC_SECRET[:8] + "Z" * 16 + DOC_SECRET[24:]
    with pytest.raises(CryptoError) as info:
        decrypt_message(data, wrong, em)
    assert "Z" * 16 not in str(info.value)


def test_message_secret_too_short() -> None:
    with pytest.raises(CryptoError) as info:
        decrypt_message(MESSAGE_ECB, "abcdefgh1234")
    assert "abcdefgh1234" not in str(info.value)
    with pytest.raises(CryptoError):
        encrypt_message(b"x", "abcdefgh1234")


def test_encrypt_message_unknown_cipher() -> None:
    with pytest.raises(CryptoError):
        encrypt_message(b"x", DOC_SECRET, "rot13")


def test_errors_are_library_errors_not_bare_value_errors() -> None:
    with pytest.raises(CryptoError) as info:
        decrypt_ticket_key("zz", DOC_SECRET)
    assert not isinstance(info.value, ValueError)


def test_decrypt_password_non_text_hides_the_decoder_error() -> None:
    from Crypto.Cipher import AES

    ciphertext = AES.new(DOC_KEY, AES.MODE_ECB).encrypt(b"\xff\xfe12" + b"\x0c" * 12).hex()
    with pytest.raises(CryptoError, match="did not decrypt to text") as info:
        decrypt_password(ciphertext, DOC_KEY)
    assert info.value.__suppress_context__
    assert "0xff" not in str(info.value)
