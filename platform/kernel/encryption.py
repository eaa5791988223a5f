"""Encryption at rest for secrets the platform must be able to read back (plugin and
endpoint credentials), as opposed to API keys, which are only ever hashed.

Keys come from ``MINISTUDIO_ENCRYPTION_KEYS`` (comma-separated; the first encrypts, all
decrypt, so keys can be rotated), or else are derived from ``SECRET_KEY``. Each key may be a
Fernet key or any passphrase; passphrases are stretched with HKDF-SHA256.
"""

import base64
import functools
import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from kernel.errors import ApiError


class DecryptionFailed(ApiError):
    """A stored secret cannot be read with the configured keys."""

    status = 409
    code = "SecretUnreadable"


def _fernet_key(material: str) -> bytes:
    try:
        Fernet(material.encode())
        return material.encode()
    except ValueError:
        derived = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"ministudio-at-rest-v1"
        ).derive(material.encode())
        return base64.urlsafe_b64encode(derived)


@functools.cache
def _cipher(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(_fernet_key(key)) for key in keys])


def cipher() -> MultiFernet:
    keys = tuple(settings.ENCRYPTION_KEYS) or (settings.SECRET_KEY,)
    return _cipher(keys)


def encrypt_json(value: dict) -> str:
    return cipher().encrypt(json.dumps(value).encode()).decode()


def decrypt_json(token: str) -> dict:
    if not token:
        return {}
    try:
        return json.loads(cipher().decrypt(token.encode()))
    except InvalidToken:
        raise DecryptionFailed(
            "A stored secret cannot be decrypted: was SECRET_KEY or "
            "MINISTUDIO_ENCRYPTION_KEYS changed without keeping the old key?"
        ) from None
