"""Attachments of help requests: photos and PDFs, checked by their CONTENT (never by their name).

- Images are opened with Pillow (JPEG, PNG, WebP; HEIC through pillow-heif), turned upright
  (EXIF orientation), re-encoded without their metadata (EXIF, GPS) and resized to PREAU_HELPDESK_IMAGE_MAX_PX
  (1600 px) at most: what is stored is always an image we wrote ourselves.
- PDFs must start with the %PDF- header, end with %%EOF and hold objects; a PDF with JavaScript or a
  launch action is refused. They are stored as sent and always served as a download.
- Limits: PREAU_HELPDESK_ATTACHMENT_MAX_BYTES (10 MB) a file, PREAU_HELPDESK_ATTACHMENT_MAX_COUNT (6) a
  sending, MAX_PER_TICKET (30) a request.
- Files live under DATA_DIR/helpdesk/ under a random name (outside the static and media trees); the
  request's page serves them through its access rules (views.attachment).

`prepare()` checks everything before anything is written; `store()` writes the files and rows inside the
caller's transaction and removes the files again if the transaction fails: nothing is half-written.
"""

from __future__ import annotations

import io
import re
import secrets
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError
from pillow_heif import register_heif_opener

from .models import Attachment

register_heif_opener()  # HEIC photos of phones (pillow-heif)

MAX_PER_TICKET = 30
MAX_PIXELS = 60_000_000  # a "photo" beyond this is a decompression bomb, not a photo
IMAGE_FORMATS = {"JPEG", "PNG", "WEBP", "MPO", "HEIF"}
PDF_FORBIDDEN = (b"/JavaScript", b"/JS", b"/Launch", b"/EmbeddedFile")


class AttachmentRefused(ValueError):
    """A refused file; str() is a French sentence naming the file."""


