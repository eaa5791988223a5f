"""Ingestion throughput end to end (upload → ready), against the embedding model alone.

In one embedded Postgres started for the run (``knowledge_harness``), with one knowledge
base per corpus (default chunking, embedding model ``--model``):

- (a) ``realdocs``: every file of /work/shared/fixtures/realdocs (read in place; SOURCES.md
  left out) with whatever loaders are installed. A file no loader takes is refused at
  upload; a document that fails to parse counts as processed. Both are listed;
- (b) ``generated``: ``--files`` text files (default 200) of ``--mb`` MB in all (default
  20), each a random mix of English and Chinese paragraphs built from a pool of sentences
  (seeded: the same corpus every run);
- (c) ``one-page``: ``--pages`` text files (default 1,000) of one page each (about 3,000
  bytes, built like (b)): many small documents, where per-document costs show.

Pipeline: the wall time from the first upload (``services.upload_documents``, one call per
file) to the last document done, ingesting in this process (``ingestion.ingest_next`` until
there is nothing left: one unit of work at a time, as one ingest worker slot would).
documents/s and chunks/s are over that time.

Embedding only: afterwards, the chunk texts the pipeline stored are embedded again by
calling the provider's ``embed`` directly (the endpoint's own provider instance and
settings, no routing, metering or database), in batches of ``KNOWLEDGE_EMBEDDING_BATCH``
texts taken across documents (the model at its best batch size). Overhead = (pipeline time
- embedding time) / embedding time; the target to compare with is 10% or less (not an
assert). The model is loaded before either is timed.

Small behind big (``--behind``, default 2,000 chunks; 0 skips it): one worker slot (a
thread calling ``ingestion.ingest_next``) ingests a file of that many chunks; once it is
embedding, a one-chunk file is uploaded. Reported: the small file's time from upload to
``ready``, its own embedding time (its chunk embedded alone, best of three), the target
(2 x that + 1 s), and the big file's time from upload to ``ready``.

Where the time goes: the sums of the documents' ``timings`` (parse, chunk, embed, store, in
ms, measured by the pipeline itself), "embed: routing + metering" (the pipeline's embed
stage minus the direct embedding time of the same chunks), and "outside the stages" (the
wall time minus the stages: uploads, claiming, lease and status updates).

Run from the repository root, in the project's virtual environment (Redis on
127.0.0.1:6379, database 11, for metering and quotas):

    .venv/bin/python bench/ingest.py [--mb 20] [--files 200] [--pages 1000]
        [--behind 2000] [--model use-m3] [--skip-realdocs] [--skip-generated]
        [--skip-one-page]

On two cores, the defaults take about 15 minutes (use-m3, ~35 chunks of 512 tokens a
second, twice: pipeline and embedding alone). multilingual-e5-small is ~20 times slower:
20 MB would take hours, so use a smaller ``--mb`` with it.
"""

import argparse
import logging
import random
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from knowledge_harness import SHARED, bench_platform, ingest_all

MODELS = ("use-m3", "multilingual-e5-small", "all-minilm-l6-v2")
REALDOCS = SHARED / "fixtures" / "realdocs"
STAGES = ("parse_ms", "chunk_ms", "embed_ms", "store_ms")

ENGLISH = (
    "The warehouse team reviewed the quarterly inventory report in detail.",
    "Shipping delays in the northern region were caused by a shortage of refrigerated trucks.",
    "To reduce spoilage, the company will rent additional vehicles during the summer months.",
    "Customers affected by late deliveries will receive a credit on their next invoice.",
    "The new distribution centre near the port opens in September.",
    "Engineers measured the latency of every request before and after the change.",
    "A retrieval system ranks passages by their similarity to the question.",
    "The committee approved the budget after a long discussion about maintenance costs.",
    "Most of the errors came from documents scanned at a low resolution.",
    "Each record in the spreadsheet describes one shipment and its destination.",
    "The model was trained on a mixture of web pages, books and source code.",
    "Researchers found that the effect disappeared when the sample size was increased.",
    "Water levels in the reservoir dropped by twelve percent over the dry season.",
    "The library lends laptops to students who cannot afford their own.",
    "Please contact the support desk if the problem persists after a restart.",
    "The contract may be terminated by either party with thirty days of notice.",
    "Vaccination rates rose steadily in every district that ran mobile clinics.",
    "The bridge was closed for inspection after engineers noticed a crack in a support beam.",
    "Sales of electric bicycles doubled in the cities that built protected lanes.",
    "The orchestra rehearsed the new symphony for three weeks before the premiere.",
)
CHINESE = (
    "仓库团队详细审阅了季度库存报告。",
    "北部地区的发货延误是由于冷藏车短缺造成的。",
    "为减少损耗，公司将在夏季租用更多车辆。",
    "受延迟交货影响的客户将在下一张发票上获得抵扣。",
    "港口附近的新配送中心将于九月启用。",
    "工程师在改动前后测量了每个请求的延迟。",
    "检索系统按照与问题的相似度对段落进行排序。",
    "委员会在讨论维护费用之后批准了预算。",
    "大多数错误来自低分辨率扫描的文档。",
    "表格中的每一条记录描述一批货物及其目的地。",
    "该模型在网页、书籍和源代码的混合数据上训练。",
    "研究人员发现，样本量增加后这种效应消失了。",
    "旱季期间水库水位下降了百分之十二。",
    "图书馆向买不起电脑的学生出借笔记本电脑。",
    "如果重启后问题仍然存在，请联系技术支持。",
    "任何一方提前三十天通知即可终止合同。",
    "开设流动诊所的地区疫苗接种率稳步上升。",
    "工程师发现支撑梁出现裂缝后，大桥被关闭检查。",
    "在修建了自行车专用道的城市，电动自行车销量翻了一番。",
    "乐团在首演前为新交响曲排练了三周。",
)


