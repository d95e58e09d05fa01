"""Verify what a node holds: fast (types, sizes, modes) or full (every chunk re-hashed)."""

from __future__ import annotations

import os
import stat

import blake3

from .errors import NasError
from .manifest import DirEntry, FileEntry
from .progress import Progress
from .util import fmt_time, utcnow


def verify(root, collections=None, *, full: bool = False, progress=None) -> dict:
    """Return {"ok", "mode", "collections": {c: {"ok", "version", "damaged": [{"path", "problem"}],
    "checked_files", "checked_bytes"}}}; damaged paths are saved so the next pull/bundle repairs them."""
    from .node import Node

    node = root if isinstance(root, Node) else Node(root)
    out = {"node_id": node.node_id, "mode": "full" if full else "fast", "collections": {}, "ok": True}
    for c in collections or node.known_collections():
        res = {"ok": True, "version": None, "damaged": [], "checked_files": 0, "checked_bytes": 0}
        out["collections"][c] = res
        try:
            m = node.current_manifest(c)
        except (OSError, NasError) as exc:
            res.update(ok=False, error=f"current manifest unreadable: {exc}")
            out["ok"] = False
            continue
        if m is None:
            res["version"] = None
            continue
        res["version"] = m.version
        tree = node.current_tree(c)
        entries = node.local_body(c, m)
        prog = Progress(progress, "verify", m.total_size if full else len(entries), collection=c,
                        unit="bytes" if full else "entries")
        damaged = res["damaged"]
        expected = set()
        for e in entries:
            expected.add(e.path)
            p = os.path.join(tree, e.path)
            try:
                st = os.lstat(p)
            except OSError:
                damaged.append({"path": e.path, "problem": "missing"})
                continue
            if isinstance(e, DirEntry):
                if not stat.S_ISDIR(st.st_mode):
                    damaged.append({"path": e.path, "problem": "not a directory"})
                prog.advance(0 if full else 1)
                continue
            if not stat.S_ISREG(st.st_mode):
                damaged.append({"path": e.path, "problem": "not a regular file"})
                continue
            if st.st_size != e.size:
                damaged.append({"path": e.path, "problem": f"size {st.st_size}, expected {e.size}"})
                continue
            if stat.S_IMODE(st.st_mode) != e.mode:
                damaged.append({"path": e.path, "problem": f"mode {oct(stat.S_IMODE(st.st_mode))}, expected {oct(e.mode)}"})
                continue
            res["checked_files"] += 1
            if full:
                bad = _check_chunks(p, e, prog)
                if bad is not None:
                    damaged.append({"path": e.path, "problem": f"content differs at offset {bad}"})
            else:
                prog.advance(1)
            res["checked_bytes"] += e.size
        for dirpath, dnames, fnames in os.walk(tree):
            for n in dnames + fnames:
                rel = os.path.relpath(os.path.join(dirpath, n), tree)
                if rel not in expected:
                    damaged.append({"path": rel, "problem": "unexpected extra entry"})
        res["ok"] = not damaged
        out["ok"] = out["ok"] and res["ok"]
        try:
            node.save_state(c, damaged=sorted({d["path"] for d in damaged}), last_verify={
                "time": fmt_time(utcnow()), "mode": out["mode"], "ok": res["ok"]})
        except (OSError, NasError) as exc:
            res["warning"] = f"could not record the result: {exc}"
        prog.done()
    return out


def _check_chunks(path: str, e: FileEntry, prog) -> int | None:
    with open(path, "rb", buffering=0) as f:
        off = 0
        buf = bytearray(max(e.lens) if e.count else 0)
        view = memoryview(buf)
        for i, ln in enumerate(e.lens):
            n = f.readinto(view[:ln])
            if n != ln or blake3.blake3(view[:ln]).digest() != e.ids[i * 32:(i + 1) * 32]:
                return off
            off += ln
            prog.advance(ln)
    return None
