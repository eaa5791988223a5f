"""The PowerPoint loader: slides in reading order with their numbers and titles, bullets,
tables row by row, groups, notes on request, pictures read by OCR on request; protected,
legacy and wrong files refused with a reason. The decks are made with python-pptx here."""

import io
import re
import zipfile
from importlib.metadata import entry_points

import docx
import pptx
import pytest
from PIL import Image, ImageDraw, ImageFont
from pptx.oxml.ns import qn
from pptx.util import Inches
from pydantic import ValidationError

from plugins.base import LoaderInput, PluginSettings
from plugins.loaders._office import CFB_MAGIC
from plugins.loaders.pptx import PptxLoader

# The default template's layouts.
TITLE_AND_CONTENT, TITLE_ONLY, BLANK = 1, 5, 6


def load(
    data: bytes, filename: str = "f.pptx", settings: PluginSettings | None = None, **source
) -> list:
    return PptxLoader().load(
        LoaderInput(filename=filename, data=data, **source), settings or PptxLoader.Settings()
    )


def save(deck) -> bytes:
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


def textbox(shapes, text: str, *, top: float, left: float):
    box = shapes.add_textbox(Inches(left), Inches(top), Inches(3), Inches(0.5))
    box.text_frame.text = text
    return box


def review_deck() -> bytes:
    """Three slides: title, bullets and text boxes added out of reading order, with notes; a
    table and a group; an untitled one."""
    deck = pptx.Presentation()
    first = deck.slides.add_slide(deck.slide_layouts[TITLE_AND_CONTENT])
    # Added before the title and body, placed below and beside them: read after them.
    textbox(first.shapes, "Right footnote", top=6.5, left=5)
    textbox(first.shapes, "Left footnote", top=6.5, left=1)
    textbox(first.shapes, "Confidential", top=0.1, left=1)  # above the title: title first
    first.shapes.title.text = "季度回顾  Quarterly review"
    body = first.placeholders[1].text_frame
    body.text = "Revenue grew 12%"
    point = body.add_paragraph()
    point.text = "Europe led"
    point.level = 1
    first.notes_slide.notes_text_frame.text = "Thank the sales team."

    second = deck.slides.add_slide(deck.slide_layouts[TITLE_ONLY])
    second.shapes.title.text = "Prices"
    table = second.shapes.add_table(3, 3, Inches(1), Inches(2), Inches(6), Inches(1.5)).table
    for row, cells in zip(
        table.rows,
        [("Item", "Price", "Note"), ("Tea", "3 €", ""), ("咖啡", "4 €", "热的")],
        strict=True,
    ):
        for cell, text in zip(row.cells, cells, strict=True):
            cell.text = text
    group = second.shapes.add_group_shape()
    textbox(group.shapes, "Step 2", top=5, left=5)
    textbox(group.shapes, "Step 1", top=5, left=1)

    third = deck.slides.add_slide(deck.slide_layouts[BLANK])
    textbox(third.shapes, "No title here", top=1, left=1)
    return save(deck)


def test_slides_in_reading_order_with_their_number_and_title():
    elements = load(review_deck())
    assert [(e.type, e.page, e.section, e.text) for e in elements] == [
        ("title", 1, "季度回顾 Quarterly review", "季度回顾 Quarterly review"),
        ("paragraph", 1, "季度回顾 Quarterly review", "Confidential"),
        ("list_item", 1, "季度回顾 Quarterly review", "Revenue grew 12%"),
        ("list_item", 1, "季度回顾 Quarterly review", "Europe led"),
        ("paragraph", 1, "季度回顾 Quarterly review", "Left footnote"),
        ("paragraph", 1, "季度回顾 Quarterly review", "Right footnote"),
        ("title", 2, "Prices", "Prices"),
        ("table", 2, "Prices", "Item: Tea; Price: 3 €"),
        ("table", 2, "Prices", "Item: 咖啡; Price: 4 €; Note: 热的"),
        ("paragraph", 2, "Prices", "Step 1"),
        ("paragraph", 2, "Prices", "Step 2"),
        ("paragraph", 3, None, "No title here"),
    ]
    assert all(e.metadata["slide"] == e.page for e in elements)
    assert not any("notes" in e.metadata for e in elements)


