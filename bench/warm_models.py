"""The first and the tenth hit test of a fresh process, with and without the model warm-up.

In one embedded Postgres started for the run (``knowledge_harness``), one knowledge base per
local embedding model (``use-m3``, ``multilingual-e5-small``), each with a few short
documents ingested. Then, for each model and each way, a fresh child process (so that no
model is loaded yet) sets Django up as a web process does and runs ten hit tests on that
model's knowledge base, each with another query, timing each one:

- ``cold``: no warm-up (``MINISTUDIO_WARM_MODELS=0``): the first hit test loads the model;
- ``warm``: ``apps.knowledge.warmup.warm_in_background()`` at start, as ``studio/asgi.py``
  calls it, and the first hit test comes once it is done (a process that has been up for a
  few seconds). The warm-up loads the models of both knowledge bases; its time is printed.

A hit test here is what the console's hit-test handler runs: ``retrieval.retrieve`` with
the knowledge base's own retrieval settings (hybrid: the query's embedding through the
gateway, metered, plus full text), without HTTP or authentication. The first hit test of a
process also pays for other first uses (code imported on first call, the full-text
segmenter's dictionary, the database pool): the warm-up loads the token counter and
jieba's dictionary too. The first query is English; the second is the first Chinese one,
which without the warm-up loads jieba's dictionary for the full-text search. The last
column is the median of the 2nd to 10th hit tests, steadier than the 10th alone on a busy
machine.

Run from the repository root, in the project's virtual environment (Redis on
127.0.0.1:6379, database 11, for metering and quotas):

    .venv/bin/python bench/warm_models.py [--rounds 1]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS = ("use-m3", "multilingual-e5-small")
WAYS = ("cold", "warm")
HITS = 10
QUERIES = [
    "How are late deliveries credited?",
    "冷藏车短缺造成了什么问题？",
    "When does the new distribution centre open?",
    "Which carriers will the company renegotiate with?",
    "夏季会租用更多车辆吗？",
    "What reduces spoilage of perishable goods?",
    "Where is the new distribution centre?",
    "客户在哪里获得抵扣？",
    "What did the quarterly inventory report find?",
    "Why were shipments in the north delayed?",
]
DOCUMENTS = {
    "report.txt": (
        "The warehouse team reviewed the quarterly inventory report and found that shipping "
        "delays in the northern region were caused by a shortage of refrigerated trucks."
    ),
    "plan.txt": (
        "To reduce spoilage, the company will rent additional vehicles during the summer "
        "months and renegotiate its contracts with two regional carriers."
    ),
    "centre.txt": (
        "Perishable goods move to the new distribution centre near the port, which opens in "
        "September. Customers affected by late deliveries receive a credit on their next invoice."
    ),
    "报告.txt": (
        "仓库团队审阅了季度库存报告，发现北部地区的发货延误是由于冷藏车短缺造成的。"
        "公司将在夏季租用更多车辆，受延迟交货影响的客户将在下一张发票上获得抵扣。"
    ),
}


def child(model: str, way: str, kb_id: str) -> None:
    """In a fresh process: start as a web process does, then time ten hit tests."""
    for path in (str(ROOT / "platform"), str(ROOT)):
        sys.path.insert(0, path)
    started = time.perf_counter()
    import django

    django.setup()
    from apps.knowledge.models import KnowledgeBase
    from apps.knowledge.retrieval import retrieve
    from apps.knowledge.retrieval_settings import RetrievalSettings
    from apps.knowledge.warmup import warm_in_background

    warm_s = None
    if way == "warm":
        thread = warm_in_background()
        assert thread is not None, "MINISTUDIO_WARM_MODELS is off"
        thread.join()
        warm_s = time.perf_counter() - started
    kb = KnowledgeBase.objects.select_related("workspace").get(pk=kb_id)
    options = RetrievalSettings.model_validate(kb.retrieval)
    times = []
    for query in QUERIES[:HITS]:
        begun = time.perf_counter()
        hits = retrieve(kb.workspace, [kb], query, options)
        times.append(time.perf_counter() - begun)
        assert hits, f"no hit for {query!r}"
    print(json.dumps({"warm_s": warm_s, "times": times, "mode": options.mode}))


def run_child(model: str, way: str, kb_id: str) -> dict:
    env = {**os.environ, "MINISTUDIO_WARM_MODELS": "1" if way == "warm" else "0"}
    result = subprocess.run(
        [sys.executable, __file__, "--child", model, way, kb_id],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"child {model} {way} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=1, help="children per model and way")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from knowledge_harness import bench_platform, ingest_all, upload_text

    with bench_platform("warm") as bench:
        from apps.knowledge import services

        kb_ids = {}
        for model in MODELS:
            kb = services.create_knowledge_base(bench.workspace, name=model, embedding_model=model)
            for name, text in DOCUMENTS.items():
                upload_text(kb, name, text)
            kb_ids[model] = str(kb.pk)
        report = ingest_all()
        assert not report.failed, report.failed
        results = {}
        for _ in range(args.rounds):
            for model in MODELS:
                for way in WAYS:
                    results.setdefault((model, way), []).append(
                        run_child(model, way, kb_ids[model])
                    )
    mode = next(iter(results.values()))[0]["mode"]
    print(f"\nhit test ({mode}), seconds; median of {args.rounds} process(es) each")
    print(f"{'model':<24}{'way':<6}{'warm-up':>9}{'1st':>8}{'2nd':>8}{'10th':>8}{'2-10':>8}")
    for (model, way), runs in results.items():

        def median(pick, runs=runs):
            return statistics.median(pick(run) for run in runs)

        warm = f"{median(lambda r: r['warm_s']):.2f}" if way == "warm" else "-"
        first = median(lambda r: r["times"][0])
        second = median(lambda r: r["times"][1])
        tenth = median(lambda r: r["times"][HITS - 1])
        rest = median(lambda r: statistics.median(r["times"][1:]))
        print(f"{model:<24}{way:<6}{warm:>9}{first:>8.3f}{second:>8.3f}{tenth:>8.3f}{rest:>8.3f}")


if __name__ == "__main__":
    main()
