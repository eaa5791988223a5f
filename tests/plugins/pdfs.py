"""Small PDFs written by hand for the PDF loader's tests: pages of text placed where asked.

Latin text uses the standard Helvetica font. CJK text uses a Type0 font (Identity-H, not
embedded) whose ToUnicode map says which character each glyph id stands for: the way real
CJK PDFs with subset fonts are made, and all a text extractor reads. A viewer without the
font shows boxes, which the tests do not care about.
"""

import io

from pypdf import PdfReader, PdfWriter
from pypdf.constants import UserAccessPermissions

#: One piece of text on a page: x, y (points from the bottom left) and the text.
Line = tuple[float, float, str]
#: A ruling line drawn on a page: from x0, y0 to x1, y1 (points from the bottom left).
Rule = tuple[float, float, float, float]


def _is_cjk(text: str) -> bool:
    return any(ord(char) > 0xFF for char in text)


def _latin(text: str) -> bytes:
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return b"(" + escaped.encode("cp1252") + b")"


def _to_unicode(glyphs: dict[str, int]) -> bytes:
    entries = [f"<{gid:04X}> <{ord(char):04X}>" for char, gid in glyphs.items()]
    blocks = []
    for start in range(0, len(entries), 100):  # at most 100 entries per bfchar block
        chunk = entries[start : start + 100]
        blocks.append(f"{len(chunk)} beginbfchar\n" + "\n".join(chunk) + "\nendbfchar")
    return (
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
        "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
        "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
        + "\n".join(blocks)
        + "\nendcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n"
    ).encode("ascii")


def grid(
    x: float, y: float, widths: list[float], rows: list[list[str]]
) -> tuple[list[Line], list[Rule]]:
    """A table ruled on every side of every cell, its top left corner at ``x``, ``y``: the
    cells' text (rows 20 points high, columns ``widths`` wide) and the rules."""
    height = 20.0
    lines = [
        (x + sum(widths[:column]) + 4, y - height * (row + 1) + 6, text)
        for row, cells in enumerate(rows)
        for column, text in enumerate(cells)
    ]
    right, bottom = x + sum(widths), y - height * len(rows)
    rules = [(x, y - height * row, right, y - height * row) for row in range(len(rows) + 1)]
    rules += [(x + sum(widths[:c]), y, x + sum(widths[:c]), bottom) for c in range(len(widths) + 1)]
    return lines, rules


def build_pdf(pages: list[list[Line]], rules: list[list[Rule]] | None = None) -> bytes:
    """A PDF with one page per item of ``pages``, each line drawn in the order given, then
    the page's ``rules`` (a list per page) stroked."""
    glyphs: dict[str, int] = {}
    for page in pages:
        for _, _, text in page:
            if _is_cjk(text):
                for char in text:
                    glyphs.setdefault(char, len(glyphs) + 1)

    objects: list[bytes] = []  # object n is objects[n - 1]

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    def stream(data: bytes, extra: bytes = b"") -> bytes:
        return b"<< /Length %d%s >>\nstream\n%s\nendstream" % (len(data), extra, data)

    catalog = add(b"")  # filled in once the page tree exists
    page_tree = add(b"")
    helvetica = add(
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
    )
    descriptor = add(
        b"<< /Type /FontDescriptor /FontName /STSong-Light /Flags 4 /FontBBox [0 -200 1000 900]"
        b" /ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 700 /StemV 80 >>"
    )
    cid_font = add(
        b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /STSong-Light /CIDSystemInfo"
        b" << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >>"
        b" /FontDescriptor %d 0 R /DW 1000 /CIDToGIDMap /Identity >>" % descriptor
    )
    to_unicode = add(stream(_to_unicode(glyphs)))
    cjk_font = add(
        b"<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /Identity-H"
        b" /DescendantFonts [%d 0 R] /ToUnicode %d 0 R >>" % (cid_font, to_unicode)
    )
    kids = []
    for number, page in enumerate(pages):
        content = []
        for x, y, text in page:
            if _is_cjk(text):
                codes = "".join(f"{glyphs[char]:04X}" for char in text)
                shown, font = b"<" + codes.encode("ascii") + b">", b"/F2"
            else:
                shown, font = _latin(text), b"/F1"
            content.append(b"BT %s 12 Tf 1 0 0 1 %g %g Tm %s Tj ET" % (font, x, y, shown))
        page_rules = rules[number] if rules and number < len(rules) else []
        for x0, y0, x1, y1 in page_rules:
            content.append(b"0.5 w %g %g m %g %g l S" % (x0, y0, x1, y1))
        contents = add(stream(b"\n".join(content)))
        kids.append(
            add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Resources"
                b" << /Font << /F1 %d 0 R /F2 %d 0 R >> >> /Contents %d 0 R >>"
                % (page_tree, helvetica, cjk_font, contents)
            )
        )
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % page_tree
    objects[page_tree - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % kid for kid in kids),
        len(kids),
    )

    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
        % (len(objects) + 1, catalog, xref)
    )
    return out.getvalue()


def encrypt(pdf: bytes, *, user_password: str, copy_protect: bool = False) -> bytes:
    """``pdf`` encrypted (AES-128) with ``user_password``; ``copy_protect`` withholds the
    permission to copy text, as "copy-protected" PDFs do."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    permissions = UserAccessPermissions.PRINT if copy_protect else UserAccessPermissions.all()
    writer.encrypt(
        user_password=user_password,
        owner_password="owner secret",
        permissions_flag=permissions,
        algorithm="AES-128",
    )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
