"""Paging of the console API's lists: one bounded schema, so a page request out of range
answers 400 before it reaches the database (an offset past Postgres' bigint answered 500).

``Paging`` is the ``@paginate`` class of offset-paged lists (documents, chunks, runs);
``PageSize`` is the ``limit`` that cursor-paged lists (batches, files) share with it.
"""

from typing import Annotated

from ninja import Field, Schema
from ninja.pagination import LimitOffsetPagination

MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100
#: Far past any list a workspace holds, and far inside Postgres' OFFSET range.
MAX_OFFSET = 1_000_000_000

PageSize = Annotated[
    int, Field(ge=1, le=MAX_PAGE_SIZE, description=f"Items per page, 1 to {MAX_PAGE_SIZE}.")
]


class PageQuery(Schema):
    limit: PageSize = DEFAULT_PAGE_SIZE
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="Items to skip.")


class Paging(LimitOffsetPagination):
    """Limit/offset paging with the bounds of ``PageQuery``."""

    Input = PageQuery

    def __init__(self, **kwargs) -> None:
        super().__init__(max_limit=MAX_PAGE_SIZE, **kwargs)