@dataclass
class Measured:
    corpus: str
    files: int
    megabytes: float
    processed: int = 0
    ready: int = 0
    chunks: int = 0
    pipeline_s: float = 0.0
    upload_s: float = 0.0
    embed_only_s: float = 0.0
    stages_ms: dict[str, int] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)  # at upload
    failed: dict[str, str] = field(default_factory=dict)  # while ingesting


def generated_corpus(megabytes: float, files: int, seed: int = 7) -> list[tuple[str, bytes]]:
    """``files`` text files of mixed English and Chinese paragraphs, ``megabytes`` in all."""
    rng = random.Random(seed)  # noqa: S311 (test data, not secrets)
    size = int(megabytes * 1024 * 1024 / files)
    corpus = []
    for number in range(files):
        paragraphs: list[str] = []
        length = 0
        while length < size:
            pool, joiner = (ENGLISH, " ") if rng.random() < 0.5 else (CHINESE, "")
            sentences = [rng.choice(pool) for _ in range(rng.randint(3, 9))]
            paragraph = f"({number}.{len(paragraphs)}) " + joiner.join(sentences)
            paragraphs.append(paragraph)
            length += len(paragraph.encode("utf-8")) + 2
        corpus.append((f"generated-{number:04d}.txt", "\n\n".join(paragraphs).encode("utf-8")))
    return corpus


def realdocs_corpus() -> list[tuple[str, bytes]]:
    return [
        (path.name, path.read_bytes())
        for path in sorted(REALDOCS.iterdir())
        if path.is_file() and path.name != "SOURCES.md"
    ]


def provider_target(workspace, model: str):
    from apps.gateway import routing
    from apps.model_endpoints.models import EndpointCapability

    return routing.route(workspace, model, EndpointCapability.EMBEDDING, surface="ingest")


def embed_directly(target, texts_by_document: list[list[str]]) -> float:
    """Seconds to embed the texts with the provider alone, in batches of the model's best
    size taken across documents."""
    from django.conf import settings

    from plugins.base import EmbeddingRequest

    batch = settings.KNOWLEDGE_EMBEDDING_BATCH
    model = target.endpoint.upstream_model
    texts = [text for document in texts_by_document for text in document]
    started = time.perf_counter()
    for start in range(0, len(texts), batch):
        request = EmbeddingRequest(
            model=model, inputs=texts[start : start + batch], input_type="document"
        )
        target.provider.embed(request, target.settings)
    return time.perf_counter() - started


def one_page_corpus(pages: int, seed: int = 11) -> list[tuple[str, bytes]]:
    """``pages`` files of about one page (3,000 bytes) each."""
    corpus = generated_corpus(pages * 3000 / 1024 / 1024, pages, seed)
    return [(name.replace("generated", "page"), data) for name, data in corpus]


@dataclass
class Behind:
    chunks: int
    small_ready_s: float = 0.0
    small_embed_s: float = 0.0
    big_ready_s: float = 0.0
    big_status_when_small_ready: str = ""


