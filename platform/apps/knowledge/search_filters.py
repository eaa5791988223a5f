"""Which documents a search may return: the filters every retrieval stage applies inside
its own query (a chunk qualifies by its document's tags / metadata), so they never empty
a page of results after the fact."""

from dataclasses import dataclass, field
from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb


@dataclass(frozen=True)
class Filters:
    #: The document has every one of these tags.
    tags: tuple[str, ...] = ()
    #: The document's metadata contains these key/value pairs.
    metadata: dict[str, Any] = field(default_factory=dict)
    document_ids: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.tags or self.metadata or self.document_ids)


def where(filters: Filters) -> tuple[sql.Composable, list[Any]]:
    """The filters as a condition on the joined document ``d``, with its parameters."""
    parts: list[sql.Composable] = [sql.SQL("TRUE")]
    params: list[Any] = []
    if filters.tags:
        parts.append(sql.SQL("d.tags @> %s::varchar[]"))
        params.append(list(filters.tags))
    if filters.metadata:
        parts.append(sql.SQL("d.metadata @> %s"))
        params.append(Jsonb(filters.metadata))
    if filters.document_ids:
        parts.append(sql.SQL("d.id = ANY(%s::uuid[])"))
        params.append(list(filters.document_ids))
    return sql.SQL(" AND ").join(parts), params
