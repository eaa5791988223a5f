"""Images of text drawn here, for OCR tests: large, clear print that recognition reads
exactly, so tests can compare words."""

import io

from PIL import Image, ImageDraw, ImageFont


def text_image(lines: list[str], *, size: tuple[int, int] = (1400, 600), columns: int = 1):
    """A white image with ``lines`` in black, 48 px print; with ``columns`` = 2 the lines
    are dealt into two columns, the first half on the left."""
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=48)
    per_column = -(-len(lines) // columns)
    for index, line in enumerate(lines):
        column, row = divmod(index, per_column)
        draw.text((60 + column * size[0] // 2, 60 + row * 90), line, fill="black", font=font)
    return image


def encoded(image, format: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()
