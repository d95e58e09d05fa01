"""Attachments: checked by content (an executable named .jpg is refused, naming the file), size and count
limits, images re-encoded (EXIF gone, upright, 1600 px at most), stored outside static/media under a
random name, served only through the request's access rules; nothing half-written."""

import io
import random

import pytest
from django.db import transaction
from django.urls import reverse
from PIL import Image

from preau.helpdesk import attachments, services
from preau.helpdesk.models import Attachment, Category, Ticket

from .fixtures_tickets import EXE, PDF, jpeg_bytes, png_bytes, upload

pytestmark = pytest.mark.django_db
NEW = reverse("helpdesk:new")


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path):
    settings.PREAU_DATA_DIR = tmp_path
    return tmp_path


def files_on_disk(root):
    return sorted(p for p in (root / "helpdesk").rglob("*") if p.is_file()) if (root / "helpdesk").exists() else []


def post_new(client, *files, **data):
    payload = {"category": Category.objects.get(slug="projector").pk, "description": "Écran noir", **data}
    payload["photos"] = list(files)
    return client.post(NEW, payload)


def test_photo_is_reencoded_upright_resized_without_exif(cast, login, data_dir):
    response = post_new(login(cast.teacher_sa1), upload("photo.jpg", jpeg_bytes((2400, 1200), exif_orientation=6)),
                        upload("plan.pdf", PDF, "application/pdf"))
    assert response.status_code == 302, response.content.decode()[:1500]
    ticket = Ticket.objects.get()
    photo, pdf = ticket.attachments.order_by("pk")
    assert (photo.original_name, photo.content_type, photo.width, photo.height) == ("photo.jpg", "image/jpeg", 800, 1600)
    stored = attachments.path_of(photo.stored_name)
    assert stored.is_relative_to(data_dir / "helpdesk") and "photo" not in stored.name
    with Image.open(stored) as image:
        assert image.size == (800, 1600)
        assert not image.getexif()  # orientation and maker gone
    assert pdf.content_type == "application/pdf" and attachments.path_of(pdf.stored_name).read_bytes() == PDF


def test_served_with_safe_headers_and_access_rules(cast, login):
    post_new(login(cast.teacher_sa1), upload("photo.png", png_bytes()), upload("plan.pdf", PDF, "application/pdf"))
    ticket = Ticket.objects.get()
    photo, pdf = ticket.attachments.order_by("pk")
    url = reverse("helpdesk:attachment", args=[ticket.pk, photo.pk])
    response = login(cast.technician).get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png" and response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("inline") and "photo.png" in response["Content-Disposition"]
    assert b"".join(response.streaming_content).startswith(b"\x89PNG")
    response = login(cast.teacher_sa1).get(reverse("helpdesk:attachment", args=[ticket.pk, pdf.pk]))
    assert response["Content-Type"] == "application/pdf" and response["Content-Disposition"].startswith("attachment")
    assert login(cast.director_sb1).get(url).status_code == 404
    assert login(cast.workshop).get(url).status_code == 404
    # an attachment id of another request is not reachable through this one
    other = services.do_create_ticket(cast.technician, school=cast.sa1, category=ticket.category, notify_party=False)
    assert login(cast.technician).get(reverse("helpdesk:attachment", args=[other.pk, photo.pk])).status_code == 404


def test_disguised_executable_refused_naming_the_file(cast, login, data_dir):
    response = post_new(login(cast.teacher_sa1), upload("photo.png", png_bytes()), upload("vacances.jpg", EXE))
    assert response.status_code == 400
    html = response.content.decode()
    assert "« vacances.jpg »" in html and "ni une photo" in html
    assert not Ticket.objects.exists() and not Attachment.objects.exists() and files_on_disk(data_dir) == []


def test_html_and_script_pdfs_refused(cast, login):
    client = login(cast.teacher_sa1)
    response = post_new(client, upload("page.jpg", b"<html><script>alert(1)</script></html>", "image/jpeg"))
    assert response.status_code == 400 and "« page.jpg »" in response.content.decode()
    evil = PDF.replace(b"/Type /Catalog", b"/Type /Catalog /OpenAction << /S /JavaScript /JS (app.alert(1)) >>")
    response = post_new(client, upload("devis.pdf", evil, "application/pdf"))
    assert response.status_code == 400 and "contient du code" in response.content.decode()
    response = post_new(client, upload("coupe.pdf", PDF[:40], "application/pdf"))
    assert response.status_code == 400 and "incomplet" in response.content.decode()
    assert not Ticket.objects.exists()


