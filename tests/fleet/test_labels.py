"""QR label sheets: a valid A4 PDF, the right number of pages, the QR codes hold the asset pages' URLs.

The QR images are read back from the PDF itself (fpdf2 stores 1-bit images as CCITT G4, which
Pillow decodes through libtiff) and compared with segno's encoding of the expected URL; where
Debian's zbar-tools and poppler-utils are installed, zbarimg also decodes the rendered page.
"""

import io
import re
import shutil
import struct
import subprocess
import zlib
from datetime import date

import pytest
import segno
from django.urls import reverse
from PIL import Image, features

from preau.fleet import labels, views_assets
from preau.fleet.lifecycle import Status
from preau.fleet.models import Asset, Category

pytestmark = pytest.mark.django_db


def page_count(pdf: bytes) -> int:
    return len(re.findall(rb"/Type /Page\b(?!s)", pdf))


def page_text(pdf: bytes) -> bytes:
    """The pages' content streams, inflated (fpdf2 compresses them), where the labels' text is."""
    return b"".join(zlib.decompress(pdf[m.end():m.end() + int(m.group(1))])
                    for m in re.finditer(rb"/Filter /FlateDecode\n/Length (\d+)\n>>\nstream\n", pdf))


def _tiff_g4(width: int, height: int, data: bytes) -> bytes:
    """A minimal TIFF around a CCITT G4 strip, so Pillow (libtiff) can decode it."""
    tags = [(256, width), (257, height), (258, 1), (259, 4), (262, 1), (273, None), (278, height), (279, len(data))]
    offset = 8 + 2 + 12 * len(tags) + 4
    out = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", len(tags))
    for tag, value in tags:
        if tag in (273, 279):
            out += struct.pack("<HHII", tag, 4, 1, offset if value is None else value)
        else:
            out += struct.pack("<HHIHH", tag, 3, 1, value, 0)
    return out + struct.pack("<I", 0) + data


def qr_images(pdf: bytes) -> list[list[list[bool]]]:
    """Every 1-bit image of the PDF as rows of dark (True) pixels."""
    images = []
    for m in re.finditer(rb"/Columns (\d+) /K -1 /Rows (\d+).*?/Length (\d+)\n.*?stream\n", pdf, re.S):
        width, height, length = map(int, m.groups())
        image = Image.open(io.BytesIO(_tiff_g4(width, height, pdf[m.end():m.end() + length])))
        image.load()
        images.append([[image.getpixel((x, y)) == 0 for x in range(width)] for y in range(height)])
    return images


def expected_modules(url: str) -> list[list[bool]]:
    """segno's QR code for the URL with the label's quiet zone, independently of preau.fleet.labels."""
    matrix = [[bool(v) for v in row] for row in segno.make_qr(url, error="m", mask=0).matrix]
    n, border = len(matrix), labels.QR_BORDER
    blank = [False] * (n + 2 * border)
    return [blank] * border + [[False] * border + row + [False] * border for row in matrix] + [blank] * border


def _bulk(fleet, n):
    Asset.objects.bulk_create([Asset(tag=f"LBL-{i:04d}", model=fleet.epson, category=Category.PROJECTOR,
                                     status=Status.IN_STOCK, site=fleet.depot, purchased_on=date(2020, 1, 1))
                               for i in range(n)])


def test_labels_pdf_is_valid_with_one_qr_per_asset(login, cast, fleet):
    response = login(cast.technician).get(reverse("fleet:labels") + "?school=0429901J")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    pdf = response.content
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert page_count(pdf) == 1
    text = page_text(pdf)
    for tag in ("SEM-00001", "SEM-00002", "SEM-00003", "SEM-00006"):
        assert f"({tag})".encode() in text  # the tag in text
    assert b"(SEM-00004)" not in text  # another school
    assert "(École des Tilleuls)".encode("latin-1") in text and b"(Classe 1)" in text
    if not features.check("libtiff"):
        pytest.skip("Pillow without libtiff: cannot read the QR images back")
    images = qr_images(pdf)
    assert len(images) == 4
    for tag, image in zip(["SEM-00001", "SEM-00002", "SEM-00003", "SEM-00006"], images, strict=True):
        assert image == expected_modules(f"http://testserver/parc/appareils/{tag}/"), tag
    assert images[0] != expected_modules("http://testserver/parc/appareils/SEM-00004/")


def test_labels_of_chosen_tags_and_page_count(login, cast, fleet):
    _bulk(fleet, 49)
    client = login(cast.technician)
    pdf = client.get(reverse("fleet:labels") + "?category=projector").content
    assert page_count(pdf) == 3  # 50 labels, 24 a page
    pdf = client.get(reverse("fleet:labels") + "?tag=SEM-00004,SEM-00005&tag=LBL-0007").content
    assert page_count(pdf) == 1
    text = page_text(pdf)
    assert b"(SEM-00004)" in text and b"(SEM-00005)" in text and b"(LBL-0007)" in text
    assert b"(SEM-00001)" not in text and b"(Epson EB-680Wi)" in text


def test_labels_cap_and_empty_selection(login, cast, fleet, monkeypatch):
    client = login(cast.technician)
    monkeypatch.setattr(views_assets, "MAX_LABELS", 5)
    response = client.get(reverse("fleet:labels"))
    assert response.status_code == 400
    assert "Plus de 5 étiquettes demandées" in response.content.decode()
    assert client.get(reverse("fleet:labels") + "?school=0429902K").status_code == 200
    response = client.get(reverse("fleet:labels") + "?tag=NOPE")
    assert response.status_code == 400 and "Aucun appareil ne correspond" in response.content.decode()


def test_labels_are_for_the_fleet_team(login, cast, fleet):
    for who in ("teacher_sa1", "director_sa1", "commune_a_staff", "committee", "workshop"):
        assert login(getattr(cast, who)).get(reverse("fleet:labels")).status_code == 403, who


def test_label_sheet_layout_and_text_fallback():
    items = [labels.Label(tag=f"T{i}", model="Modèle « X » – cœur", url=f"https://example.org/{i}",
                          place=("École — la plus longue des écoles de la commune", "Classe 1")) for i in range(25)]
    pdf = labels.labels_pdf(items)
    assert page_count(pdf) == 2
    text = page_text(pdf)
    assert "(Modèle « X » - coeur)".encode("latin-1") in text
    assert "(École - la plus longue d...)".encode("latin-1") in text  # cut to the width
    assert page_count(labels.labels_pdf([])) == 1
    assert labels._latin1("cœur – École") == "coeur - École"


@pytest.mark.skipif(not (shutil.which("zbarimg") and shutil.which("pdftoppm")),
                    reason="zbar-tools and poppler-utils (Debian) not installed")
def test_zbarimg_reads_the_urls(login, cast, fleet, tmp_path):
    pdf = login(cast.technician).get(reverse("fleet:labels") + "?school=0429901J").content
    (tmp_path / "labels.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "150", "-png", str(tmp_path / "labels.pdf"), str(tmp_path / "page")],
                   check=True, capture_output=True)
    out = subprocess.run(["zbarimg", "-q", "--raw", *sorted(str(p) for p in tmp_path.glob("page*.png"))],
                         capture_output=True, text=True).stdout.split()
    assert sorted(out) == [f"http://testserver/parc/appareils/{tag}/"
                           for tag in ("SEM-00001", "SEM-00002", "SEM-00003", "SEM-00006")]
