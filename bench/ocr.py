"""OCR's speed and accuracy on two reference pages whose true text is known.

- Chinese: ``understanding/scanned-chinese-tables.pdf`` is page 1 of
  ``realdocs/chinese-tables.pdf`` printed to an image (150 dpi, rotated 0.8°, blurred); the
  original's text layer is the truth.
- English: ``understanding/layout-parser-paper-fast.jpg`` is page 1 of the LayoutParser
  paper, whose text layer is page 1 of ``realdocs/copy-protected.pdf``.

"Characters right" is the share of the truth's characters (spaces left out on both sides,
since a text layer and OCR space words differently) that the OCR text has, counted two
ways: in order (the matched characters of ``difflib.SequenceMatcher`` over the truth's
length), which also charges a different reading order (a table read row by row where the
text layer has it cell by cell), and as a multiset (each character counted as often as
both have it), which charges recognition only. Each page is
read ``--runs`` times through ``plugins.loaders._ocr.recognize`` (the engine loaded before
the first run); the seconds are per run, rendering included for the PDF.

    .venv/bin/python bench/ocr.py [--runs 3] [--shared ../shared]
"""

import argparse
import difflib
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from PIL import Image
from pypdf import PdfReader

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from plugins.loaders._ocr import recognize  # noqa: E402
from plugins.loaders._pdf_ocr import PdfPages  # noqa: E402


def characters_right(truth: str, recognised: str) -> tuple[float, float]:
    """The share of the truth's characters recognised: in order, and as a multiset."""
    truth, recognised = "".join(truth.split()), "".join(recognised.split())
    matcher = difflib.SequenceMatcher(None, truth, recognised, autojunk=False)
    in_order = sum(block.size for block in matcher.get_matching_blocks())
    common = Counter(truth) & Counter(recognised)
    total = max(len(truth), 1)
    return in_order / total, sum(common.values()) / total


def measure(name: str, image: Callable[[], Image.Image], truth: str, runs: int) -> None:
    seconds, text = [], ""
    for _ in range(runs):
        started = time.perf_counter()
        text = recognize(image()).text
        seconds.append(time.perf_counter() - started)
    in_order, anywhere = characters_right(truth, text)
    print(
        f"| {name} | {len(''.join(truth.split())):,} | {in_order:.1%} | {anywhere:.1%} "
        f"| {statistics.median(seconds):.1f} | {min(seconds):.1f} |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    options = parser.parse_args()
    fixtures = options.shared / "fixtures"
    if not fixtures.is_dir():
        print(f"no fixtures in {options.shared}", file=sys.stderr)
        return 2
    recognize(Image.new("RGB", (64, 64), "white"))  # loads the engine
    scanned = (fixtures / "understanding" / "scanned-chinese-tables.pdf").read_bytes()
    chinese = PdfReader(fixtures / "realdocs" / "chinese-tables.pdf").pages[0].extract_text()
    english = PdfReader(fixtures / "realdocs" / "copy-protected.pdf").pages[0].extract_text()

    def scanned_page() -> Image.Image:
        with PdfPages(scanned) as pages:
            return pages.image(1)

    print(
        "| page | characters (truth) | right, in order | right, as a multiset "
        "| s per page, median | best |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    measure("Chinese table page (scanned PDF)", scanned_page, chinese, options.runs)
    paper = fixtures / "understanding" / "layout-parser-paper-fast.jpg"
    measure("English paper page (JPEG)", lambda: Image.open(paper), english, options.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
