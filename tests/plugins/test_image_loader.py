"""Images as documents (plugins.loaders.image): read by OCR, every page of a TIFF."""

import pytest

from plugins.base import LoaderInput
from plugins.loaders.image import ImageLoader, ImageSettings
from tests.plugins.ocr_images import encoded, text_image


def load(data: bytes, name: str = "scan.png", parser: str = "auto", settings=None, **values):
    warnings: list[str] = []
    progress: list[tuple[int, int]] = []
    source = LoaderInput(
        filename=name,
        data=data,
        parser=parser,
        on_warning=warnings.append,
        on_progress=lambda done, total: progress.append((done, total)),
    )
    elements = ImageLoader().load(source, settings or ImageSettings(**values))
    return elements, warnings, progress


@pytest.mark.parametrize(
    ("format", "name"), [("PNG", "a.png"), ("JPEG", "a.jpg"), ("WEBP", "a.webp"), ("BMP", "a.bmp")]
)
def test_each_format_is_read_with_ocr_metadata(format, name):
    elements, warnings, progress = load(encoded(text_image(["Invoice number 4711"]), format), name)
    assert [element.text for element in elements] == ["Invoice number 4711"]
    assert elements[0].page is None
    assert elements[0].metadata["ocr"] is True
    assert 0.9 < elements[0].metadata["ocr_confidence"] <= 1
    assert (warnings, progress) == ([], [(1, 1)])


def test_every_page_of_a_tiff_is_read_with_its_page_number():
    first, second = text_image(["First page text"]), text_image(["Second page text"])
    data = encoded(first, "TIFF", save_all=True, append_images=[second])
    elements, _, progress = load(data, "pages.tiff")
    assert [(element.page, element.text) for element in elements] == [
        (1, "First page text"),
        (2, "Second page text"),
    ]
    assert progress == [(1, 2), (2, 2)]


def test_pages_past_the_cap_are_named_in_the_warnings():
    pages = [text_image([f"Page {n}"]) for n in (1, 2, 3)]
    data = encoded(pages[0], "TIFF", save_all=True, append_images=pages[1:])
    elements, warnings, _ = load(data, "pages.tiff", ocr_max_pages=2)
    assert [element.page for element in elements] == [1, 2]
    assert warnings == [
        "only the first 2 of 3 pages were read (the image loader's ocr_max_pages setting)"
    ]


def test_pages_that_run_out_of_time_are_named_and_the_rest_kept():
    pages = [text_image(["Page one"]), text_image(["Page two"])]
    data = encoded(pages[0], "TIFF", save_all=True, append_images=pages[1:])
    # No page can be read in a microsecond (the setting's floor, 1 s, is bypassed here).
    hurried = ImageSettings.model_construct(ocr_page_seconds=1e-6, ocr_max_pages=200)
    with pytest.raises(ValueError, match=r"could not read any page .*page 1: OCR took longer"):
        load(data, "pages.tiff", settings=hurried)


def test_the_text_layer_parser_refuses_an_image_with_what_to_do():
    with pytest.raises(ValueError, match=r"no text layer.*'automatic' or 'OCR every page'"):
        load(encoded(text_image(["Anything"])), parser="text")


@pytest.mark.parametrize("data", [b"\x89PNG\r\n\x1a\n" + b"\0" * 40, b"not an image at all", b""])
def test_a_corrupt_image_is_refused_with_a_message(data):
    with pytest.raises(ValueError, match="not a readable image"):
        load(data)
