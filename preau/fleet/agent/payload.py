"""The raw body an agent POSTs -> the bytes of one XML or JSON document, within a size limit.

FusionInventory and GLPI Agent compress with zlib (Content-Type application/x-compress-zlib)
or gzip (application/x-compress-gzip), or send plain XML/JSON (--no-compression). The content
type is a hint; the magic bytes decide. Decompression is bounded (`max_length`), so a zip bomb
stops at the limit instead of filling the memory.
"""

from __future__ import annotations

import zlib

from django.conf import settings
from django.utils.translation import gettext as _

DEFAULT_MAX_BYTES = 5 * 1024 * 1024


class PayloadError(ValueError):
    """A body that cannot be read; str() is a short French sentence, `status` the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def max_bytes() -> int:
    """The PREAU_AGENT_MAX_BYTES setting (5 MB by default): the limit once decompressed."""
    return int(getattr(settings, "PREAU_AGENT_MAX_BYTES", DEFAULT_MAX_BYTES) or DEFAULT_MAX_BYTES)


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} Mo" if n >= 1024 * 1024 else f"{n // 1024} Ko"


def too_big(limit: int) -> PayloadError:
    return PayloadError(_("Inventaire trop volumineux : plus de %(n)s une fois décompressé.") % {"n": _size(limit)},
                        status=413)


def is_zlib(data: bytes) -> bool:
    return len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0 and data[0] >> 4 <= 7


def is_gzip(data: bytes) -> bool:
    return data[:2] == b"\x1f\x8b"


def decompress(data: bytes, limit: int) -> bytes:
    """zlib (RFC 1950) or gzip (RFC 1952) -> at most `limit` bytes, or PayloadError (413 beyond, 400 if broken)."""
    inflater = zlib.decompressobj(32 + zlib.MAX_WBITS)  # 32: accept both the zlib and the gzip header
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error:
        raise PayloadError(_("Données compressées illisibles (zlib/gzip invalide).")) from None
    if len(out) > limit:
        raise too_big(limit)
    if not inflater.eof:
        raise PayloadError(_("Données compressées tronquées : l'envoi est incomplet."))
    return out


def decode(raw: bytes, content_type: str = "", limit: int | None = None) -> bytes:
    """The document inside a body: decompressed when it is zlib or gzip, as is when it is plain XML or JSON."""
    limit = limit if limit is not None else max_bytes()
    if not raw:
        raise PayloadError(_("Envoi vide : aucun inventaire reçu."))
    if is_zlib(raw) or is_gzip(raw):
        return decompress(raw, limit)
    if "compress" in (content_type or "").lower() and raw.lstrip()[:1] not in (b"<", b"{", b"\xef"):
        raise PayloadError(_("Données annoncées compressées mais ni zlib ni gzip."))
    if len(raw) > limit:
        raise too_big(limit)
    return raw


def read_request(request, limit: int | None = None) -> bytes:
    """Read at most limit+1 bytes of the request body (bypassing Django's in-memory cap), then decode()."""
    limit = limit if limit is not None else max_bytes()
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise too_big(limit)
    raw = request.read(limit + 1)
    if len(raw) > limit:
        raise too_big(limit)
    return decode(raw, request.META.get("CONTENT_TYPE", ""), limit)
