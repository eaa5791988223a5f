"""Retrieval quality of knowledge bases on BEIR sets: nDCG@10 and Recall@100 through the
platform's own pipeline (upload → parse → chunk → embed → store → ``retrieve()``).

For each dataset (``/work/shared/eval/<name>``, read in place: scifact, xquad-zh, xquad-en)
and each local embedding model (use-m3, multilingual-e5-small, all-minilm-l6-v2), in one
embedded Postgres started for the run (``knowledge_harness``):

- a knowledge base with that embedding model and the default chunking; every corpus entry is
  uploaded through ``services.upload_documents`` as ``<_id>.txt`` holding "title\\n\\ntext"
  (just the text when there is no title), with ``{"corpus_id": _id}`` as its metadata, and
  ingested in this process (``ingestion.ingest_next`` until the queue is empty);
- every query with at least one relevant document (qrels score > 0) is run through
  ``retrieval.retrieve`` with ``top_k=100``, ``candidates=--candidates`` (default 100) and
  ``ef_search=--ef-search`` (default 100, the platform's default), in modes ``vector``,
  ``hybrid`` and ``fulltext``. Full-text results do not depend on the embedding model, so
  they are computed once per dataset (on the first model's knowledge base, which holds the
  same chunks). ``hybrid+rerank`` needs a rerank model; none is seeded locally, so it shows
  n/a unless a rerank server is named (``--rerank-url`` and ``--rerank-model``, or the
  environment's ``MINISTUDIO_BENCH_RERANK_URL`` / ``_MODEL`` / ``_API``): it is registered as
  a vLLM-provider endpoint with that ``rerank_api`` (``rerank``: the Jina/Cohere-style
  ``/v1/rerank`` of vLLM, Xinference, Jina; ``score``: vLLM's ``/score``; ``tei``: Text
  Embeddings Inference's ``/rerank``), e.g. ``vllm serve BAAI/bge-reranker-v2-m3 --port
  8001`` and ``--rerank-url http://127.0.0.1:8001/v1 --rerank-model BAAI/bge-reranker-v2-m3``;
- hits are mapped to corpus ids: a document's rank is its best chunk's rank, later chunks of
  the same document are dropped, and documents with the same score are ordered by corpus id;
- nDCG@10 (linear gain, log2 discount, ideal from the qrels) and Recall@100 (relevant
  documents found in the first 100 / relevant documents), averaged over the queries, as
  ``/work/shared/eval/README.md`` defines them; p50 is the median wall time of one
  ``retrieve()`` call (query embedding included);
- beside each figure, the same method measured with exact search outside the platform
  (``/work/shared/DESIGN.md``, "Reference facts"), and the published baselines (README).

A document can have several chunks, so the 100 chunks returned may cover fewer than 100
documents ("docs/q" column): Recall@100 is then over fewer documents than the exact-search
baselines, which rank whole documents.

Run from the repository root, in the project's virtual environment (Redis on
127.0.0.1:6379, database 11, for metering and quotas):

    .venv/bin/python bench/retrieval_quality.py [--datasets scifact xquad-zh xquad-en]
        [--models use-m3 multilingual-e5-small all-minilm-l6-v2] [--max-queries N] [--ef-search N]
        [--candidates N] [--rerank-url URL --rerank-model NAME [--rerank-api rerank|score|tei]]

Time on two cores: use-m3 embeds ~47 SciFact documents/s (about 2 minutes for its 5,183);
multilingual-e5-small ~2 documents/s (about 45 minutes for SciFact, 2 to 3 for an XQuAD set);
all-minilm-l6-v2 (English only) in between.
"""

import argparse
import csv
import json
import math
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from knowledge_harness import SHARED, bench_platform, ingest_all, rerank_model, upload_text

DATASETS = ("scifact", "xquad-zh", "xquad-en")
MODELS = ("use-m3", "multilingual-e5-small", "all-minilm-l6-v2")
TOP_K = 100
DESIGN = "DESIGN.md exact search"

