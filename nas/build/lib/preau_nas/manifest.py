"""Manifests: a small signed JSON header plus a binary *body* stored as chunks.

Header (signed payload, see keys.py)::

    {"format": "preau-manifest/1", "collection": "boot-images", "version": 7,
     "created": "2026-12-04T16:00:00Z", "expires": "2027-03-04T16:00:00Z",
     "previous": "<manifest id of version 6>" | null,
     "total_size": 123, "files": 10, "dirs": 3,
     "body": {"id": "<blake3 of body>", "size": 4567, "chunks": [["<id>", 4567], ...]}}

Body (binary, little-endian, entries sorted by path, strictly increasing)::

    b"PNB1" u32 count
    entry: u8 kind (1 dir, 2 file) u16 len path(utf-8) u16 mode
           file only: u8 profile u64 size u32 n, n*32 bytes ids, n*u32 lengths

The body is chunked like any file, so a new version downloads only the parts
of the file list that changed.
"""

from __future__ import annotations

import struct
import sys
from array import array
from dataclasses import dataclass, field

import blake3

from .chunks import ID_LEN, MAX_CHUNK, PROFILE_NAMES
from .errors import FormatError
from .keys import open_envelope
from .util import check_hash, check_name, parse_time

FORMAT = "preau-manifest/1"
BODY_MAGIC = b"PNB1"
KIND_DIR, KIND_FILE = 1, 2
MAX_ENTRIES = 10_000_000
MAX_BODY = 1 << 31


@dataclass
class DirEntry:
    path: str
    mode: int


@dataclass
class FileEntry:
    path: str
    mode: int
    size: int
    profile: int
    ids: bytes | memoryview  # n * 32 bytes (a view into the body when parsed: no copy)
    lens: array = field(default_factory=lambda: array("I"))

    @property
    def count(self) -> int:
        return len(self.lens)

    def chunk(self, i: int) -> bytes:
        return bytes(self.ids[i * ID_LEN:(i + 1) * ID_LEN])

    def signature(self) -> bytes:
        """Identity of the content (not the name): equal => byte-identical file."""
        h = blake3.blake3(self.ids)
        h.update(self.size.to_bytes(8, "little"))
        return h.digest()


def check_path(p: str, what: str) -> str:
    if (not p or p.startswith("/") or p.endswith("/") or "\x00" in p or "\\" in p
            or any(part in ("", ".", "..") for part in p.split("/"))):
        raise FormatError(f"{what}: unsafe path {p!r}")
    return p


def encode_body(entries) -> bytes:
    out = bytearray(BODY_MAGIC)
    out += struct.pack("<I", len(entries))
    prev = None
    for e in entries:
        pb = e.path.encode()
        if prev is not None and pb <= prev:
            raise ValueError("entries must be sorted by path")
        prev = pb
        if isinstance(e, FileEntry):
            out += struct.pack("<BH", KIND_FILE, len(pb)) + pb
            lens = array("I", e.lens)
            if sys.byteorder == "big":
                lens.byteswap()
            out += struct.pack("<HBQI", e.mode, e.profile, e.size, len(lens)) + e.ids + lens.tobytes()
        else:
            out += struct.pack("<BH", KIND_DIR, len(pb)) + pb + struct.pack("<H", e.mode)
    return bytes(out)


def parse_body(data: bytes, what: str = "manifest body") -> list:
    """Parse a body; raise FormatError on anything malformed (fuzzed).

    Chunk ids of the entries are views into ``data`` (no copy: a 4 GiB disk
    image has a million chunks)."""
    mv = memoryview(data if isinstance(data, (bytes, bytearray)) else bytes(data))
    n = len(mv)
    if n < 8 or bytes(mv[:4]) != BODY_MAGIC:
        raise FormatError(f"{what}: bad magic")
    (count,) = struct.unpack_from("<I", mv, 4)
    if count > MAX_ENTRIES:
        raise FormatError(f"{what}: too many entries")
    pos = 8
    entries = []
    prev = b""
    big_endian = sys.byteorder == "big"
    try:
        for _ in range(count):
            kind, plen = struct.unpack_from("<BH", mv, pos)
            pos += 3
            if pos + plen > n:
                raise FormatError(f"{what}: truncated path")
            pb = bytes(mv[pos:pos + plen])
            pos += plen
            if entries and pb <= prev:
                raise FormatError(f"{what}: entries not sorted or duplicated at {pb!r}")
            prev = pb
            try:
                path = check_path(pb.decode("utf-8"), what)
            except UnicodeDecodeError as exc:
                raise FormatError(f"{what}: path not UTF-8") from exc
            if kind == KIND_DIR:
                (mode,) = struct.unpack_from("<H", mv, pos)
                pos += 2
                entries.append(DirEntry(path, mode & 0o7777))
            elif kind == KIND_FILE:
                mode, profile, size, cnt = struct.unpack_from("<HBQI", mv, pos)
                pos += 15
                if profile not in PROFILE_NAMES:
                    raise FormatError(f"{what}: {path}: unknown profile {profile}")
                end_ids = pos + cnt * ID_LEN
                end = end_ids + cnt * 4
                if end > n:
                    raise FormatError(f"{what}: {path}: truncated chunk list")
                ids = mv[pos:end_ids]
                lens = array("I")
                lens.frombytes(bytes(mv[end_ids:end]))
                if big_endian:
                    lens.byteswap()
                pos = end
                if sum(lens) != size or (cnt and (min(lens) == 0 or max(lens) > MAX_CHUNK)):
                    raise FormatError(f"{what}: {path}: chunk lengths do not add up to size")
                entries.append(FileEntry(path, mode & 0o7777, size, profile, ids, lens))
            else:
                raise FormatError(f"{what}: unknown entry kind {kind}")
    except struct.error as exc:
        raise FormatError(f"{what}: truncated") from exc
    if pos != n:
        raise FormatError(f"{what}: trailing bytes")
    # a path may not be both a file and a parent of other entries
    files = {e.path for e in entries if isinstance(e, FileEntry)}
    for e in entries:
        parent = e.path.rpartition("/")[0]
        while parent:
            if parent in files:
                raise FormatError(f"{what}: {e.path} is inside file {parent}")
            parent = parent.rpartition("/")[0]
    return entries