def test_oversized_and_too_many_refused(cast, login, settings, data_dir):
    settings.PREAU_HELPDESK_ATTACHMENT_MAX_BYTES = 50_000
    client = login(cast.teacher_sa1)
    big = jpeg_bytes((3000, 3000))
    noise = Image.frombytes("RGB", (400, 400), random.Random(7).randbytes(400 * 400 * 3))
    out = io.BytesIO()
    noise.save(out, "PNG")
    assert len(out.getvalue()) > 50_000
    response = post_new(client, upload("enorme.png", out.getvalue(), "image/png"))
    assert response.status_code == 400 and "« enorme.png » est trop lourd" in response.content.decode()
    settings.PREAU_HELPDESK_ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024
    settings.PREAU_HELPDESK_ATTACHMENT_MAX_COUNT = 2
    response = post_new(client, *[upload(f"p{i}.jpg", big) for i in range(3)])
    assert response.status_code == 400 and "2 au plus" in response.content.decode()
    assert not Ticket.objects.exists() and files_on_disk(data_dir) == []


def test_internal_note_attachment_hidden_from_the_school(cast, login):
    ticket = services.do_create_ticket(cast.teacher_sa1, school=cast.sa1, notify_party=False,
                                       category=Category.objects.get(slug="projector"))
    url = reverse("helpdesk:ticket-action", args=[ticket.pk, "message"])
    response = login(cast.technician).post(url, {"body": "Schéma interne", "internal": "on",
                                                 "photos": [upload("schema.png", png_bytes())]})
    assert response.status_code == 302
    att = Attachment.objects.get()
    assert att.comment.internal
    file_url = reverse("helpdesk:attachment", args=[ticket.pk, att.pk])
    assert login(cast.technician).get(file_url).status_code == 200
    assert login(cast.teacher_sa1).get(file_url).status_code == 404
    assert file_url not in login(cast.teacher_sa1).get(reverse("helpdesk:ticket", args=[ticket.pk])).content.decode()
    assert file_url in login(cast.technician).get(reverse("helpdesk:ticket", args=[ticket.pk])).content.decode()


def test_files_removed_when_the_transaction_fails(cast, data_dir):
    ticket = services.do_create_ticket(cast.teacher_sa1, school=cast.sa1, notify_party=False,
                                       category=Category.objects.get(slug="projector"))
    prepared = attachments.prepare([upload("a.png", png_bytes())])
    with pytest.raises(RuntimeError):
        with attachments.all_or_nothing() as written, transaction.atomic():
            attachments.store(ticket, prepared, cast.teacher_sa1, written=written)
            assert len(files_on_disk(data_dir)) == 1
            raise RuntimeError("database went away")
    assert files_on_disk(data_dir) == [] and not Attachment.objects.exists()


def test_path_of_refuses_forged_names():
    for name in ("../../etc/passwd", "x.jpg", "0" * 32 + ".exe"):
        with pytest.raises(ValueError):
            attachments.path_of(name)@pytest.mark.django_db
def test_heic_photo_of_a_phone_is_stored_as_jpeg_without_its_metadata(cast, login, data_dir):
    image, out = Image.new("RGB", (3024, 4032), (30, 120, 200)), io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    image.save(out, "HEIF", exif=exif.tobytes())
    assert out.getvalue()[4:12] == b"ftypheic"
    response = post_new(login(cast.teacher_sa1), upload("IMG_0042.HEIC", out.getvalue(), "image/heic"))
    assert response.status_code == 302, response.content.decode()[:1500]
    photo = Ticket.objects.get().attachments.get()
    assert (photo.original_name, photo.content_type, photo.width, photo.height) == (
        "IMG_0042.HEIC", "image/jpeg", 1200, 1600)
    with Image.open(attachments.path_of(photo.stored_name)) as stored:
        assert stored.format == "JPEG" and not stored.getexif()



