"""Secrets at rest: encrypted with configured keys, rotatable, refused with a clear error."""

import pytest
from cryptography.fernet import Fernet

from kernel.encryption import DecryptionFailed, decrypt_json, encrypt_json

VALUE = {"api_key": "sk-upstream-123", "region": "cn-beijing"}


def test_a_round_trip_hides_the_plaintext():
    token = encrypt_json(VALUE)
    assert "sk-upstream-123" not in token
    assert decrypt_json(token) == VALUE
    assert encrypt_json(VALUE) != token  # a fresh IV every time


def test_the_default_key_is_derived_from_the_secret_key(settings):
    token = encrypt_json(VALUE)
    settings.SECRET_KEY = "another-" + "x" * 60
    with pytest.raises(DecryptionFailed, match="MINISTUDIO_ENCRYPTION_KEYS"):
        decrypt_json(token)


def test_keys_rotate_by_prepending(settings):
    settings.ENCRYPTION_KEYS = ["old passphrase"]
    old_token = encrypt_json(VALUE)
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode(), "old passphrase"]
    assert decrypt_json(old_token) == VALUE  # still readable
    new_token = encrypt_json(VALUE)
    settings.ENCRYPTION_KEYS = ["old passphrase"]
    with pytest.raises(DecryptionFailed):
        decrypt_json(new_token)  # written with the new key


def test_nothing_stored_reads_as_empty():
    assert decrypt_json("") == {}


def test_a_corrupted_token_is_refused():
    token = encrypt_json(VALUE)
    with pytest.raises(DecryptionFailed):
        decrypt_json(token[:-4] + "AAAA")