#: (mode, model) -> nDCG@10, Recall@100 measured with exact search, outside the platform.
EXACT: dict[str, dict[tuple[str, str | None], tuple[str, str]]] = {
    "scifact": {
        ("fulltext", None): ("0.677", "0.929"),  # BM25, Porter stemming
        ("vector", "use-m3"): ("0.392", "0.746"),
        ("hybrid", "use-m3"): ("0.569", "0.929"),  # RRF(k=60) BM25 + USE-m3
        ("vector", "multilingual-e5-small"): ("0.655", "0.918"),
        ("hybrid", "multilingual-e5-small"): ("0.707", "0.958"),
    },
    "xquad-zh": {
        ("fulltext", None): ("0.963", "0.997"),  # BM25, jieba
        ("vector", "use-m3"): ("0.876", "0.998"),
        ("hybrid", "use-m3"): ("0.947", "1.000"),
        ("vector", "multilingual-e5-small"): ("0.952", "0.999"),
        ("hybrid", "multilingual-e5-small"): ("0.969-0.973", "1.000"),
    },
    "xquad-en": {},
}
#: Published or otherwise measured references: (method, nDCG@10, Recall@100, source).
REFERENCES: dict[str, list[tuple[str, str, str, str]]] = {
    "scifact": [
        ("BM25 (Anserini flat)", "0.679", "0.925", "BEIR, eval/README.md"),
        ("all-MiniLM-L6-v2", "0.645", "0.925", "MTEB, eval/README.md"),
        ("bge-small-en-v1.5", "0.713", "0.945", "MTEB, eval/README.md"),
        ("multilingual-e5-small fp32", "0.676", "-", "MTEB, DESIGN.md"),
    ],
    "xquad-zh": [
        ("BM25 character bigrams", "0.967", "0.995", DESIGN),
        ("BM25 character bigrams", "0.965", "-", "eval/README.md"),
    ],
    "xquad-en": [("all-MiniLM-L6-v2", "0.944", "1.0", "MTEB, eval/README.md")],
}


@dataclass
class Dataset:
    name: str
    corpus: list[dict]
    queries: list[tuple[str, str]]  # (query id, text), only those with a relevant document
    qrels: dict[str, dict[str, int]]


@dataclass
class Result:
    mode: str
    model: str | None
    ndcg: float
    recall: float
    p50_ms: float
    docs_per_query: float


@dataclass
class Ingested:
    model: str
    documents: int
    chunks: int
    failed: dict[str, str] = field(default_factory=dict)
    upload_s: float = 0.0
    ingest_s: float = 0.0


