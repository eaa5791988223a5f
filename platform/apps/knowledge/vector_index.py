"""One HNSW index per knowledge base, on the shared ``embedding`` column.

The column has no fixed dimension (knowledge bases use models of different sizes), and
pgvector can index only a fixed one, so each knowledge base gets an expression + partial
index: ``USING hnsw ((embedding::vector(N)) vector_cosine_ops) WHERE knowledge_base_id =
'<id>'``. A query uses it only when it repeats the same cast and predicate, which
``nearest_sql`` does. DDL is composed with ``psycopg.sql`` identifiers and literals, never
string formatting.
"""

from django.db import connection
from psycopg import sql

from apps.knowledge.models import Chunk, Document, KnowledgeBase

#: pgvector's HNSW limit for ``vector``.
MAX_INDEXED_DIMENSION = 2000


def index_name(knowledge_base: KnowledgeBase) -> str:
    return f"knowledge_kb_{knowledge_base.pk.hex}_hnsw"


def create_index(knowledge_base: KnowledgeBase) -> None:
    """Create the knowledge base's HNSW index (in the caller's transaction)."""
    if knowledge_base.embedding_dimension > MAX_INDEXED_DIMENSION:
        return  # exact search only: pgvector cannot index more dimensions
    statement = sql.SQL(
        "CREATE INDEX IF NOT EXISTS {name} ON {table} USING hnsw "
        "((embedding::vector({dimension})) vector_cosine_ops) "
        "WHERE knowledge_base_id = {knowledge_base}"
    ).format(
        name=sql.Identifier(index_name(knowledge_base)),
        table=sql.Identifier(Chunk._meta.db_table),
        dimension=sql.Literal(knowledge_base.embedding_dimension),
        knowledge_base=sql.Literal(str(knowledge_base.pk)),
    )
    with connection.cursor() as cursor:
        cursor.execute(statement)


def drop_index(knowledge_base: KnowledgeBase) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("DROP INDEX IF EXISTS {name}").format(
                name=sql.Identifier(index_name(knowledge_base))
            )
        )


def index_exists(knowledge_base: KnowledgeBase) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_indexes WHERE indexname = %s", [index_name(knowledge_base)]
        )
        return cursor.fetchone() is not None


def nearest_sql(knowledge_base: KnowledgeBase, where: sql.Composable, limit: int) -> sql.Composed:
    """Chunk ids and cosine distances nearest to the query vector (the one ``%s`` param),
    with the index's exact cast and predicate. ``where`` adds filters (on ``c`` and the
    joined document ``d``)."""
    dimension = sql.Literal(knowledge_base.embedding_dimension)
    return sql.SQL(
        "SELECT c.id, (c.embedding::vector({dimension})) <=> %s::vector({dimension}) AS distance "
        "FROM {chunks} c JOIN {documents} d ON d.id = c.document_id "
        "WHERE c.knowledge_base_id = {knowledge_base} AND {where} "
        "ORDER BY (c.embedding::vector({dimension})) <=> %s::vector({dimension}) "
        "LIMIT {limit}"
    ).format(
        dimension=dimension,
        chunks=sql.Identifier(Chunk._meta.db_table),
        documents=sql.Identifier(Document._meta.db_table),
        knowledge_base=sql.Literal(str(knowledge_base.pk)),
        where=where,
        limit=sql.Literal(limit),
    )
