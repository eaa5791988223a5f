"""Optical character recognition of page images, offline, with RapidOCR.

``rapidocr-onnxruntime`` ships PP-OCRv4's detection, text-direction and recognition models
(Chinese and English) inside its wheel and runs them with onnxruntime on the CPU, so nothing
is downloaded at run time. Its own ``__call__`` runs a page in one go; ``recognize`` runs the
same stages itself so that it can stop between recognition batches when a page overruns its
time limit (onnxruntime cannot be interrupted inside a call; a batch takes a fraction of a
second).

RapidOCR returns text boxes sorted top to bottom. ``recognize`` puts them in reading order
(``_blocks``): a page is cut into bands at empty horizontal strips and into columns at empty
vertical strips (recursive X-Y cut), so that a two-column paper is read column by column,
while a table, whose narrow columns do not pass for text columns, is read row by row. Boxes
of one row become one line, cells far apart separated by `` | ``.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import Field

from plugins.base import PluginSettings

if TYPE_CHECKING:
    import numpy as np
    from PIL.Image import Image

#: Crops recognised per onnxruntime call; the time limit is checked between calls.
_BATCH = 6
#: A vertical cut is a column gutter only when each side is at least this share of the
#: page's width and its boxes mostly span its width: a table's columns are narrower.
_MIN_COLUMN_SHARE = 0.25
_MIN_LINE_FILL = 0.5
#: Cells of one row further apart than this many line heights are separated by " | ".
_CELL_GAP = 1.5
#: Images whose longer side is under this many pixels are enlarged twice: at screenshot
#: sizes the recognition model runs words together ("RULESANDINSTRUCTIONS"); RapidOCR
#: shrinks anything beyond 2,000 pixels itself.
_SMALL_SIDE = 1000


class OcrSettings(PluginSettings):
    """The bounds every loader that recognises pages shares (PDF, images)."""

    ocr_page_seconds: float = Field(
        default=300,
        ge=1,
        le=3600,
        description="The longest OCR may take on one page or image; a page that takes longer "
        "is named in the document's warnings (a PDF page keeps its text layer, if any).",
    )
    ocr_max_pages: int = Field(
        default=200,
        ge=1,
        le=10000,
        description="Pages of one document read by OCR at most; the others are named in the "
        "document's warnings (a PDF page keeps its text layer, if any).",
    )


class OcrTimeout(Exception):
    """A page took longer than its time limit; nothing of it is kept."""


@dataclass(frozen=True)
class Box:
    """One recognised piece of text and where it sits on the image (pixels)."""

    text: str
    confidence: float
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    @property
    def width(self) -> float:
        return self.x1 - self.x0


@dataclass(frozen=True)
class OcrPage:
    """A page's recognised text in reading order, one line per row of boxes."""

    text: str
    #: Mean recognition confidence (0 to 1) weighted by characters; 0 with no text.
    confidence: float
    seconds: float


_engine: Any = None
_engine_lock = threading.Lock()
# One page at a time per process: onnxruntime already spreads a call over every core.
_run_lock = threading.Lock()


def _rapidocr() -> Any:
    global _engine
    with _engine_lock:
        if _engine is None:
            from rapidocr_onnxruntime import RapidOCR

            _engine = RapidOCR()
    return _engine


def recognize(image: Image | np.ndarray, time_limit: float | None = None) -> OcrPage:
    """The text of ``image`` in reading order.

    Raises ``OcrTimeout`` when recognition takes longer than ``time_limit`` seconds.
    """
    import numpy as np

    started = time.monotonic()
    deadline = None if time_limit is None else started + time_limit
    if not hasattr(image, "convert"):
        from PIL import Image as PILImage

        image = PILImage.fromarray(image)
    from PIL.Image import Resampling

    LANCZOS = Resampling.LANCZOS
    image = image.convert("RGB")
    if max(image.size) < _SMALL_SIDE:
        image = image.resize((image.width * 2, image.height * 2), resample=LANCZOS)
    pixels = np.asarray(image)
    with _run_lock:
        boxes = _boxes(_rapidocr(), pixels[:, :, ::-1].copy(), deadline)  # RGB → BGR
    # Text set sideways (an arXiv stamp in the margin) is read after the page, not across it.
    upright = [box for box in boxes if box.height < 2 * box.width]
    sideways = sorted((box for box in boxes if box.height >= 2 * box.width), key=lambda b: b.x0)
    blocks = _blocks(upright, float(pixels.shape[1]))
    lines = [line for block in blocks for line in _lines(block)]
    lines += [box.text for box in sideways]
    characters = sum(len(box.text) for box in boxes)
    confidence = (
        sum(box.confidence * len(box.text) for box in boxes) / characters if characters else 0.0
    )
    return OcrPage(
        text="\n".join(lines),
        confidence=round(confidence, 4),
        seconds=round(time.monotonic() - started, 3),
    )


