"""OCR of page images (plugins.loaders._ocr): the words, their reading order, and the
time limit."""

import pytest

from plugins.loaders import _ocr
from plugins.loaders._ocr import Box, OcrTimeout, recognize
from tests.plugins.ocr_images import text_image


def words(text: str) -> list[str]:
    return text.replace("|", " ").split()


def test_printed_lines_are_read_top_to_bottom():
    page = recognize(text_image(["Quarterly report", "Revenue grew strongly"]))
    assert words(page.text) == ["Quarterly", "report", "Revenue", "grew", "strongly"]
    assert page.text.count("\n") == 1
    assert 0.9 < page.confidence <= 1


def test_two_columns_are_read_one_after_the_other():
    left = ["alpha beta gamma delta", "epsilon zeta eta theta", "iota kappa lambda mu"]
    right = ["nu xi omicron pi", "rho sigma tau upsilon", "phi chi psi omega"]
    page = recognize(text_image(left + right, size=(1700, 500), columns=2))
    assert page.text.splitlines() == left + right


def test_a_blank_image_has_no_text_and_no_confidence():
    page = recognize(text_image([]))
    assert (page.text, page.confidence) == ("", 0.0)


def test_a_page_past_its_time_limit_raises():
    with pytest.raises(OcrTimeout):
        recognize(text_image(["Too slow to read"]), time_limit=0.000001)


def box(text, x0, y0, x1, y1):
    return Box(text, 0.99, x0, y0, x1, y1)


def test_table_cells_stay_in_their_rows_and_far_cells_are_separated():
    # A header and two rows, three narrow columns: a table, not text columns.
    cells = [
        box("Name", 0, 0, 80, 30),
        box("Seats", 400, 0, 480, 30),
        box("Price", 800, 0, 880, 30),
        box("Blind", 0, 50, 80, 80),
        box("5", 400, 50, 420, 80),
        box("34.5%", 800, 50, 880, 80),
        box("Mobility", 0, 100, 120, 130),
        box("3", 400, 100, 420, 130),
        box("95.4%", 800, 100, 880, 130),
    ]
    lines = [line for block in _ocr._blocks(cells, 1000.0) for line in _ocr._lines(block)]
    assert lines == ["Name | Seats | Price", "Blind | 5 | 34.5%", "Mobility | 3 | 95.4%"]


def test_chinese_pieces_of_one_line_join_without_a_space():
    row = [box("盐城高新区", 0, 0, 200, 30), box("投资集团", 205, 0, 360, 30)]
    assert _ocr._join(row) == "盐城高新区投资集团"
