"""Offline bundles (USB disks): build at the centre, apply on the NAS, read receipts back.

Layout of a bundle folder::

    preau-bundle.json                  signed (publisher key): collections, targets, packs, index hash
    manifests/<collection>/<id>.json   the signed target manifests
    packs/pack-0000.zst                zstd stream of compressible chunks (concatenated raw chunks)
    packs/pack-0001.raw                incompressible chunks, stored as is
    index.bin                          b"PBI1" u32 n, n * (32 id, u16 pack, u64 offset, u32 length),
                                       offsets in the *uncompressed* stream of the pack
    receipts/<node>-<time>.json        written by each NAS that applied the bundle (signed by its key)

A bundle carries, once, every chunk that at least one of the listed starting
versions lacks (a starting version may be "empty"), so one disk serves NAS at
different versions. ``preau-bundle.json`` is written last: a half-written
bundle is refused as "not a bundle".
"""

from __future__ import annotations

import errno
import os
import struct

import blake3
import zstandard

from .chunks import ID_LEN, MAX_CHUNK, RAW, decode_object, iter_buffer_chunks
from .errors import BundleReadError, FormatError, IntegrityError, MissingObjectError, NasError
from .install import install
from .keys import Keypair, open_envelope, seal
from .manifest import FileEntry, parse_manifest
from .node import Node
from .progress import Progress
from .store import Store
from .util import atomic_write, check_hash, check_name, fmt_time, fsync_dir, parse_time, utcnow

BUNDLE_FORMAT = "preau-bundle/1"
BUNDLE_FILE = "preau-bundle.json"
INDEX_MAGIC = b"PBI1"
ENTRY = struct.Struct("<32sHQI")
PACK_LIMIT = 1 << 30  # raw bytes per pack: stays far below FAT32's 4 GiB file limit


# ---------------------------------------------------------------------- parsing
def parse_bundle_payload(obj: dict, what: str = "bundle") -> dict:
    """Validate the signed payload of preau-bundle.json (fuzzed)."""
    if not isinstance(obj, dict) or obj.get("format") != BUNDLE_FORMAT:
        raise FormatError(f"{what}: unknown format")
    if set(obj) != {"format", "created", "collections", "packs", "index"}:
        raise FormatError(f"{what}: unexpected fields")
    parse_time(obj["created"], f"{what}.created")
    cols = obj["collections"]
    if not isinstance(cols, dict):
        raise FormatError(f"{what}: collections must be an object")
    for c, d in cols.items():
        check_name(c)
        if not isinstance(d, dict) or set(d) != {"manifest", "version", "from"}:
            raise FormatError(f"{what}: bad entry for collection {c}")
        check_hash(d["manifest"], f"{what}.{c}.manifest")
        if not isinstance(d["version"], int) or isinstance(d["version"], bool) or d["version"] < 1:
            raise FormatError(f"{what}.{c}: bad version")
        if not isinstance(d["from"], list) or not all(f is None or isinstance(f, str) for f in d["from"]):
            raise FormatError(f"{what}.{c}: bad from list")
        for f in d["from"]:
            if f is not None:
                check_hash(f, f"{what}.{c}.from")
    packs = obj["packs"]
    if not isinstance(packs, list) or len(packs) > 65535:
        raise FormatError(f"{what}: bad packs")
    for p in packs:
        if (not isinstance(p, dict) or set(p) != {"name", "kind", "size", "raw_size"}
                or p["kind"] not in ("zst", "raw") or not isinstance(p["name"], str)
                or not p["name"].replace("-", "").replace(".", "").isalnum()
                or not isinstance(p["size"], int) or not isinstance(p["raw_size"], int)):
            raise FormatError(f"{what}: bad pack description")
    idx = obj["index"]
    if not isinstance(idx, dict) or set(idx) != {"size", "blake3", "count"}:
        raise FormatError(f"{what}: bad index description")
    check_hash(idx["blake3"], f"{what}.index.blake3")
    if not isinstance(idx["size"], int) or not isinstance(idx["count"], int):
        raise FormatError(f"{what}: bad index description")
    return obj


def parse_index(data: bytes, npacks: int, what: str = "bundle index") -> int:
    """Validate index.bin (fuzzed); return the number of entries."""
    if len(data) < 8 or data[:4] != INDEX_MAGIC:
        raise FormatError(f"{what}: bad magic")
    (n,) = struct.unpack_from("<I", data, 4)
    if len(data) != 8 + n * ENTRY.size:
        raise FormatError(f"{what}: size does not match entry count")
    for cid, pack, _off, ln in ENTRY.iter_unpack(memoryview(data)[8:]):
        _check_entry(cid, pack, ln, npacks, what)
    return n