def small_behind_big(bench, model: str, chunks: int) -> Behind:
    """A one-chunk file uploaded while one worker slot embeds a ``chunks``-chunk file."""
    import threading

    from django.db import connection

    from apps.knowledge import ingestion
    from apps.knowledge.models import Document, DocumentStatus
    from apps.knowledge.services import UploadedFile, create_knowledge_base, upload_documents
    from plugins.base import EmbeddingRequest

    knowledge_base = create_knowledge_base(
        bench.workspace,
        name=f"behind {model}",
        embedding_model=model,
        chunking={"mode": "length", "chunk_size": 128, "chunk_overlap": 0},
    )
    # Paragraphs of about 100 tokens: one chunk each.
    sentence = "The warehouse team reviewed the quarterly inventory report in detail. "
    big_text = "\n\n".join(f"({i}) " + sentence * 7 for i in range(chunks))
    small_text = "A short note: the new distribution centre near the port opens in September."
    result = Behind(chunks)
    stop = threading.Event()

    def worker() -> None:
        try:
            while not stop.is_set():
                if ingestion.ingest_next(f"bench-{uuid.uuid4()}") is None:
                    time.sleep(0.02)
        finally:
            connection.close()

    def upload(name: str, text: str):
        (outcome,) = upload_documents(
            knowledge_base, [UploadedFile(name=name, data=text.encode(), media_type="text/plain")]
        )
        return outcome.document

    thread = threading.Thread(target=worker, daemon=True)
    big_started = time.perf_counter()
    big = upload("big.txt", big_text)
    thread.start()
    try:
        documents = Document.objects.filter(pk=big.pk)
        while not documents.filter(status=DocumentStatus.EMBEDDING).exists():
            time.sleep(0.05)
        time.sleep(1.0)  # well into embedding
        small_started = time.perf_counter()
        small = upload("small.txt", small_text)
        while True:
            status = Document.objects.get(pk=small.pk).status
            if status in (DocumentStatus.READY, DocumentStatus.FAILED):
                break
            time.sleep(0.02)
        result.small_ready_s = time.perf_counter() - small_started
        result.big_status_when_small_ready = documents.get().status
        while documents.get().status not in (DocumentStatus.READY, DocumentStatus.FAILED):
            time.sleep(0.1)
        result.big_ready_s = time.perf_counter() - big_started
    finally:
        stop.set()
        thread.join()
    target = provider_target(bench.workspace, model)
    request = EmbeddingRequest(
        model=target.endpoint.upstream_model, inputs=[small_text], input_type="document"
    )
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        target.provider.embed(request, target.settings)
        timings.append(time.perf_counter() - started)
    result.small_embed_s = min(timings)
    return result


def measure(bench, corpus_name: str, files: list[tuple[str, bytes]], model: str) -> Measured:
    from apps.knowledge.models import Chunk, Document, DocumentStatus
    from apps.knowledge.services import UploadedFile, create_knowledge_base, upload_documents
    from kernel.errors import ApiError

    knowledge_base = create_knowledge_base(
        bench.workspace, name=f"{corpus_name} {model}", embedding_model=model
    )
    total = sum(len(data) for _, data in files)
    result = Measured(corpus_name, len(files), total / 1024 / 1024)
    print(f"{corpus_name}: {len(files)} files, {result.megabytes:.1f} MB", flush=True)

    started = time.perf_counter()
    for name, data in files:
        try:
            upload_documents(knowledge_base, [UploadedFile(name=name, data=data)])
        except ApiError as exc:
            result.refused[name] = exc.message
    result.upload_s = time.perf_counter() - started
    report = ingest_all()
    result.pipeline_s = time.perf_counter() - started
    result.failed = report.failed

    documents = Document.objects.filter(knowledge_base=knowledge_base)
    done = (DocumentStatus.READY, DocumentStatus.FAILED)
    result.processed = documents.filter(status__in=done).count()
    result.ready = documents.filter(status=DocumentStatus.READY).count()
    result.stages_ms = {stage: 0 for stage in STAGES}
    for timings in documents.values_list("timings", flat=True):
        for stage in STAGES:
            result.stages_ms[stage] += int((timings or {}).get(stage, 0))
    texts_by_document: dict[str, list[str]] = {}
    chunks = Chunk.objects.filter(knowledge_base=knowledge_base).order_by("document", "ordinal")
    for document_id, text in chunks.values_list("document_id", "text").iterator():
        texts_by_document.setdefault(str(document_id), []).append(text)
    result.chunks = sum(len(texts) for texts in texts_by_document.values())
    print(
        f"  pipeline: {result.processed} documents, {result.chunks} chunks in "
        f"{result.pipeline_s:.1f}s; embedding the same chunks alone...",
        flush=True,
    )
    target = provider_target(bench.workspace, model)
    result.embed_only_s = embed_directly(target, list(texts_by_document.values()))
    print(f"  embedding alone: {result.embed_only_s:.1f}s", flush=True)
    return result