def test_table_rows_carry_their_header_and_row_number():
    rows = [e for e in load(review_deck()) if e.type == "table"]
    header = ["Item", "Price", "Note"]
    assert [e.metadata for e in rows] == [
        {"slide": 2, "row": 1, "header": header},
        {"slide": 2, "row": 2, "header": header},
    ]


def test_speaker_notes_are_read_when_the_setting_says_so():
    elements = load(review_deck(), settings=PptxLoader.Settings(speaker_notes=True))
    notes = [e for e in elements if e.metadata.get("notes")]
    assert [(e.type, e.page, e.section, e.text) for e in notes] == [
        ("paragraph", 1, "季度回顾 Quarterly review", "Thank the sales team.")
    ]
    assert elements.index(notes[0]) == 6  # after the slide's own text, before slide 2


def test_progress_is_reported_slide_by_slide():
    progress = []
    load(review_deck(), on_progress=lambda done, total: progress.append((done, total)))
    assert progress == [(1, 3), (2, 3), (3, 3)]


def test_bullets_follow_the_paragraph_and_line_breaks_are_kept():
    deck = pptx.Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[TITLE_AND_CONTENT])
    body = slide.placeholders[1].text_frame
    body.text = "Bullets off here"
    body.paragraphs[0]._p.get_or_add_pPr().append(body.paragraphs[0]._p.makeelement(qn("a:buNone")))
    box = textbox(slide.shapes, "Numbered in a text box", top=6, left=1).text_frame
    box.paragraphs[0]._p.get_or_add_pPr().append(
        box.paragraphs[0]._p.makeelement(qn("a:buAutoNum"), {"type": "arabicPeriod"})
    )
    broken = box.add_paragraph()
    broken.add_run().text = "first line"
    broken.add_line_break()
    broken.add_run().text = "second line"
    assert [(e.type, e.text) for e in load(save(deck))] == [
        ("paragraph", "Bullets off here"),
        ("list_item", "Numbered in a text box"),
        ("paragraph", "first line\nsecond line"),
    ]


def test_a_slide_that_cannot_be_read_is_a_warning_and_the_others_are_kept():
    deck = pptx.Presentation()
    broken = deck.slides.add_slide(deck.slide_layouts[BLANK])
    frame = broken.shapes.add_table(2, 2, 0, 0, Inches(2), Inches(1))
    table = frame._element.find(".//" + qn("a:tbl"))
    table.getparent().remove(table)  # a table frame without its table
    textbox(deck.slides.add_slide(deck.slide_layouts[BLANK]).shapes, "Still here", top=1, left=1)
    warnings: list[str] = []
    elements = load(save(deck), on_warning=warnings.append)
    assert [(e.page, e.text) for e in elements] == [(2, "Still here")]
    assert len(warnings) == 1 and warnings[0].startswith("slide 1: its text could not be read (")
    # With no slide readable at all, the file fails.
    deck.slides._sldIdLst.remove(deck.slides._sldIdLst[1])
    with pytest.raises(ValueError, match=r"not a readable \.pptx \(PowerPoint\) file: slide 1"):
        load(save(deck))


def text_picture(text: str) -> bytes:
    image = Image.new("RGB", (900, 200), "white")
    ImageDraw.Draw(image).text((40, 60), text, fill="black", font=ImageFont.load_default(size=40))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def picture_deck(picture: bytes) -> bytes:
    deck = pptx.Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[TITLE_ONLY])
    slide.shapes.title.text = "Scanned"
    group = slide.shapes.add_group_shape()  # a picture inside a group is found too
    group.shapes.add_picture(io.BytesIO(picture), Inches(1), Inches(2), width=Inches(6))
    return save(deck)


