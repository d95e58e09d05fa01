"""Sheets of asset labels: an A4 PDF, 3 × 8 labels of 70 × 37 mm, each with a QR code of the asset's page
(absolute URL), its tag and its model in text.

The QR code is drawn from segno's module matrix as a 1-bit image (one pixel per module, no
smoothing in the PDF), so no PNG is encoded and decoded per label. The mask pattern is fixed
(mask 0, a valid ISO/IEC 18004 mask): letting segno try the eight masks costs about 6× more and
2,400 labels would take ~15 s instead of ~2 s; every reader decodes any of the eight masks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import segno
from fpdf import FPDF
from PIL import Image

COLUMNS, ROWS = 3, 8
PER_PAGE = COLUMNS * ROWS
PAGE_W, PAGE_H = 210.0, 297.0
LABEL_W, LABEL_H = PAGE_W / COLUMNS, PAGE_H / ROWS  # 70 × 37.125 mm
PADDING = 3.5  # mm kept blank inside each label (printer margins, cutting)
QR_SIZE = 28.0  # mm, the QR code with its quiet zone (vertically centred)
QR_BORDER = 2  # quiet zone, in modules (the standard asks 4; the label's blank padding adds the rest)
MAX_LABELS = 2400  # 100 pages


@dataclass(frozen=True)
class Label:
    tag: str
    model: str
    url: str
    place: tuple[str, ...] = ()  # where it is: school and class, or site (one line each)


def qr_matrix(url: str) -> list[list[bool]]:
    """The QR code of `url` as rows of dark (True) / light modules, without quiet zone."""
    code = segno.make_qr(url, error="m", mask=0)
    return [[bool(v) for v in row] for row in code.matrix]


def qr_image(url: str, border: int = QR_BORDER) -> Image.Image:
    """A 1-bit image, one pixel per module, quiet zone of `border` modules included."""
    matrix = qr_matrix(url)
    size = len(matrix) + 2 * border
    white, dark = 255, 0
    blank = [white] * size
    rows = ([blank] * border
            + [[white] * border + [dark if d else white for d in row] + [white] * border for row in matrix]
            + [blank] * border)
    image = Image.new("1", (size, size), white)
    image.putdata([v for row in rows for v in row])
    return image


def _latin1(text: str) -> str:
    """The PDF core fonts are Latin-1: keep French letters, spell out the few others."""
    text = text.replace("\u2019", "'").replace("\u0153", "oe").replace("\u0152", "OE")
    text = text.replace("\u2013", "-").replace("\u2014", "-")
    return text.encode("latin-1", "replace").decode("latin-1")


def _fit(pdf: FPDF, text: str, width: float) -> str:
    """Cut a text to the width (with an ellipsis) rather than overflow into the next label."""
    text = _latin1(text)
    if pdf.get_string_width(text) <= width:
        return text
    while text and pdf.get_string_width(text + "...") > width:
        text = text[:-1]
    return text + "..."


def labels_pdf(labels: Iterable[Label], title: str = "") -> bytes:
    """The PDF sheet(s) for the labels, in the given order; an empty iterable gives one blank page.

    Text right of the QR code: the tag (bold), then the model and the place, one line each, cut
    with "..." to the label's width."""
    pdf = FPDF(unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_margins(0, 0, 0)
    pdf.set_creator("Préau")
    if title:
        pdf.set_title(_latin1(title))
    text_x = PADDING + QR_SIZE + 2
    text_w = LABEL_W - text_x - PADDING
    count = 0
    for count, label in enumerate(labels, start=1):
        index = (count - 1) % PER_PAGE
        if index == 0:
            pdf.add_page()
        row, col = divmod(index, COLUMNS)
        x, y = col * LABEL_W, row * LABEL_H
        pdf.image(qr_image(label.url), x=x + PADDING, y=y + (LABEL_H - QR_SIZE) / 2, w=QR_SIZE, h=QR_SIZE)
        pdf.set_xy(x + text_x, y + PADDING + 2)
        pdf.set_font("Helvetica", "B", 11)
        pdf.cell(text_w, 5, _fit(pdf, label.tag, text_w))
        pdf.set_font("Helvetica", "", 8)
        for i, line in enumerate([label.model, *label.place][:5]):
            pdf.set_xy(x + text_x, y + PADDING + 9 + 4 * i)
            pdf.cell(text_w, 4, _fit(pdf, line, text_w))
    if count == 0:
        pdf.add_page()
    return bytes(pdf.output())