def _check_entry(cid, pack, ln, npacks, what):
    if pack >= npacks or not 0 < ln <= MAX_CHUNK:
        raise FormatError(f"{what}: bad entry for chunk {cid.hex()}")


# ---------------------------------------------------------------------- build
def _chunk_set(store: Store, m) -> set:
    entries = store.load_body(m)
    have = set()
    for e in entries:
        if isinstance(e, FileEntry):
            ids = e.ids
            for i in range(e.count):
                have.add(bytes(ids[i * ID_LEN:(i + 1) * ID_LEN]))
    body = b"".join(store.get(cid) for cid, _ in m.body_chunks)
    for _, cid in iter_buffer_chunks(body):
        have.add(cid)
    return have


def build(store, out_dir, key, *, collections=None, from_versions=None, level: int = 19,
          progress=None, pack_limit: int = PACK_LIMIT, targets=None) -> dict:
    """Write a bundle bringing NAS at any of ``from_versions`` to the latest versions.

    ``from_versions``: {collection: [manifest id or None (empty NAS), ...]}; a
    collection not listed is built for an empty NAS (everything).
    ``targets``: {collection: manifest id} to bundle instead of the latest versions.
    ``out_dir`` must not exist or be empty. Returns a summary dict.
    """
    st = store if isinstance(store, Store) else Store(store)
    kp = key if isinstance(key, Keypair) else Keypair.load(key)
    out_dir = os.path.abspath(os.fspath(out_dir))
    if os.path.isdir(out_dir) and os.listdir(out_dir):
        raise NasError(f"bundle folder {out_dir} is not empty")
    names = [check_name(c) for c in (collections or st.collections())]
    if not names:
        raise NasError("no collection to bundle")
    from_versions = from_versions or {}
    cols, order = {}, []
    seen = set()
    chosen = {}
    for c in names:
        target = (targets or {}).get(c)
        if target is None:
            latest = st.latest(c)
            if not latest:
                raise NasError(f"collection {c} has no published version in {st.root}")
            target = latest["manifest"]
        m = st.load_manifest(c, target)
        chosen[c] = m
        starts = list(from_versions.get(c) or [None])
        haves = []
        for f in starts:
            if f is None or f == m.id:
                haves.append(set() if f is None else None)
            else:
                haves.append(_chunk_set(st, st.load_manifest(c, f)))
        haves = [h for h in haves if h is not None]  # a NAS already at the target needs nothing

        def want(cid, haves=haves):
            return cid not in seen and any(cid not in h for h in haves)

        for cid, _ in m.body_chunks:
            if want(cid):
                seen.add(cid)
                order.append(cid)
        for e in st.load_body(m):
            if isinstance(e, FileEntry):
                ids = e.ids
                for i in range(e.count):
                    cid = bytes(ids[i * ID_LEN:(i + 1) * ID_LEN])
                    if want(cid):
                        seen.add(cid)
                        order.append(cid)
        cols[c] = {"manifest": m.id, "version": m.version, "from": starts}

    os.makedirs(os.path.join(out_dir, "packs"), exist_ok=True)
    os.makedirs(os.path.join(out_dir, "receipts"), exist_ok=True)
    for c, m in chosen.items():
        md = os.path.join(out_dir, "manifests", c)
        os.makedirs(md, exist_ok=True)
        atomic_write(os.path.join(md, m.id + ".json"), m.raw)

    prog = Progress(progress, "bundle-build", len(order), unit="chunks")
    prog.emit()
    packs, index = [], bytearray()
    cur = {"zst": None, "raw": None}  # kind -> [pack no, file, writer, raw offset]

    def open_pack(kind):
        no = len(packs)
        name = f"pack-{no:04d}.{kind}"
        f = open(os.path.join(out_dir, "packs", name), "wb")
        w = zstandard.ZstdCompressor(level=level, threads=-1).stream_writer(f, closefd=False) if kind == "zst" else f
        packs.append({"name": name, "kind": kind, "size": 0, "raw_size": 0})
        cur[kind] = [no, f, w, 0]
        return cur[kind]

    def close_pack(kind):
        no, f, w, off = cur[kind]
        if kind == "zst":
            w.flush(zstandard.FLUSH_FRAME)
            w.close()
        f.flush()
        os.fsync(f.fileno())
        packs[no]["size"] = f.tell()
        packs[no]["raw_size"] = off
        f.close()
        cur[kind] = None

    for cid in order:
        obj = st.read_object(cid)
        raw = decode_object(cid, obj, "store object")
        kind = "raw" if obj[0] == RAW else "zst"
        p = cur[kind] or open_pack(kind)
        if p[3] + len(raw) > pack_limit and p[3] > 0:
            close_pack(kind)
            p = open_pack(kind)
        p[2].write(raw)
        index += ENTRY.pack(cid, p[0], p[3], len(raw))
        p[3] += len(raw)
        prog.advance(1)
    for kind in ("zst", "raw"):
        if cur[kind]:
            close_pack(kind)
    idx = INDEX_MAGIC + struct.pack("<I", len(order)) + bytes(index)
    atomic_write(os.path.join(out_dir, "index.bin"), idx)
    payload = {"format": BUNDLE_FORMAT, "created": fmt_time(utcnow()), "collections": cols, "packs": packs,
               "index": {"size": len(idx), "blake3": blake3.blake3(idx).hexdigest(), "count": len(order)}}
    data, bid = seal(payload, kp)
    fsync_dir(os.path.join(out_dir, "packs"))
    atomic_write(os.path.join(out_dir, BUNDLE_FILE), data)
    prog.done()
    size = sum(p["size"] for p in packs) + len(idx) + len(data) + sum(len(m.raw) for m in chosen.values())
    return {"bundle": bid, "path": out_dir, "collections": cols, "chunks": len(order),
            "raw_bytes": sum(p["raw_size"] for p in packs), "bytes": size}