def load(name: str, max_queries: int | None) -> Dataset:
    folder = SHARED / "eval" / name
    with (folder / "corpus.jsonl").open(encoding="utf-8") as lines:
        corpus = [json.loads(line) for line in lines if line.strip()]
    qrels: dict[str, dict[str, int]] = {}
    with (folder / "qrels" / "test.tsv").open(encoding="utf-8") as tsv:
        for row in csv.DictReader(tsv, delimiter="\t"):
            score = int(row["score"])
            if score > 0:
                qrels.setdefault(row["query-id"], {})[row["corpus-id"]] = score
    queries = []
    with (folder / "queries.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                query = json.loads(line)
                if query["_id"] in qrels:  # no relevant document: skipped
                    queries.append((query["_id"], query["text"]))
    return Dataset(name, corpus, queries[:max_queries] if max_queries else queries, qrels)


def ndcg_at_10(ranking: list[str], relevant: dict[str, int]) -> float:
    dcg = sum(relevant.get(doc, 0) / math.log2(i + 2) for i, doc in enumerate(ranking[:10]))
    ideal = sorted(relevant.values(), reverse=True)[:10]
    idcg = sum(gain / math.log2(i + 2) for i, gain in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at_100(ranking: list[str], relevant: dict[str, int]) -> float:
    return len(set(ranking[:100]) & set(relevant)) / len(relevant)


def ranked_documents(hits: list, corpus_ids: dict[str, str]) -> list[str]:
    """Corpus ids best first: each document at its best chunk, equal scores by corpus id."""
    best: dict[str, float] = {}
    for hit in hits:  # best first already: a document's first chunk is its best
        corpus_id = corpus_ids[hit.document_id]
        best.setdefault(corpus_id, hit.score)
    return sorted(best, key=lambda doc: (-best[doc], doc))


def ingest_dataset(bench, dataset: Dataset, model: str) -> tuple[object, Ingested]:
    from apps.knowledge.models import Chunk, Document
    from apps.knowledge.services import create_knowledge_base

    knowledge_base = create_knowledge_base(
        bench.workspace, name=f"{dataset.name} {model}", embedding_model=model
    )
    started = time.perf_counter()
    for entry in dataset.corpus:
        title, text = entry.get("title") or "", entry["text"]
        content = f"{title}\n\n{text}" if title else text
        upload_text(knowledge_base, f"{entry['_id']}.txt", content, {"corpus_id": entry["_id"]})
    upload_s = time.perf_counter() - started
    print(f"  {model}: uploaded {len(dataset.corpus)} documents in {upload_s:.1f}s", flush=True)
    report = ingest_all()
    info = Ingested(
        model=model,
        documents=Document.objects.filter(knowledge_base=knowledge_base).count(),
        chunks=Chunk.objects.filter(knowledge_base=knowledge_base).count(),
        failed=report.failed,
        upload_s=upload_s,
        ingest_s=report.seconds,
    )
    print(
        f"  {model}: ingested {info.documents} documents ({info.chunks} chunks, "
        f"{len(report.failed)} failed) in {report.seconds:.1f}s, {report.units} units of work",
        flush=True,
    )
    return knowledge_base, info


def evaluate(
    bench, knowledge_base, dataset: Dataset, mode: str, args: argparse.Namespace, rerank=False
) -> Result:
    from apps.knowledge.models import Document
    from apps.knowledge.retrieval import retrieve
    from apps.knowledge.retrieval_settings import RetrievalSettings

    corpus_ids = {
        str(pk): metadata["corpus_id"]
        for pk, metadata in Document.objects.filter(knowledge_base=knowledge_base).values_list(
            "pk", "metadata"
        )
    }
    options = RetrievalSettings(
        mode=mode,
        top_k=TOP_K,
        candidates=args.candidates,
        ef_search=args.ef_search,
        rerank=rerank,
    )
    ndcgs, recalls, latencies, docs = [], [], [], []
    for query_id, text in dataset.queries:
        started = time.perf_counter()
        hits = retrieve(bench.workspace, [knowledge_base], text, options)
        latencies.append(time.perf_counter() - started)
        ranking = ranked_documents(hits, corpus_ids)
        docs.append(len(ranking))
        ndcgs.append(ndcg_at_10(ranking, dataset.qrels[query_id]))
        recalls.append(recall_at_100(ranking, dataset.qrels[query_id]))
    model = None if mode == "fulltext" else knowledge_base.embedding_endpoint.name
    label = f"{mode}+rerank" if rerank else mode
    result = Result(
        mode=label,
        model=model,
        ndcg=statistics.fmean(ndcgs),
        recall=statistics.fmean(recalls),
        p50_ms=statistics.median(latencies) * 1000,
        docs_per_query=statistics.fmean(docs),
    )
    print(
        f"  {label:<15} {model or '-':<22} nDCG@10 {result.ndcg:.3f}  R@100 "
        f"{result.recall:.3f}  p50 {result.p50_ms:.0f} ms",
        flush=True,
    )
    return result


def configured_reranker(workspace, args: argparse.Namespace) -> str | None:
    """The rerank server named by ``--rerank-url`` / ``--rerank-model``, registered and
    granted to ``workspace``; without one, a rerank model the workspace already has."""
    if not args.rerank_url:
        return rerank_model(workspace)
    from apps.model_endpoints import services as endpoints

    endpoint = endpoints.create_endpoint(
        name="bench-rerank",
        provider="vllm",
        upstream_model=args.rerank_model,
        capabilities=["rerank"],
        # A hundred candidates a query: a CPU-served reranker may take a while.
        settings={
            "base_url": args.rerank_url,
            "rerank_api": args.rerank_api,
            "timeout_seconds": 300,
        },
    )
    endpoints.grant(endpoint, workspace, by=None)
    print(f"rerank: {args.rerank_model} at {args.rerank_url} ({args.rerank_api} API)", flush=True)
    return endpoint.name


def run_dataset(
    bench, dataset: Dataset, models: list[str], args, reranker: str | None = None
) -> None:
    print(
        f"\n== {dataset.name}: {len(dataset.corpus)} documents, {len(dataset.queries)} queries",
        flush=True,
    )
    results: list[Result] = []
    ingested: list[Ingested] = []
    for index, model in enumerate(models):
        knowledge_base, info = ingest_dataset(bench, dataset, model)
        ingested.append(info)
        modes = ["vector", "hybrid"] + (["fulltext"] if index == 0 else [])
        for mode in modes:
            results.append(evaluate(bench, knowledge_base, dataset, mode, args))
        if reranker:
            from apps.knowledge.services import update_knowledge_base

            update_knowledge_base(knowledge_base, rerank_model=reranker)
            results.append(evaluate(bench, knowledge_base, dataset, "hybrid", args, rerank=True))
    print_tables(dataset, models, results, ingested, reranker, args)


def print_tables(dataset, models, results, ingested, reranker, args) -> None:
    order = {"fulltext": 0, "vector": 1, "hybrid": 2, "hybrid+rerank": 3}
    results = sorted(results, key=lambda r: (order[r.mode], models.index(r.model or models[0])))
    print(
        f"\n{dataset.name}: {len(dataset.queries)} queries, top_k={TOP_K}, "
        f"candidates={args.candidates}, ef_search={args.ef_search}"
    )
    header = (
        f"{'method':<14} {'model':<22} {'nDCG@10':>8} {'R@100':>6} {'p50 ms':>7} "
        f"{'docs/q':>6}   {'exact search (DESIGN.md) nDCG@10 / R@100':<40}"
    )
    print(header)
    print("-" * len(header))
    exact = EXACT.get(dataset.name, {})
    for result in results:
        key = (result.mode, result.model)
        baseline = " / ".join(exact[key]) if key in exact else "-"
        print(
            f"{result.mode:<14} {result.model or '(any)':<22} {result.ndcg:>8.3f} "
            f"{result.recall:>6.3f} {result.p50_ms:>7.0f} {result.docs_per_query:>6.1f}   "
            f"{baseline:<40}"
        )
    if not reranker:
        for model in models:
            print(
                f"{'hybrid+rerank':<14} {model:<22} {'n/a':>8} {'n/a':>6}   "
                "(no rerank model: --rerank-url, --rerank-model)"
            )
    print("references:")
    for method, ndcg, recall, source in REFERENCES.get(dataset.name, []):
        print(f"  {method:<28} {ndcg:>6} / {recall:<6} ({source})")
    print("ingestion (upload, then ingest in this process, one document at a time):")
    for info in ingested:
        docs_s = info.documents / info.ingest_s if info.ingest_s else 0.0
        print(
            f"  {info.model:<22} {info.documents:>5} docs {info.chunks:>6} chunks "
            f"{len(info.failed):>3} failed  upload {info.upload_s:6.1f}s  ingest "
            f"{info.ingest_s:7.1f}s  {docs_s:6.1f} docs/s"
        )
        for name, error in list(info.failed.items())[:5]:
            print(f"    failed: {name}: {error}")
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=["scifact", "xquad-zh"])
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--max-queries", type=int, help="first N queries (default: all)")
    parser.add_argument("--ef-search", type=int, default=100, help="HNSW breadth (10-1000)")
    parser.add_argument(
        "--candidates", type=int, default=100, help="chunks each stage passes on (>= 100)"
    )
    environment = os.environ.get
    parser.add_argument(
        "--rerank-url",
        default=environment("MINISTUDIO_BENCH_RERANK_URL"),
        help="a rerank server's API root, e.g. http://127.0.0.1:8001/v1: adds hybrid+rerank",
    )
    parser.add_argument(
        "--rerank-model",
        default=environment("MINISTUDIO_BENCH_RERANK_MODEL"),
        help="the model the rerank server serves, e.g. BAAI/bge-reranker-v2-m3",
    )
    parser.add_argument(
        "--rerank-api",
        choices=("rerank", "score", "tei"),
        default=environment("MINISTUDIO_BENCH_RERANK_API", "rerank"),
        help="rerank: /v1/rerank (vLLM, Xinference, Jina); score: vLLM /score; tei: TEI /rerank",
    )
    args = parser.parse_args()
    if args.candidates < TOP_K:
        parser.error(f"--candidates must be at least {TOP_K}")
    if bool(args.rerank_url) != bool(args.rerank_model):
        parser.error("--rerank-url and --rerank-model go together")
    with bench_platform("rq") as bench:
        reranker = configured_reranker(bench.workspace, args)
        for name in args.datasets:
            run_dataset(bench, load(name, args.max_queries), args.models, args, reranker)


if __name__ == "__main__":
    main()
