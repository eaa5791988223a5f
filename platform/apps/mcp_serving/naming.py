"""The names a workspace's MCP tools and resources go by.

Tool names are derived, never stored: ``search_<knowledge base>`` for each knowledge base
and the app-as-tool name (``app_tools.tool_name``) for each published app, so an app reads
the same to an MCP client as to another app's agent. Names must be unique within the
workspace and fit MCP's rules (letters, digits and ``_``, 64 characters here, what most
clients accept); a clash is settled deterministically: the oldest keeps the plain name and
the others get ``_`` + the first hex characters of their id, so a name moves only when an
older namesake is created or deleted.
"""

import re
import unicodedata
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

MAX_NAME = 64
SEARCH_PREFIX = "search_"
_NOT_NAME = re.compile(r"[^a-z0-9]+")
_ID_CHARS = 8
DOCUMENT_URI = "ministudio://knowledge-bases/{kb}/documents/{doc}"
_DOCUMENT_URI = re.compile(
    r"^ministudio://knowledge-bases/(?P<kb>[0-9a-fA-F-]{32,36})/documents/(?P<doc>[0-9a-fA-F-]{32,36})$"
)


@dataclass(frozen=True)
class Candidate:
    """A thing that wants a tool name: ``base`` is its name as a slug ("" when nothing of
    it was left), ``id`` settles clashes, ``order`` says who is older."""

    base: str
    id: uuid.UUID
    order: tuple


def slug(text: str) -> str:
    """``Reise-Richtlinien 2025`` → ``reise_richtlinien_2025``: accents folded to ASCII,
    anything else that is not a letter or digit collapsed to ``_``."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return _NOT_NAME.sub("_", folded.lower()).strip("_")


def search_base(knowledge_base_name: str) -> str:
    name = slug(knowledge_base_name)[: MAX_NAME - len(SEARCH_PREFIX)].rstrip("_")
    return f"{SEARCH_PREFIX}{name}" if name else ""


def _suffixed(base: str, id_: uuid.UUID, fallback: str) -> str:
    tail = id_.hex[:_ID_CHARS]
    if not base:
        return f"{fallback}{tail}"
    return f"{base[: MAX_NAME - len(tail) - 1].rstrip('_')}_{tail}"


def assign(candidates: Iterable[tuple[Candidate, str]]) -> dict[uuid.UUID, str]:
    """Unique names for ``candidates`` (each with the prefix to use when its base is
    empty), oldest first; see the module's docstring."""
    ordered = sorted(candidates, key=lambda pair: pair[0].order)
    taken: set[str] = set()
    names: dict[uuid.UUID, str] = {}
    for candidate, fallback in ordered:
        name = candidate.base[:MAX_NAME]
        if not name or name in taken:
            name = _suffixed(candidate.base, candidate.id, fallback)
        stem, extra = name, 0
        while name in taken:  # suffix and all already taken (a name that looks like one)
            extra += 1
            name = f"{stem[: MAX_NAME - len(str(extra)) - 1]}_{extra}"
        taken.add(name)
        names[candidate.id] = name
    return names


def document_uri(knowledge_base_id: uuid.UUID, document_id: uuid.UUID) -> str:
    return DOCUMENT_URI.format(kb=knowledge_base_id, doc=document_id)


def parse_document_uri(uri: str) -> tuple[str, str] | None:
    """``(knowledge_base_id, document_id)`` of a document URI, None for anything else."""
    found = _DOCUMENT_URI.match(uri)
    return (found["kb"], found["doc"]) if found else None