# ---------------------------------------------------------------------- apply
class Bundle:
    """An opened, signature-checked bundle."""

    def __init__(self, path, trusted):
        self.path = os.path.abspath(os.fspath(path))
        bf = os.path.join(self.path, BUNDLE_FILE)
        try:
            with open(bf, "rb") as f:
                data = f.read()
        except FileNotFoundError as exc:
            raise BundleReadError(f"{self.path}: not a bundle (no {BUNDLE_FILE}; incomplete copy?)") from exc
        except OSError as exc:
            raise BundleReadError(f"{bf}: unreadable ({exc})") from exc
        obj, self.id, self.signer = open_envelope(data, trusted, f"bundle {bf}")
        self.info = parse_bundle_payload(obj, f"bundle {bf}")
        self.packs = self.info["packs"]
        self.index_path = ip = os.path.join(self.path, "index.bin")
        h = blake3.blake3()
        size = 0
        try:
            with open(ip, "rb") as f:
                head = f.read(8)
                h.update(head)
                size = len(head)
                while True:
                    block = f.read(1 << 20)
                    if not block:
                        break
                    h.update(block)
                    size += len(block)
        except OSError as exc:
            raise BundleReadError(f"{ip}: unreadable ({exc})") from exc
        if size != self.info["index"]["size"] or h.hexdigest() != self.info["index"]["blake3"]:
            raise IntegrityError(f"{ip}: does not match the signed bundle description (tampered or truncated)")
        if len(head) < 8 or head[:4] != INDEX_MAGIC or struct.unpack_from("<I", head, 4)[0] * ENTRY.size + 8 != size:
            raise FormatError(f"{ip}: bad index header")
        self.name = f"bundle {self.id[:16]}"

    def manifest(self, c: str, trusted):
        d = self.info["collections"][c]
        p = os.path.join(self.path, "manifests", c, d["manifest"] + ".json")
        try:
            with open(p, "rb") as f:
                data = f.read()
        except OSError as exc:
            raise BundleReadError(f"{p}: unreadable ({exc})") from exc
        m = parse_manifest(data, trusted, f"manifest {p}")
        if m.id != d["manifest"] or m.collection != c:
            raise FormatError(f"{p}: is not the manifest the bundle lists")
        return m

    def iter_index(self):
        """Yield (cid, pack, offset, length) in pack order, streaming (the index of a
        4 GiB image is tens of MB: it is never loaded whole)."""
        try:
            with open(self.index_path, "rb") as f:
                f.seek(8)
                while True:
                    block = f.read(ENTRY.size * 20000)
                    if not block:
                        return
                    if len(block) % ENTRY.size:
                        raise BundleReadError(f"{self.index_path}: truncated; was the disk removed?")
                    for cid, pack, off, ln in ENTRY.iter_unpack(block):
                        _check_entry(cid, pack, ln, len(self.packs), self.index_path)
                        yield cid, pack, off, ln
        except OSError as exc:
            raise BundleReadError(f"{self.index_path}: unreadable ({exc}); was the disk removed?") from exc

    # source interface for install()
    def fetch(self, needed, staging, prog) -> None:
        """Stage every chunk of ``needed`` (a ChunkList) from the packs, in pack order.
        Refuses before reading any pack if one is absent from the bundle."""
        from array import array

        from .compact import PrefixMap, prefix

        keys = array("Q", (prefix(needed.ids[i * ID_LEN:i * ID_LEN + 8]) for i in range(len(needed))))
        want = PrefixMap(keys)
        del keys
        found = bytearray(len(want))
        per_pack: dict[int, int] = {}
        for cid, pack, _off, _ln in self.iter_index():
            i = want.index(prefix(cid))
            if i >= 0 and not found[i]:
                j = want.pos[i]
                if needed.ids[j * ID_LEN:(j + 1) * ID_LEN] == cid:
                    k = prefix(cid)
                    while i < len(want) and want.keys[i] == k:  # the same chunk listed twice
                        found[i] = 1
                        i += 1
                    per_pack[pack] = per_pack.get(pack, 0) + 1
        if not all(found):
            j = want.pos[found.index(0)]
            cid, _ = needed.item(j)
            raise MissingObjectError(
                f"bundle {self.path} lacks chunk {cid.hex()} (it was built for other starting versions)")
        for pno in sorted(per_pack):
            self._read_pack(pno, want, needed, staging, prog)

    def fetch_one(self, cid: bytes, ln: int, staging) -> None:
        from .compact import ChunkList

        self.fetch(ChunkList.of([(cid, ln)]), staging, None)

    def _read_pack(self, pno: int, want, needed, staging, prog) -> None:
        from .compact import prefix

        pk = self.packs[pno]
        path = os.path.join(self.path, "packs", pk["name"])
        try:
            f = open(path, "rb")
        except OSError as exc:
            raise BundleReadError(f"{path}: unreadable ({exc}); was the disk removed?") from exc
        try:
            if pk["kind"] == "zst":
                reader = zstandard.ZstdDecompressor().stream_reader(f, read_across_frames=True)
            else:
                reader = f
            pos = 0
            for cid, pack, off, ln in self.iter_index():
                if pack != pno:
                    continue
                i = want.index(prefix(cid))
                if i < 0:
                    continue
                j = want.pos[i]
                if needed.ids[j * ID_LEN:(j + 1) * ID_LEN] != cid:
                    continue
                if pk["kind"] == "raw":
                    f.seek(off)
                else:
                    while pos < off:  # skip chunks this NAS does not need
                        skip = reader.read(min(off - pos, 1 << 20))
                        if not skip:
                            break
                        pos += len(skip)
                    if pos > off:
                        raise FormatError(f"{self.index_path}: entries out of order")
                data = reader.read(ln)
                pos = off + len(data)
                if len(data) != ln:
                    raise BundleReadError(f"{path}: truncated at chunk {cid.hex()}; was the disk removed?")
                if blake3.blake3(data).digest() != cid:
                    raise IntegrityError(f"chunk {cid.hex()} in {path} is corrupt")
                staging.add(cid, b"\x00" + data)
                if prog is not None:
                    prog.advance(ln)
        except zstandard.ZstdError as exc:
            raise BundleReadError(f"{path}: corrupt or truncated ({exc})") from exc
        except OSError as exc:
            if exc.filename is None and exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise  # our disk is full: not the bundle's fault
            raise BundleReadError(f"{path}: read error ({exc}); was the disk removed?") from exc
        finally:
            f.close()


