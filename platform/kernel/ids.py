"""Ids as callers send them: a UUID in any of its spellings, or something that names
nothing (a query by it finds nothing, rather than failing)."""

import uuid
from collections.abc import Iterable


def canonical_uuid(value: object) -> str:
    """``value`` as a UUID's canonical text; ``""`` when it is not a UUID."""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return ""


def valid_uuids(values: Iterable[object]) -> list[str]:
    """The values that are UUIDs, canonical; the others name nothing that exists."""
    return [found for found in (canonical_uuid(value) for value in values) if found]
