"""Content-defined chunking (FastCDC via pyfastcdc), BLAKE3 ids, object encoding.

An *object* is the stored form of a chunk: one header byte then the payload.
``0x00`` = raw bytes, ``0x01`` = one zstd frame. The object is named by the
BLAKE3 of the *raw* chunk, so the same chunk is stored once whatever its
compression, and every reader verifies what it decodes.
"""

from __future__ import annotations

import os
import threading

import blake3
import pyfastcdc
import zstandard

from .errors import IntegrityError

RAW, ZSTD = 0, 1
MAX_CHUNK = 256 * 1024
ID_LEN = 32

# Profiles: (min, avg, max) as given to pyfastcdc (effective mean is about min+avg).
# "default": documents, media, archives (FastCDC, ~20 KiB chunks).
# "image": images whose content is not block-aligned (ISO, squashfs, qcow2): FastCDC, ~10 KiB.
# "block": block-structured disk images (ext2/3/4, MBR/GPT disks): fixed 4 KiB chunks aligned
#   on filesystem blocks, so a scattered 4 KiB write costs one 4 KiB chunk and data
#   moved by the filesystem (always by whole blocks) is found again (measured, see README).
PROFILES = {
    "default": (4096, 16384, 131072),
    "image": (2048, 8192, 65536),
    "member": (1024, 2048, 32768),
}
BLOCK = 4096
PROFILE_CODES = {"default": 0, "image": 1, "block": 2, "zip": 3}
# "zip": zip containers (zip, docx, odt, epub, jar): cut at every member header, then
#   FastCDC ~3 KiB inside members, so a re-packed archive with a few changed members
#   re-synchronises at the next member instead of somewhere in the next chunk.
PROFILE_NAMES = {v: k for k, v in PROFILE_CODES.items()}

BLOCK_EXTENSIONS = {".img", ".raw", ".dd", ".disk", ".ext2", ".ext3", ".ext4"}
IMAGE_EXTENSIONS = {".iso", ".qcow2", ".vmdk", ".vdi", ".vhd", ".vhdx", ".squashfs", ".sqfs"}
ZERO_BLOCK_ID = blake3.blake3(bytes(BLOCK)).digest()

_chunkers: dict[str, pyfastcdc.FastCDC] = {}


def chunker(profile: str) -> pyfastcdc.FastCDC:
    c = _chunkers.get(profile)
    if c is None:
        mn, avg, mx = PROFILES[profile]
        c = _chunkers[profile] = pyfastcdc.FastCDC(avg, min_size=mn, max_size=mx)
    return c


def profile_for(path: str, size: int) -> str:
    """Pick the chunking profile of a file: small chunks for disk images."""
    ext = os.path.splitext(path)[1].lower()
    if size >= 1024 * 1024:
        try:
            with open(path, "rb") as f:
                head = f.read(4096)
        except OSError:
            head = b""
        if len(head) >= 1082 and head[1080:1082] == b"\x53\xef":  # ext2/3/4 superblock
            return "block"
        if head[510:512] == b"\x55\xaa":  # MBR or protective MBR of a GPT disk
            return "block"
        if head[:4] == b"hsqs":  # squashfs
            return "image"
    if size >= 65536:
        try:
            with open(path, "rb") as f:
                if f.read(4) == b"PK\x03\x04":
                    return "zip"
        except OSError:
            pass
    if ext in BLOCK_EXTENSIONS:
        return "block"
    if ext in IMAGE_EXTENSIONS:
        return "image"
    return "default"


def chunk_id(data) -> bytes:
    return blake3.blake3(data).digest()


def iter_file_chunks(path: str, profile: str):
    """Yield (raw chunk memoryview, id bytes) for a file."""
    if os.path.getsize(path) == 0:
        return
    if profile == "block":
        yield from _iter_blocks(path)
        return
    if profile == "zip":
        yield from _iter_zip(path)
        return
    for ch in chunker(profile).cut_file(path):
        data = ch.data
        yield data, blake3.blake3(data).digest()


def _iter_blocks(path: str):
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    h = blake3.blake3
    with open(path, "rb", buffering=0) as f:
        while True:
            n = 0
            while n < len(buf):  # fill the buffer so blocks stay aligned
                got = f.readinto(view[n:])
                if not got:
                    break
                n += got
            if not n:
                return
            for off in range(0, n, BLOCK):
                data = view[off:min(off + BLOCK, n)]
                yield data, h(data).digest()


def _zip_cuts(path: str, size: int) -> list[int]:
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            cuts = {i.header_offset for i in z.infolist()}
            cuts.add(getattr(z, "start_dir", size))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return [0, size]
    return sorted({0, size} | {c for c in cuts if 0 < c < size})


def _iter_zip(path: str):
    import mmap

    size = os.path.getsize(path)
    cuts = _zip_cuts(path, size)
    c = chunker("member")
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        for a, b in zip(cuts, cuts[1:], strict=False):
            for ch in c.cut_buf(mm[a:b]):
                data = bytes(ch.data)
                yield data, blake3.blake3(data).digest()


BODY_PROFILE = "image"  # manifest bodies (measured: smaller body chunks did not pay)


def iter_buffer_chunks(buf, profile: str = BODY_PROFILE):
    for ch in chunker(profile).cut_buf(buf):
        data = ch.data
        yield data, blake3.blake3(data).digest()


_tls = threading.local()


def _cctx(level: int) -> zstandard.ZstdCompressor:
    key = f"c{level}"
    c = getattr(_tls, key, None)
    if c is None:
        c = zstandard.ZstdCompressor(level=level, write_content_size=True)
        setattr(_tls, key, c)
    return c


def _dctx() -> zstandard.ZstdDecompressor:
    d = getattr(_tls, "d", None)
    if d is None:
        d = _tls.d = zstandard.ZstdDecompressor()
    return d


def encode_object(raw, level: int = 6) -> bytes:
    """Compress a chunk unless it does not pay (saves < 3%)."""
    raw = bytes(raw)
    if level > 0 and len(raw) >= 64:
        comp = _cctx(level).compress(raw)
        if len(comp) < len(raw) * 0.97:
            return b"\x01" + comp
    return b"\x00" + raw


def decode_object(cid: bytes, data: bytes, what: str = "object") -> bytes:
    """Decode and verify an object; raise IntegrityError naming it on any problem."""
    name = cid.hex()
    if not data:
        raise IntegrityError(f"{what} {name}: empty (truncated)")
    kind = data[0]
    if kind == RAW:
        raw = data[1:]
    elif kind == ZSTD:
        try:
            raw = _dctx().decompress(data[1:], max_output_size=MAX_CHUNK)
        except zstandard.ZstdError as exc:
            raise IntegrityError(f"{what} {name}: corrupt or truncated ({exc})") from exc
    else:
        raise IntegrityError(f"{what} {name}: unknown encoding {kind}")
    if len(raw) > MAX_CHUNK or blake3.blake3(raw).digest() != cid:
        raise IntegrityError(f"{what} {name}: content does not match its id (corrupt)")
    return raw


def object_relpath(cid_hex: str) -> str:
    return f"objects/{cid_hex[:2]}/{cid_hex}"