def _boxes(engine: Any, image: np.ndarray, deadline: float | None) -> list[Box]:
    """RapidOCR 1.4.4's stages (``RapidOCR.__call__``), run one by one so that the
    recognition can stop at ``deadline``."""
    raw_h, raw_w = image.shape[:2]
    resized, ratio_h, ratio_w = engine.preprocess(image)
    record: dict[str, Any] = {"preprocess": {"ratio_h": ratio_h, "ratio_w": ratio_w}}
    padded, record = engine.maybe_add_letterbox(resized, record)
    detected, _ = engine.auto_text_det(padded)
    if detected is None:
        return []
    _check(deadline)
    crops = engine.get_crop_img_list(padded, detected)
    crops, _, _ = engine.text_cls(crops)
    _check(deadline)
    recognised: list[tuple[str, float]] = []
    for start in range(0, len(crops), _BATCH):
        results, _ = engine.text_rec(crops[start : start + _BATCH], False)
        recognised.extend((text, float(score)) for text, score, *_ in results)
        _check(deadline)
    points = engine._get_origin_points(detected, record, raw_h, raw_w)
    boxes = []
    for corners, (text, score) in zip(points, recognised, strict=True):
        text = text.strip()
        if text and score >= engine.text_score:
            xs = [float(p[0]) for p in corners]
            ys = [float(p[1]) for p in corners]
            boxes.append(Box(text, score, min(xs), min(ys), max(xs), max(ys)))
    return boxes


def _check(deadline: float | None) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise OcrTimeout


# --- reading order ---------------------------------------------------------------------------


def _blocks(boxes: list[Box], page_width: float) -> list[list[Box]]:
    """``boxes`` in blocks in reading order: recursive cuts at empty strips, columns
    before bands (a band cut first would slice two columns into rows read across)."""
    if len(boxes) < 2:
        return [boxes] if boxes else []
    columns = _split(boxes, vertical=True)
    if len(columns) > 1 and all(_is_text_column(column, page_width) for column in columns):
        return [block for column in columns for block in _blocks(column, page_width)]
    bands = _split(boxes, vertical=False)
    if len(bands) > 1:
        return [block for band in bands for block in _blocks(band, page_width)]
    return [boxes]


def _split(boxes: list[Box], *, vertical: bool) -> list[list[Box]]:
    """``boxes`` in groups separated by strips no box covers: left to right when
    ``vertical`` (gutters), else top to bottom."""

    def span(box: Box) -> tuple[float, float]:
        if vertical:
            return box.x0, box.x1
        # Rows of a slightly rotated scan overlap a little: shrink each box a quarter.
        inset = box.height / 4
        return box.y0 + inset, box.y1 - inset

    groups: list[list[Box]] = []
    reach = float("-inf")
    for box in sorted(boxes, key=lambda b: span(b)[0]):
        start, end = span(box)
        if start > reach:
            groups.append([])
        groups[-1].append(box)
        reach = max(reach, end)
    return groups


def _is_text_column(column: list[Box], page_width: float) -> bool:
    width = max(b.x1 for b in column) - min(b.x0 for b in column)
    if width < _MIN_COLUMN_SHARE * page_width or len(column) < 2:
        return False
    widths = sorted(box.width for box in column)
    return widths[len(widths) // 2] >= _MIN_LINE_FILL * width


def _lines(block: list[Box]) -> list[str]:
    """A block's boxes as lines: boxes whose middles lie within one another's height are
    one row, read left to right."""
    rows: list[list[Box]] = []
    for box in sorted(block, key=lambda b: (b.y0 + b.y1) / 2):
        middle = (box.y0 + box.y1) / 2
        if rows and rows[-1][0].y0 <= middle <= rows[-1][0].y1:
            rows[-1].append(box)
        else:
            rows.append([box])
    return [_join(sorted(row, key=lambda b: b.x0)) for row in rows]


def _join(row: list[Box]) -> str:
    text = row[0].text
    for left, right in itertools.pairwise(row):
        gap = right.x0 - left.x1
        if gap > _CELL_GAP * max(left.height, right.height):
            text += " | "
        elif not (_is_cjk(text[-1]) and _is_cjk(right.text[0])):
            text += " "
        text += right.text
    return text


def _is_cjk(character: str) -> bool:
    code = ord(character)
    return (
        0x3000 <= code <= 0x303F  # CJK punctuation
        or 0x3400 <= code <= 0x9FFF  # CJK ideographs
        or 0xFF00 <= code <= 0xFFEF  # full-width forms
    )
