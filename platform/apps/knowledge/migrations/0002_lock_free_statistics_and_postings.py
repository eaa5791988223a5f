"""Full-text statistics as sums of changes (no row that every store of a knowledge base
updates), and impact-ordered postings (apps.knowledge.fulltext). Existing knowledge bases
keep their statistics and get their postings built here."""

import django.db.models.deletion
from django.db import migrations, models

_KEEP_TOTALS = """
INSERT INTO knowledge_corpusstatistic (knowledge_base_id, chunks, words, impact_length)
SELECT id, indexed_chunks, indexed_words, indexed_words::float8 / indexed_chunks
FROM knowledge_knowledgebase WHERE indexed_chunks > 0
"""

# k1 = 0.9, b = 0.4: apps.knowledge.fulltext's BM25_K1 / BM25_B, as they were written.
_BUILD_POSTINGS = """
INSERT INTO knowledge_posting (term_key, impact, chunk_id)
SELECT knowledge_term_key(c.knowledge_base_id, u.lexeme),
       t.tf / (t.tf + 0.9 * (1 - 0.4 + 0.4 * c.search_length / s.impact_length)), c.id
FROM knowledge_chunk c
JOIN knowledge_corpusstatistic s ON s.knowledge_base_id = c.knowledge_base_id
CROSS JOIN LATERAL unnest(c.search_vector) AS u
CROSS JOIN LATERAL (SELECT coalesce(array_length(u.positions, 1), 1)::float8 AS tf) AS t
"""

# md5, not hashtext: its value is fixed forever, so keys survive a Postgres upgrade.
_TERM_KEY = """
CREATE FUNCTION knowledge_term_key(knowledge_base_id uuid, term text) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT ('x' || left(md5($1::text || ' ' || $2), 16))::bit(64)::bigint $$
"""

_CASCADE = """
ALTER TABLE knowledge_posting ADD CONSTRAINT knowledge_posting_chunk_cascade
FOREIGN KEY (chunk_id) REFERENCES knowledge_chunk (id) ON DELETE CASCADE;
ALTER TABLE knowledge_freshposting ADD CONSTRAINT knowledge_freshposting_chunk_cascade
FOREIGN KEY (chunk_id) REFERENCES knowledge_chunk (id) ON DELETE CASCADE
"""


class Migration(migrations.Migration):
    dependencies = [
        ("knowledge", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="CorpusStatistic",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("chunks", models.BigIntegerField(default=0)),
                ("words", models.BigIntegerField(default=0)),
                ("impact_length", models.FloatField(null=True)),
                (
                    "knowledge_base",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="knowledge.knowledgebase",
                    ),
                ),
            ],
        ),
        migrations.RunSQL(_KEEP_TOTALS, migrations.RunSQL.noop),
        migrations.RemoveField(model_name="knowledgebase", name="indexed_chunks"),
        migrations.RemoveField(model_name="knowledgebase", name="indexed_words"),
        migrations.RemoveConstraint(model_name="termstatistic", name="knowledge_term_once"),
        migrations.AddIndex(
            model_name="termstatistic",
            index=models.Index(fields=["knowledge_base", "term"], name="knowledge_term_sum"),
        ),
        migrations.RunSQL(_TERM_KEY, "DROP FUNCTION knowledge_term_key(uuid, text)"),
        migrations.CreateModel(
            name="Posting",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "term_key",
                        "impact",
                        "chunk",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("term_key", models.BigIntegerField()),
                ("impact", models.FloatField()),
                (
                    "chunk",
                    models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="knowledge.chunk",
                    ),
                ),
            ],
            options={"abstract": False},
        ),
        migrations.CreateModel(
            name="FreshPosting",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "term_key",
                        "impact",
                        "chunk",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("term_key", models.BigIntegerField()),
                ("impact", models.FloatField()),
                (
                    "chunk",
                    models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="knowledge.chunk",
                    ),
                ),
            ],
            options={"abstract": False},
        ),
        migrations.RunSQL(_CASCADE, migrations.RunSQL.noop),
        migrations.RunSQL(_BUILD_POSTINGS + " ORDER BY 1, 2, 3", migrations.RunSQL.noop),
    ]