def test_pictures_are_read_by_ocr_only_when_the_upload_asks_for_it():
    data = picture_deck(text_picture("Invoice total 4200 EUR"))
    assert [e.type for e in load(data)] == ["title"]  # parser "auto": pictures are not read
    progress = []
    elements = load(data, parser="ocr", on_progress=lambda *p: progress.append(p))
    assert [(e.type, e.page, e.section) for e in elements] == [
        ("title", 1, "Scanned"),
        ("text", 1, "Scanned"),
    ]
    picture = elements[1]
    assert re.sub(r"\s+", " ", picture.text) == "Invoice total 4200 EUR"
    assert picture.metadata["slide"] == 1 and picture.metadata["ocr"] is True
    assert 0.8 < picture.metadata["ocr_confidence"] <= 1
    assert progress == [(1, 1)]


def test_a_picture_that_cannot_be_opened_is_a_warning_and_the_slide_is_kept():
    data = picture_deck(text_picture("unused"))
    patched = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(patched, "w") as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename.startswith("ppt/media/"):
                content = b"\x89PNG\r\n\x1a\n but cut off"
            target.writestr(item, content)
    warnings: list[str] = []
    elements = load(patched.getvalue(), parser="ocr", on_warning=warnings.append)
    assert [e.text for e in elements] == ["Scanned"]
    assert len(warnings) == 1
    assert warnings[0].startswith("slide 1: an image could not be read (its format cannot be")


def test_the_ocr_time_limit_is_at_least_a_second():
    assert PptxLoader.Settings().ocr_image_seconds == 60
    with pytest.raises(ValidationError):
        PptxLoader.Settings(ocr_image_seconds=0.5)


def test_a_deck_without_text_has_no_elements():
    assert load(save(pptx.Presentation())) == []  # no slides
    deck = pptx.Presentation()
    deck.slides.add_slide(deck.slide_layouts[TITLE_AND_CONTENT])  # empty placeholders
    slide = deck.slides.add_slide(deck.slide_layouts[BLANK])
    slide.shapes.add_table(2, 2, 0, 0, Inches(2), Inches(1))  # an empty table
    textbox(slide.shapes, "   ", top=1, left=1)
    assert load(save(deck)) == []


def test_an_encrypted_deck_is_refused_as_password_protected():
    data = CFB_MAGIC + bytes(504) + "EncryptedPackage".encode("utf-16-le") + bytes(1000)
    with pytest.raises(ValueError, match=r"secret\.pptx is encrypted / password protected"):
        load(data, "secret.pptx")


def test_a_legacy_ppt_file_is_refused_with_a_reason():
    with pytest.raises(ValueError, match=r"password protected or a legacy \.ppt file"):
        load(CFB_MAGIC + bytes(2000), "old.pptx")


def zipped(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return out.getvalue()


def with_part(data: bytes, name: str, content: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        files = {item: archive.read(item) for item in archive.namelist()}
    return zipped({**files, name: content})


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("text", r"not a \.pptx file \(it is not a zip package\): it may be truncated"),
        ("truncated", r"not a \.pptx file \(it is not a zip package\): it may be truncated"),
        ("other-zip", r"not a \.pptx \(PowerPoint\) file \(its zip package has no ppt/present"),
        ("document", r"has no ppt/presentation\.xml\): it is a Word document, not a present"),
        ("broken-xml", r"not a readable \.pptx \(PowerPoint\) file: "),
    ],
)
def test_a_file_that_is_not_a_deck_is_refused_with_a_reason(kind, reason):
    if kind == "text":
        data = b"Quarterly review\n- Revenue grew 12%\n"
    elif kind == "truncated":
        data = review_deck()[:500]
    elif kind == "other-zip":
        data = zipped({"readme.txt": b"not a deck"})
    elif kind == "document":
        out = io.BytesIO()
        docx.Document().save(out)
        data = out.getvalue()
    else:
        data = with_part(review_deck(), "ppt/presentation.xml", b"<p:presentation")
    with pytest.raises(ValueError, match=reason):
        load(data)


def test_it_is_registered_and_satisfies_the_contract():
    PptxLoader.check_contract()
    assert entry_points(group="ministudio.loaders")["pptx"].load() is PptxLoader
    assert PptxLoader.enabled_by_default is True
    assert PptxLoader.file_extensions == (".pptx",)
