"""Throughput of ``chunk_elements`` on a generated mixed Chinese/English corpus.

The corpus (about ``--mb`` megabytes of UTF-8, default 20) is built from a seeded random
choice of sentences: paragraphs of 2 to 12 sentences, each paragraph Chinese or English,
one element per paragraph as the plain-text loader makes them (with ``metadata["line"]``),
a heading every 25 paragraphs (with its section path on the elements after it), a page
every 10 paragraphs. One paragraph in 40 is a code block, one in 50 a long Chinese sentence
with no full stop. Each mode runs once over the whole document, with the default settings
(512 tokens, 64 of overlap) unless ``--size``/``--overlap`` say otherwise; the time includes
all token counting.

Run from the repository root, in the project's virtual environment:

    python bench/chunking.py [--mb 20] [--size 512] [--overlap 64] [--mode auto ...]
"""

import argparse
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]

from apps.knowledge.chunking import ChunkingSettings, chunk_elements  # noqa: E402
from plugins.base import Element  # noqa: E402

CHINESE = (
    "知识库把上传的文档切成小块，以便按语义检索。",
    "仓库团队审阅了季度库存报告，发现北部地区的发货延误是由于冷藏车短缺造成的。",
    "为减少损耗，公司将在夏季租用更多车辆！",
    "受延迟交货影响的客户是否会在下一张发票上获得抵扣？",
    "新配送中心九月启用；易腐货物将转移到港口附近。",
    "检索结果需要标注来源页码和章节，方便用户核对原文。",
)
ENGLISH = (
    "The warehouse team reviewed the quarterly inventory report in detail.",
    "Shipping delays in the northern region were caused by a shortage of trucks.",
    "Will customers affected by late deliveries receive a credit on the next invoice?",
    "The company will rent additional vehicles during the summer months!",
    "Perishable goods move to the new distribution centre near the port; it opens soon.",
    "Retrieval results cite the page and section, so that readers can check the source.",
)
CODE = "def handler(event):\n" + "\n".join(f"    result_{i} = step_{i}(event)" for i in range(30))
# One long clause chain with commas only: the splitter has to cut it at commas.
LONG_ZH = "，".join(["这是一段没有句号的很长的中文说明"] * 200) + "。"


def corpus(megabytes: float, seed: int = 7) -> tuple[list[Element], int]:
    """Elements of about ``megabytes`` MB of UTF-8 text, and their exact size in bytes."""
    rng = random.Random(seed)  # noqa: S311 (a reproducible corpus, not a secret)
    elements: list[Element] = []
    size = line = 0
    section = None
    paragraph = 0
    while size < megabytes * 1_000_000:
        page = paragraph // 10 + 1
        if paragraph % 25 == 0:
            section = f"Part {paragraph // 250 + 1} > Chapter {paragraph // 25 + 1}"
            text, kind = f"Chapter {paragraph // 25 + 1}", "heading"
        elif paragraph % 40 == 3:
            text, kind = CODE, "code"
        elif paragraph % 50 == 7:
            text, kind = LONG_ZH, "paragraph"
        elif rng.random() < 0.5:
            text = "".join(rng.choice(CHINESE) for _ in range(rng.randint(2, 12)))
            kind = "paragraph"
        else:
            text = " ".join(rng.choice(ENGLISH) for _ in range(rng.randint(2, 12)))
            kind = "paragraph"
        elements.append(
            Element(type=kind, text=text, page=page, section=section, metadata={"line": line})
        )
        size += len(text.encode())
        line += text.count("\n") + 2
        paragraph += 1
    return elements, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=20.0, help="corpus size in MB")
    parser.add_argument("--size", type=int, default=512, help="chunk_size in tokens")
    parser.add_argument("--overlap", type=int, default=64, help="chunk_overlap in tokens")
    parser.add_argument("--mode", action="append", choices=["auto", "length", "heading", "regex"])
    args = parser.parse_args()
    started = time.perf_counter()
    elements, size = corpus(args.mb)
    print(
        f"corpus: {len(elements)} elements, {size / 1e6:.1f} MB UTF-8, "
        f"built in {time.perf_counter() - started:.1f} s"
    )
    print(f"{'mode':8} {'chunks':>8} {'seconds':>8} {'chunks/s':>10} {'MB/s':>6} {'avg tok':>8}")
    for mode in args.mode or ["auto", "length", "heading", "regex"]:
        settings = ChunkingSettings(
            mode=mode,
            chunk_size=args.size,
            chunk_overlap=args.overlap,
            separator_regex=r"(?m)^Chapter \d+$" if mode == "regex" else None,
        )
        started = time.perf_counter()
        chunks = chunk_elements(elements, settings)
        seconds = time.perf_counter() - started
        average = sum(c.token_count for c in chunks) / max(len(chunks), 1)
        print(
            f"{mode:8} {len(chunks):8} {seconds:8.2f} {len(chunks) / seconds:10.0f} "
            f"{size / 1e6 / seconds:6.2f} {average:8.0f}"
        )


if __name__ == "__main__":
    main()
