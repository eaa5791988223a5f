"""The API key format: ``sk-`` + 48 hex characters.

Only a SHA-256 of the whole key is stored (a key has 192 random bits, so a slow password
hash buys nothing), plus a lookup prefix and the last four characters for display.
"""

import hashlib
import re
import secrets
from dataclasses import dataclass

KEY_PREFIX = "sk-"
_SECRET_HEX_CHARS = 48
PREFIX_LENGTH = len(KEY_PREFIX) + 12
_KEY_PATTERN = re.compile(rf"^{KEY_PREFIX}[0-9a-f]{{{_SECRET_HEX_CHARS}}}$")


@dataclass(frozen=True)
class NewKey:
    plaintext: str
    prefix: str
    secret_hash: str
    last_four: str


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def generate_key() -> NewKey:
    plaintext = KEY_PREFIX + secrets.token_hex(_SECRET_HEX_CHARS // 2)
    return NewKey(
        plaintext=plaintext,
        prefix=plaintext[:PREFIX_LENGTH],
        secret_hash=hash_key(plaintext),
        last_four=plaintext[-4:],
    )


def looks_like_key(candidate: str) -> bool:
    return bool(_KEY_PATTERN.match(candidate))