def max_bytes() -> int:
    return int(getattr(settings, "PREAU_HELPDESK_ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024))


def max_count() -> int:
    return int(getattr(settings, "PREAU_HELPDESK_ATTACHMENT_MAX_COUNT", 6))


def max_px() -> int:
    return int(getattr(settings, "PREAU_HELPDESK_IMAGE_MAX_PX", 1600))


def root() -> Path:
    base = getattr(settings, "PREAU_DATA_DIR", None) or settings.DATA_DIR
    return Path(base) / "helpdesk"


def path_of(stored_name: str) -> Path:
    if not re.fullmatch(r"[0-9a-f]{32}\.(jpg|png|pdf)", stored_name):
        raise ValueError(stored_name)
    return root() / stored_name[:2] / stored_name


@dataclass
class Prepared:
    name: str
    content_type: str
    data: bytes
    width: int | None = None
    height: int | None = None

    @property
    def extension(self) -> str:
        return {"image/jpeg": "jpg", "image/png": "png", "application/pdf": "pdf"}[self.content_type]


def _clean_name(name: str) -> str:
    name = Path(str(name or "")).name.replace("\x00", "")
    return (name.strip() or _("fichier"))[:200]


def _human(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} Mo" if n >= 1024 * 1024 else f"{max(1, n // 1024)} Ko"


def _image(name: str, data: bytes) -> Prepared:
    try:
        with Image.open(io.BytesIO(data)) as probe:
            fmt = probe.format
            if fmt not in IMAGE_FORMATS:
                raise AttachmentRefused(_("« %(f)s » : format d'image non accepté (%(t)s). Envoyez une photo JPEG, "
                                          "PNG, WebP ou HEIC.") % {"f": name, "t": fmt})
            if probe.width * probe.height > MAX_PIXELS:
                raise AttachmentRefused(_("« %(f)s » : image trop grande (%(w)s × %(h)s pixels).")
                                        % {"f": name, "w": probe.width, "h": probe.height})
            probe.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            image = ImageOps.exif_transpose(image)
            limit = max_px()
            image.thumbnail((limit, limit), Image.Resampling.LANCZOS)
            out = io.BytesIO()
            keeps_alpha = image.mode in ("RGBA", "LA", "P") and fmt in ("PNG", "WEBP")
            if keeps_alpha:
                image = image.convert("RGBA")
                image.save(out, "PNG", optimize=True)  # no info= : no metadata copied
                content_type = "image/png"
            else:
                image = image.convert("RGB")
                image.save(out, "JPEG", quality=85, optimize=True)
                content_type = "image/jpeg"
            return Prepared(name, content_type, out.getvalue(), image.width, image.height)
    except AttachmentRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise AttachmentRefused(_("« %(f)s » : image trop grande.") % {"f": name}) from None
    except (OSError, SyntaxError, ValueError, UnidentifiedImageError):
        raise AttachmentRefused(_("« %(f)s » : image illisible ou abîmée.") % {"f": name}) from None


def _pdf(name: str, data: bytes) -> Prepared:
    tail = data[-2048:]
    if b"%%EOF" not in tail or b" obj" not in data or b"endobj" not in data:
        raise AttachmentRefused(_("« %(f)s » : ce PDF est incomplet ou abîmé.") % {"f": name})
    if any(marker in data for marker in PDF_FORBIDDEN):
        raise AttachmentRefused(_("« %(f)s » : ce PDF contient du code ou des fichiers intégrés ; "
                                  "il est refusé par sécurité.") % {"f": name})
    return Prepared(name, "application/pdf", data)


def check_one(uploaded) -> Prepared:
    """One uploaded file, checked by its content; raises AttachmentRefused (French, naming the file)."""
    name = _clean_name(getattr(uploaded, "name", ""))
    size = getattr(uploaded, "size", None)
    if size is not None and size > max_bytes():
        raise AttachmentRefused(_("« %(f)s » est trop lourd (%(s)s ; %(m)s au plus).")
                                % {"f": name, "s": _human(size), "m": _human(max_bytes())})
    data = uploaded.read(max_bytes() + 1)
    if len(data) > max_bytes():
        raise AttachmentRefused(_("« %(f)s » est trop lourd (%(m)s au plus).") % {"f": name, "m": _human(max_bytes())})
    if not data:
        raise AttachmentRefused(_("« %(f)s » est vide.") % {"f": name})
    if data.startswith(b"%PDF-"):
        return _pdf(name, data)
    try:
        with Image.open(io.BytesIO(data)):
            pass
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise AttachmentRefused(_("« %(f)s » n'est ni une photo (JPEG, PNG, WebP, HEIC) ni un PDF : fichier refusé, "
                                  "quel que soit son nom.") % {"f": name}) from None
    return _image(name, data)


def prepare(files, *, already: int = 0) -> list[Prepared]:
    """Every file checked before anything is written; the first refusal stops all (nothing half-sent)."""
    files = [f for f in files if f]
    if len(files) > max_count():
        raise AttachmentRefused(_("%(n)s fichiers envoyés : %(m)s au plus à la fois.") % {"n": len(files),
                                                                                        "m": max_count()})
    if already + len(files) > MAX_PER_TICKET:
        raise AttachmentRefused(_("Cette demande a déjà %(n)s pièces jointes : %(m)s au plus.")
                                % {"n": already, "m": MAX_PER_TICKET})
    return [check_one(f) for f in files]


@contextmanager
def all_or_nothing():
    """Wrap the transaction that stores attachments: yields the list store() appends its files to; if
    anything inside fails (validation, database, commit), the files written are removed again.

        with attachments.all_or_nothing() as written, transaction.atomic():
            ticket = services.do_create_ticket(...)
            attachments.store(ticket, prepared, user, written=written)
    """
    written: list[Path] = []
    try:
        yield written
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise


def store(ticket, prepared: list[Prepared], user, *, written: list[Path], comment=None, now=None) -> list[Attachment]:
    """Write the files and their rows, inside the caller's transaction and all_or_nothing()."""
    now = now or timezone.now()
    rows = []
    for item in prepared:
        stored = f"{secrets.token_hex(16)}.{item.extension}"
        path = path_of(stored)
        path.parent.mkdir(parents=True, exist_ok=True)
        written.append(path)
        path.write_bytes(item.data)
        rows.append(Attachment.objects.create(
            ticket=ticket, comment=comment, stored_name=stored, original_name=item.name,
            content_type=item.content_type, size=len(item.data), width=item.width, height=item.height,
            uploaded_by=user if user is not None and user.is_authenticated else None, created_at=now))
    return rows
