"""Keeping secrets out of what a plugin or the platform shows: error texts, tool results.

``scrub`` replaces every occurrence of a secret, and of its URL-encoded forms (a key sent
in a query string comes back encoded in error messages), with ``***``, in a string or in
the strings of nested lists and dicts.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar
from urllib.parse import quote, quote_plus

#: What a secret is replaced with.
MASK = "***"

T = TypeVar("T")


def encoded_forms(secret: str) -> set[str]:
    """``secret`` as it is, percent-encoded (``quote``) and form-encoded (``quote_plus``)."""
    return {form for form in {secret, quote(secret, safe=""), quote_plus(secret)} if form}


def scrub(value: T, secrets: Iterable[str | None], *, min_length: int = 1) -> T:
    """``value`` with every secret (and its encoded forms) replaced by ``***``.

    ``value`` is a string, or a list or dict whose strings (keys included) are scrubbed,
    however deep; anything else is returned as it is. Secrets that are None, empty or
    shorter than ``min_length`` are left alone (masking a two-letter "key" would garble
    any text). Longer forms are replaced first, so that a secret's encoded form is not
    half-replaced by a shorter one.
    """
    forms = {
        form
        for secret in secrets
        if secret and len(secret) >= min_length
        for form in encoded_forms(secret)
    }
    if not forms:
        return value
    return _scrubbed(value, sorted(forms, key=len, reverse=True))


def _scrubbed(value: Any, forms: list[str]) -> Any:
    if isinstance(value, str):
        for form in forms:
            value = value.replace(form, MASK)
        return value
    if isinstance(value, list):
        return [_scrubbed(item, forms) for item in value]
    if isinstance(value, dict):
        return {_scrubbed(key, forms): _scrubbed(item, forms) for key, item in value.items()}
    return value
