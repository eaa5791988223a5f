"""Full text at scale: ranking read best first from the postings is the exact BM25
ranking (the filtered scan's), reads far fewer chunks than match a common term, and the
statistics stay exact while two stores into one knowledge base run at the same time."""

import random
import threading
import uuid

import pytest
from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from apps.knowledge import fulltext, tasks, term_statistics
from apps.knowledge.models import Document, DocumentStatus, FreshPosting, KnowledgeBase, Posting
from apps.knowledge.search_filters import Filters
from tests.knowledge.conftest import create_kb
from tests.knowledge.test_full_text import assert_exact

pytestmark = pytest.mark.django_db(transaction=True)

WORDS = [f"word{i}" for i in range(400)]


def add_document(knowledge_base: KnowledgeBase, texts: list[str], *, count: bool = True) -> str:
    """A ready document with these chunk texts, stored as ingestion stores them."""
    document = Document.objects.create(
        workspace=knowledge_base.workspace,
        knowledge_base=knowledge_base,
        name=f"{uuid.uuid4().hex}.txt",
        size=1,
        loader="text",
        checksum=uuid.uuid4().hex,
        storage_key="-",
        status=DocumentStatus.READY,
        queued_at=timezone.now(),
    )
    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO knowledge_chunk (workspace_id, knowledge_base_id, document_id, ordinal,"
            " text, token_count, metadata, search_vector, search_length) "
            "SELECT %s, %s, %s, %s, %s, 1, '{}', v.tsv, "
            "(SELECT coalesce(sum(array_length(u.positions, 1)), 0) FROM unnest(v.tsv) u) "
            "FROM (SELECT to_tsvector('english', %s) AS tsv) v",
            [
                (knowledge_base.workspace_id, knowledge_base.pk, document.pk, i, text, text)
                for i, text in enumerate(texts)
            ],
        )
    if count:
        term_statistics.count_documents([document.pk], knowledge_base.pk)
    return str(document.pk)


def zipf_text(rng: random.Random, common: str) -> str:
    """A chunk of 5 to 60 words drawn with Zipf-like frequencies; ``common`` in 9 of 10."""
    words = rng.choices(
        WORDS, weights=[1 / (i + 1) for i in range(len(WORDS))], k=rng.randint(5, 60)
    )
    if rng.random() < 0.9:
        words += [common] * rng.randint(1, 3)
    rng.shuffle(words)
    return " ".join(words)


@pytest.fixture
def corpus(acme_console, upstream):
    kb = KnowledgeBase.objects.get(pk=create_kb(acme_console)["id"])
    rng = random.Random(7)
    documents = [
        add_document(kb, [zipf_text(rng, "everywhere") for _ in range(150)]) for _ in range(4)
    ]
    return kb, documents


QUERIES = [
    "everywhere",  # in nine chunks of ten
    "word0 word1 everywhere",  # the most common words
    "word399",  # rare
    "word250 word3 everywhere",  # rare, common and near-universal together
    "word17 word18 word19 word20 word21",
]


@pytest.fixture(params=["measured", "score every contender", "read to the end"])
def contenders(request, monkeypatch) -> str:
    """When a round has many contenders, best first either scores them or reads deeper
    (``fulltext._most_contenders``): each way must give the exact ranking."""
    if request.param == "score every contender":
        monkeypatch.setattr(fulltext, "_most_contenders", lambda limit, read: 10**9)
    elif request.param == "read to the end":
        monkeypatch.setattr(fulltext, "_most_contenders", lambda limit, read: 1)
    return request.param


@pytest.mark.parametrize("query", QUERIES)
def test_reading_postings_best_first_gives_the_exact_ranking(corpus, query, contenders):
    kb, documents = corpus
    best_first = fulltext.rank([kb], query, 50, Filters())
    scanned = fulltext.rank([kb], query, 50, Filters(document_ids=tuple(documents)))
    assert [cid for cid, _ in best_first.chunks] == [cid for cid, _ in scanned.chunks]
    assert [score for _, score in best_first.chunks] == pytest.approx(
        [score for _, score in scanned.chunks], abs=1e-12
    )
    assert len(best_first.chunks) == min(50, scanned.scored)


def test_a_term_in_most_chunks_is_read_only_as_deep_as_the_answer_needs(corpus):
    kb, _ = corpus
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM knowledge_chunk WHERE search_vector @@ 'everywher'::tsquery"
        )
        (matching,) = cursor.fetchone()
    ranking = fulltext.rank([kb], "everywhere", 10, Filters())
    assert matching > 500
    assert len(ranking.chunks) == 10
    assert ranking.scored < matching / 4


