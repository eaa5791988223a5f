"""Scanned PDF pages read by OCR in the PDF loader, as the parser says."""

import pytest

from plugins.base import LoaderInput
from plugins.loaders.pdf import PdfLoader, PdfSettings
from tests.plugins.ocr_images import text_image
from tests.plugins.pdfs import build_pdf


def scanned_pdf(*pages: list[str]) -> bytes:
    """A PDF of page images only (no text layer), as a scanner writes it."""
    import io

    images = [text_image(lines, size=(1240, 1754)) for lines in pages]
    buffer = io.BytesIO()
    images[0].save(buffer, "PDF", save_all=True, append_images=images[1:], resolution=150)
    return buffer.getvalue()


def load(data: bytes, parser: str = "auto", **settings):
    warnings: list[str] = []
    progress: list[tuple[int, int]] = []
    source = LoaderInput(
        filename="scan.pdf",
        data=data,
        parser=parser,
        on_warning=warnings.append,
        on_progress=lambda done, total: progress.append((done, total)),
    )
    return PdfLoader().load(source, PdfSettings(**settings)), warnings, progress


def test_scanned_pages_are_read_with_their_page_numbers_under_auto():
    data = scanned_pdf(["Safety manual", "Wear gloves at all times"], ["Second page of rules"])
    elements, warnings, progress = load(data)
    assert [(e.page, e.text) for e in elements] == [
        (1, "Safety manual\nWear gloves at all times"),
        (2, "Second page of rules"),
    ]
    assert all(e.metadata["ocr"] is True and e.metadata["ocr_confidence"] > 0.9 for e in elements)
    assert (warnings, progress) == ([], [(1, 2), (2, 2)])


def test_the_text_layer_parser_leaves_a_scan_unread():
    elements, warnings, _ = load(scanned_pdf(["Safety manual"]), parser="text")
    assert (elements, warnings) == ([], [])


def test_a_text_page_keeps_its_text_layer_under_auto_and_is_recognised_under_ocr():
    data = build_pdf([[(72, 720, "Quarterly revenue grew by twelve percent")]])
    kept, _, _ = load(data)
    assert [(e.text, e.metadata) for e in kept] == [
        ("Quarterly revenue grew by twelve percent", {})
    ]
    recognised, _, _ = load(data, parser="ocr")
    assert [e.metadata["ocr"] for e in recognised] == [True]
    assert "revenue" in recognised[0].text


def test_pages_past_the_ocr_cap_are_named_and_the_rest_is_kept():
    data = scanned_pdf(["First page"], ["Second page"], ["Third page"])
    elements, warnings, _ = load(data, ocr_max_pages=2)
    assert [e.page for e in elements] == [1, 2]
    assert warnings == [
        "OCR stopped after 2 pages (the PDF loader's ocr_max_pages setting); not read: pages 3"
    ]


def test_a_page_that_runs_out_of_time_is_named_and_the_others_are_kept():
    data = scanned_pdf(["First page"], ["Second page"])
    hurried = PdfSettings.model_construct(ocr_page_seconds=1e-6, ocr_max_pages=200)
    warnings: list[str] = []
    source = LoaderInput(filename="scan.pdf", data=data, on_warning=warnings.append)
    assert PdfLoader().load(source, hurried) == []
    assert warnings == [
        "page 1: OCR took longer than 1e-06 s and was stopped",
        "page 2: OCR took longer than 1e-06 s and was stopped",
    ]


def test_a_garbled_text_layer_without_an_image_is_kept_and_named():
    garbled = "«POAH «3E*»CM n»Bfl. s*r;tiiR» FRG&t 3s«»teership A&s-oeiete© H^uid £ug»r"
    elements, warnings, _ = load(build_pdf([[(72, 720, garbled)]]))
    assert len(elements) == 1 and "ocr" not in elements[0].metadata
    assert warnings == [
        "the text layer reads poorly on pages 1 and was kept (OCR did not read it better, "
        "or the page has no image to read)"
    ]


def test_ocr_settings_are_bounded():
    with pytest.raises(ValueError):
        PdfSettings(ocr_max_pages=0)
    with pytest.raises(ValueError):
        PdfSettings(ocr_page_seconds=0)