def print_tables(results: list[Measured], model: str) -> None:
    print(f"\nIngestion, model {model}, one worker slot in one process")
    header = (
        f"{'corpus':<10} {'files':>5} {'MB':>6} {'chunks':>6} {'pipeline s':>10} "
        f"{'docs/s':>7} {'chunks/s':>8} {'embed-only s':>12} {'embed chunks/s':>14} "
        f"{'overhead':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        overhead = (r.pipeline_s - r.embed_only_s) / r.embed_only_s if r.embed_only_s else 0
        print(
            f"{r.corpus:<10} {r.files:>5} {r.megabytes:>6.1f} {r.chunks:>6} "
            f"{r.pipeline_s:>10.1f} {r.processed / r.pipeline_s:>7.2f} "
            f"{r.chunks / r.pipeline_s:>8.1f} {r.embed_only_s:>12.1f} "
            f"{r.chunks / r.embed_only_s if r.embed_only_s else 0:>14.1f} "
            f"{overhead:>8.1%}"
        )
    print("target: overhead <= 10%")

    print("\nWhere the pipeline's time goes (sums over documents, seconds and share of wall)")
    header = (
        f"{'corpus':<10} {'parse':>12} {'chunk':>12} {'embed':>12} {'  of it routing':>15} "
        f"{'store':>12} {'outside':>12}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        stages = {stage: ms / 1000 for stage, ms in r.stages_ms.items()}
        outside = r.pipeline_s - sum(stages.values())
        routing = stages["embed_ms"] - r.embed_only_s

        def cell(seconds: float, wall: float = r.pipeline_s) -> str:
            return f"{seconds:6.1f} {seconds / wall:5.1%}"

        print(
            f"{r.corpus:<10} {cell(stages['parse_ms'])} {cell(stages['chunk_ms'])} "
            f"{cell(stages['embed_ms'])} {cell(routing):>15} {cell(stages['store_ms'])} "
            f"{cell(outside)}"
        )
    print("(routing = the embed stage minus the same chunks embedded alone; outside = uploads,")
    print(" claiming, lease and status updates; upload alone: ", end="")
    print(", ".join(f"{r.corpus} {r.upload_s:.1f}s" for r in results) + ")")

    for r in results:
        if r.refused or r.failed:
            counts = f"{r.ready} ready, {len(r.failed)} failed, {len(r.refused)} refused"
            print(f"\n{r.corpus}: {counts}")
            for name, error in r.refused.items():
                print(f"  refused at upload: {name}: {error[:150]}")
            for name, error in r.failed.items():
                print(f"  failed: {name}: {error[:150]}")


def print_behind(behind: Behind, model: str) -> None:
    target = 2 * behind.small_embed_s + 1
    print(f"\nA one-chunk file uploaded behind a {behind.chunks:,}-chunk file ({model}, one slot)")
    print(
        f"  small: ready {behind.small_ready_s:.2f}s after its upload; its own embedding "
        f"{behind.small_embed_s:.3f}s; target <= {target:.2f}s "
        f"({'met' if behind.small_ready_s <= target else 'missed'})"
    )
    print(
        f"  big: ready {behind.big_ready_s:.1f}s after its upload; it was "
        f"'{behind.big_status_when_small_ready}' when the small one was ready"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=MODELS, default="use-m3")
    parser.add_argument("--mb", type=float, default=20.0, help="size of the generated corpus")
    parser.add_argument("--files", type=int, default=200, help="files of the generated corpus")
    parser.add_argument("--pages", type=int, default=1000, help="files of the one-page corpus")
    parser.add_argument(
        "--behind", type=int, default=2000, help="chunks of the big file (0: skip that test)"
    )
    parser.add_argument("--skip-realdocs", action="store_true")
    parser.add_argument("--skip-generated", action="store_true")
    parser.add_argument("--skip-one-page", action="store_true")
    args = parser.parse_args()

    with bench_platform("ingest") as bench:
        logging.getLogger("pypdf").setLevel(logging.ERROR)  # font warnings, one per PDF page
        target = provider_target(bench.workspace, args.model)
        from plugins.base import EmbeddingRequest

        warm = EmbeddingRequest(model=target.endpoint.upstream_model, inputs=["warm up"])
        target.provider.embed(warm, target.settings)  # loads the model before any timing
        results = []
        if not args.skip_realdocs:
            results.append(measure(bench, "realdocs", realdocs_corpus(), args.model))
        if not args.skip_generated:
            corpus = generated_corpus(args.mb, args.files)
            results.append(measure(bench, "generated", corpus, args.model))
        if not args.skip_one_page:
            results.append(measure(bench, "one-page", one_page_corpus(args.pages), args.model))
        behind = small_behind_big(bench, args.model, args.behind) if args.behind else None
        if results:
            print_tables(results, args.model)
        if behind is not None:
            print_behind(behind, args.model)


if __name__ == "__main__":
    main()