def apply(root, bundle_dir, *, progress=None, collections=None, raise_errors: bool = True) -> dict:
    """Apply a bundle on a NAS and write a signed receipt onto the bundle folder.

    Returns {"node_id", "bundle", "collections": {name: result}, "receipt": path, "ok"}.
    """
    from .receipt import write_receipt
    from .verify import verify

    node = root if isinstance(root, Node) else Node(root)
    results, errors = {}, []
    with node:
        b = Bundle(bundle_dir, node.trusted)
        wanted = collections or node.subscribed() or list(b.info["collections"])
        for c in wanted:
            if c not in b.info["collections"]:
                results[c] = {"collection": c, "status": "not_in_bundle"}
                continue
            try:
                m = b.manifest(c, node.trusted)
                r = install(node, c, m, b, online=False, progress=progress)
                v = verify(node, [c])["collections"][c]
                r["verified"] = {"signatures": True, "chunks": "blake3", "tree": "fast", "ok": v["ok"]}
                results[c] = r
            except NasError as exc:
                node.record_error(c, exc)
                results[c] = {"collection": c, "status": "error", "code": exc.code, "error": str(exc)}
                errors.append(exc)
        receipt_path = None
        try:
            receipt_path = write_receipt(node, b, results)
        except OSError as exc:
            errors.append(BundleReadError(f"could not write the receipt onto {b.path}: {exc}"))
    out = {"node_id": node.node_id, "bundle": b.id, "collections": results, "receipt": receipt_path,
           "ok": not errors}
    if errors and raise_errors:
        errors[0].result = out
        raise errors[0]
    return out