@dataclass
class Manifest:
    """A verified manifest header (the body is loaded separately)."""

    id: str
    raw: bytes
    collection: str
    version: int
    created: str
    expires: str
    previous: str | None
    total_size: int
    files: int
    dirs: int
    body_id: str
    body_size: int
    body_chunks: list  # [(id bytes, length)]
    signer: str

    def expired(self, now) -> bool:
        return parse_time(self.expires, "expires") <= now

    def summary(self) -> dict:
        return {"collection": self.collection, "version": self.version, "manifest": self.id,
                "created": self.created, "expires": self.expires, "total_size": self.total_size,
                "files": self.files}


def _int(v, what, lo=0, hi=1 << 62):
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise FormatError(f"{what}: expected integer in [{lo}, {hi}]")
    return v


def parse_manifest(data: bytes, trusted: list[str] | None, what: str = "manifest") -> Manifest:
    """Verify the signature and the fields of a manifest envelope."""
    obj, mid, signer = open_envelope(data, trusted, what)
    what = f"{what} {mid[:16]}"
    if obj.get("format") != FORMAT:
        raise FormatError(f"{what}: unknown format {obj.get('format')!r}")
    expected = {"format", "collection", "version", "created", "expires", "previous",
                "total_size", "files", "dirs", "body"}
    if set(obj) != expected:
        raise FormatError(f"{what}: unexpected fields {sorted(set(obj) ^ expected)}")
    coll = check_name(obj["collection"])
    parse_time(obj["created"], f"{what}.created")
    parse_time(obj["expires"], f"{what}.expires")
    prev = obj["previous"]
    if prev is not None:
        check_hash(prev, f"{what}.previous")
    body = obj["body"]
    if not isinstance(body, dict) or set(body) != {"id", "size", "chunks"}:
        raise FormatError(f"{what}: bad body description")
    check_hash(body["id"], f"{what}.body.id")
    bsize = _int(body["size"], f"{what}.body.size", 8, MAX_BODY)
    chunks = body["chunks"]
    if not isinstance(chunks, list):
        raise FormatError(f"{what}: body.chunks must be a list")
    parsed = []
    total = 0
    for c in chunks:
        if not isinstance(c, list) or len(c) != 2:
            raise FormatError(f"{what}: bad body chunk entry")
        parsed.append((bytes.fromhex(check_hash(c[0], f"{what}.body.chunks")),
                       _int(c[1], f"{what}.body.chunks", 1, MAX_CHUNK)))
        total += c[1]
    if total != bsize:
        raise FormatError(f"{what}: body chunk lengths do not add up")
    return Manifest(
        id=mid, raw=bytes(data), collection=coll,
        version=_int(obj["version"], f"{what}.version", 1),
        created=obj["created"], expires=obj["expires"], previous=prev,
        total_size=_int(obj["total_size"], f"{what}.total_size"),
        files=_int(obj["files"], f"{what}.files"), dirs=_int(obj["dirs"], f"{what}.dirs"),
        body_id=body["id"], body_size=bsize, body_chunks=parsed, signer=signer,
    )


def check_body(m: Manifest, body: bytes) -> list:
    if len(body) != m.body_size or blake3.blake3(body).hexdigest() != m.body_id:
        raise FormatError(f"manifest {m.id[:16]}: body does not match its hash")
    entries = parse_body(body, f"manifest {m.id[:16]} body")
    nfiles = sum(1 for e in entries if isinstance(e, FileEntry))
    size = sum(e.size for e in entries if isinstance(e, FileEntry))
    if nfiles != m.files or len(entries) - nfiles != m.dirs or size != m.total_size:
        raise FormatError(f"manifest {m.id[:16]}: body does not match header totals")
    return entries
