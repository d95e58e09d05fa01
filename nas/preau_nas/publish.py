"""``publish``: turn a source directory into a new signed version of a collection."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import stat
from array import array

import blake3

from .chunks import PROFILE_CODES, iter_buffer_chunks, iter_file_chunks, profile_for
from .errors import NasError
from .keys import Keypair, seal
from .manifest import FORMAT, DirEntry, FileEntry, encode_body
from .progress import Progress
from .store import Store
from .util import check_name, fmt_time, utcnow


def scan_tree(src: str) -> list:
    """Return sorted (kind, relpath, abspath, stat) for dirs and regular files."""
    out = []
    src = os.path.abspath(src)
    if not os.path.isdir(src):
        raise NasError(f"source {src} is not a directory")

    def walk(d, rel):
        try:
            names = sorted(os.listdir(d))
        except OSError as exc:
            raise NasError(f"cannot read {d}: {exc}") from exc
        for name in names:
            p = os.path.join(d, name)
            r = f"{rel}/{name}" if rel else name
            st = os.lstat(p)
            if stat.S_ISDIR(st.st_mode):
                out.append(("dir", r, p, st))
                walk(p, r)
            elif stat.S_ISREG(st.st_mode):
                out.append(("file", r, p, st))
            else:
                raise NasError(f"{p}: only regular files and directories can be published")

    walk(src, "")
    out.sort(key=lambda t: t[1].encode())
    return out


def publish(store, collection: str, src_dir, key, *, expires_days: float = 90, level: int = 6,
            force: bool = False, delta: bool = True, delta_level: int = 19, progress=None,
            now: dt.datetime | None = None) -> dict:
    """Publish ``src_dir`` as the next version of ``collection``.

    ``store``: path of the store directory; ``key``: a Keypair or a path to a secret key.
    Returns {"collection", "version", "manifest", "new_bytes", "changed", ...}.
    If the content equals the latest version and ``force`` is false, nothing is
    written and the latest version is returned with ``changed: False``.
    With ``delta`` (default), a signed delta bundle from the previous version is
    also written (zstd level ``delta_level``), for NAS one version behind.
    """
    st = store if isinstance(store, Store) else Store(store)
    check_name(collection)
    kp = key if isinstance(key, Keypair) else Keypair.load(key)
    items = scan_tree(os.fspath(src_dir))
    total = sum(s.st_size for k, _, _, s in items if k == "file")
    prog = Progress(progress, "publish", total)
    entries = []
    new_bytes = 0
    for kind, rel, path, s in items:
        mode = stat.S_IMODE(s.st_mode)
        if kind == "dir":
            entries.append(DirEntry(rel, mode))
            continue
        prof = profile_for(path, s.st_size)
        ids = bytearray()
        lens = array("I")
        size = 0
        try:
            for data, cid in iter_file_chunks(path, prof):
                ids += cid
                lens.append(len(data))
                size += len(data)
                new_bytes += st.put(cid, data, level)
                prog.advance(len(data), file=rel)
        except OSError as exc:
            raise NasError(f"cannot read {path}: {exc}") from exc
        entries.append(FileEntry(rel, mode, size, PROFILE_CODES[prof], bytes(ids), lens))
    body = encode_body(entries)
    body_id = blake3.blake3(body).hexdigest()
    body_chunks = []
    for data, cid in iter_buffer_chunks(body):
        new_bytes += st.put(cid, data, level)
        body_chunks.append([cid.hex(), len(data)])

    latest = st.latest(collection)
    prev_id, prev_version = None, 0
    if latest:
        prev = st.load_manifest(collection, latest["manifest"])
        prev_id, prev_version = prev.id, prev.version
        if prev.body_id == body_id and not force:
            prog.done()
            return {"collection": collection, "version": prev.version, "manifest": prev.id,
                    "changed": False, "new_bytes": new_bytes, "total_size": prev.total_size}
    now = now or utcnow()
    payload = {
        "format": FORMAT, "collection": collection, "version": prev_version + 1,
        "created": fmt_time(now), "expires": fmt_time(now + dt.timedelta(days=expires_days)),
        "previous": prev_id, "total_size": sum(e.size for e in entries if isinstance(e, FileEntry)),
        "files": sum(1 for e in entries if isinstance(e, FileEntry)),
        "dirs": sum(1 for e in entries if isinstance(e, DirEntry)),
        "body": {"id": body_id, "size": len(body), "chunks": body_chunks},
    }
    data, mid = seal(payload, kp)
    os.sync()  # objects durable before the manifest that references them
    st.write_manifest(data, collection, mid)
    delta_info = None
    if delta and prev_id is not None:
        from .bundle import build as build_bundle

        final = st.delta_dir(collection, mid)
        tmp = final + f".tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        info = build_bundle(st, tmp, kp, collections=[collection], from_versions={collection: [prev_id]},
                            targets={collection: mid}, level=delta_level)
        shutil.rmtree(final, ignore_errors=True)
        os.rename(tmp, final)
        delta_info = {"from": prev_id, "path": os.path.relpath(final, st.root), "bytes": info["bytes"]}
    st.write_latest(collection, payload["version"], mid, delta_info)
    prog.done()
    return {"collection": collection, "version": payload["version"], "manifest": mid,
            "changed": True, "new_bytes": new_bytes, "total_size": payload["total_size"],
            "delta_bytes": delta_info["bytes"] if delta_info else None}