def test_a_filtered_ranking_counts_every_chunk_it_scored(corpus):
    # A filter takes the scan: every matching chunk that passes it is scored, and the
    # ranking says how many, not how many it returned.
    kb, documents = corpus
    chosen = documents[:3]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM knowledge_chunk WHERE search_vector @@ 'everywher'::tsquery "
            "AND document_id = ANY(%s::uuid[])",
            [chosen],
        )
        (matching,) = cursor.fetchone()
    ranking = fulltext.rank([kb], "everywhere", 10, Filters(document_ids=tuple(chosen)))
    assert len(ranking.chunks) == 10
    assert ranking.scored == matching > 10
    nothing = fulltext.rank([kb], "everywhere", 10, Filters(document_ids=(str(uuid.uuid4()),)))
    assert (nothing.chunks, nothing.scored) == ([], 0)


def test_rankings_stay_exact_after_deletes_and_new_documents(corpus, contenders):
    kb, documents = corpus
    # As services.delete_document does: the statistics first, then the chunks.
    term_statistics.discount_documents([documents[0]], kb.pk)
    Document.objects.filter(pk=documents[0]).delete()
    rng = random.Random(11)
    gone = add_document(kb, [zipf_text(rng, "everywhere") for _ in range(40)])
    term_statistics.discount_documents([gone], kb.pk)
    Document.objects.filter(pk=gone).delete()
    # Longer chunks raise the average above what the first postings were ranked with.
    add_document(kb, [" ".join(zipf_text(rng, "everywhere") for _ in range(4)) for _ in range(60)])
    add_document(kb, ["short everywhere"] * 30)
    assert_exact(str(kb.pk))
    totals = term_statistics.totals([kb.pk])
    assert totals.average_length > totals.impact_length  # the bound's drift is exercised
    remaining = list(Document.objects.filter(knowledge_base=kb).values_list("pk", flat=True))
    for query in QUERIES:
        best_first = fulltext.rank([kb], query, 20, Filters())
        scanned = fulltext.rank([kb], query, 20, Filters(document_ids=tuple(map(str, remaining))))
        assert [cid for cid, _ in best_first.chunks] == [cid for cid, _ in scanned.chunks]


def test_two_stores_into_one_knowledge_base_do_not_wait_for_each_other(acme_console, upstream):
    kb = KnowledgeBase.objects.get(pk=create_kb(acme_console)["id"])
    add_document(kb, ["apples and pears", "apples again"])
    first_counted = threading.Event()
    second_done = threading.Event()
    failures: list[BaseException] = []

    def store(texts: list[str], hold: bool) -> None:
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    # A lock wait fails the store instead of hanging the test.
                    cursor.execute("SET LOCAL lock_timeout = '5s'")
                add_document(kb, texts)
                if hold:  # stay open, counted, until the other store has committed
                    first_counted.set()
                    assert second_done.wait(30), "the second store never finished"
        except BaseException as exc:
            failures.append(exc)
            first_counted.set()
        finally:
            close_old_connections()
            connection.close()

    holder = threading.Thread(target=store, args=(["apples, pears, plums"] * 3, True))
    holder.start()
    assert first_counted.wait(30)
    other = threading.Thread(target=store, args=(["pears and apples", "plums"], False))
    other.start()
    other.join(30)
    second_done.set()
    holder.join(30)
    assert not failures, failures
    assert_exact(str(kb.pk))
    assert term_statistics.document_frequencies([kb.pk], ["appl"]) == {"appl": 6}


def test_merging_fresh_postings_moves_them_all_and_changes_no_ranking(corpus):
    kb, _ = corpus
    before = {query: fulltext.rank([kb], query, 30, Filters()).chunks for query in QUERIES}
    waiting = FreshPosting.objects.count()
    assert waiting > 0 and not Posting.objects.exists()  # below the merge threshold
    assert term_statistics.merge_postings() == waiting
    assert not FreshPosting.objects.exists() and Posting.objects.count() == waiting
    assert_exact(str(kb.pk))
    for query, ranking in before.items():
        assert fulltext.rank([kb], query, 30, Filters()).chunks == ranking


def test_stores_merge_their_postings_once_enough_have_gathered(acme_console, upstream, settings):
    settings.KNOWLEDGE_POSTINGS_MERGE_AT = 10
    kb = KnowledgeBase.objects.get(pk=create_kb(acme_console)["id"])
    with transaction.atomic():
        add_document(kb, ["one two three four five six seven eight nine ten eleven"])
    assert not FreshPosting.objects.exists()
    assert Posting.objects.count() == 11
    with transaction.atomic():
        add_document(kb, ["twelve"])  # below the threshold: stays fresh
    assert FreshPosting.objects.count() == 1
    assert_exact(str(kb.pk))


def test_the_periodic_sweep_merges_what_stores_left_fresh(acme_console, upstream):
    kb = KnowledgeBase.objects.get(pk=create_kb(acme_console)["id"])
    add_document(kb, ["a few fresh words"])
    assert FreshPosting.objects.exists()
    tasks.sweep()
    assert not FreshPosting.objects.exists()
    assert_exact(str(kb.pk))
