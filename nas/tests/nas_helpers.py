"""Helpers shared by the NAS engine tests (plain functions, no fixtures)."""

from __future__ import annotations

import os
import random


def make_tree(root, seed: int = 1, nfiles: int = 40, big: int = 2_000_000) -> str:
    """A small content tree: text documents, a binary 'video', nested and empty dirs."""
    rnd = random.Random(seed)
    os.makedirs(root, exist_ok=True)
    words = [f"mot{i}" for i in range(300)] + ["école", "élève", "cahier", "lecture"]
    for i in range(nfiles):
        d = os.path.join(root, f"niveau{i % 4}", f"theme{i % 7}")
        os.makedirs(d, exist_ok=True)
        text = " ".join(rnd.choice(words) for _ in range(rnd.randint(50, 6000)))
        with open(os.path.join(d, f"doc{i}.txt"), "w") as f:
            f.write(text)
    os.makedirs(os.path.join(root, "videos"), exist_ok=True)
    with open(os.path.join(root, "videos", "film.bin"), "wb") as f:
        f.write(rnd.randbytes(big))
    os.makedirs(os.path.join(root, "vide"), exist_ok=True)
    with open(os.path.join(root, "lisez-moi.txt"), "w") as f:
        f.write("Bonjour\n")
    os.chmod(os.path.join(root, "lisez-moi.txt"), 0o600)
    return root


def mutate_tree(root, seed: int = 2) -> None:
    """Edit, append, rename, delete and add files, like a content update."""
    rnd = random.Random(seed)
    files = sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs)
    docs = [f for f in files if f.endswith(".txt")]
    for p in docs[:3]:  # in-place edits
        data = bytearray(open(p, "rb").read())
        pos = len(data) // 2
        data[pos:pos + 10] = b"MODIFIED!!"
        open(p, "wb").write(data)
    with open(docs[3], "ab") as f:  # append
        f.write(b" suite" * 500)
    os.rename(docs[4], os.path.join(os.path.dirname(docs[4]), "renamed.txt"))  # rename
    os.makedirs(os.path.join(root, "archives"), exist_ok=True)
    os.rename(docs[5], os.path.join(root, "archives", "moved.txt"))  # move
    os.unlink(docs[6])  # delete
    with open(os.path.join(root, "nouveau.bin"), "wb") as f:  # new
        f.write(rnd.randbytes(300_000))
    film = os.path.join(root, "videos", "film.bin")
    data = bytearray(open(film, "rb").read())
    data[100_000:100_100] = rnd.randbytes(100)
    open(film, "wb").write(data)


def tree_snapshot(root) -> dict:
    """{relpath: (kind, mode, bytes)} for a strict byte-for-byte comparison."""
    out = {}
    for d, dnames, fnames in os.walk(root):
        for n in dnames:
            p = os.path.join(d, n)
            out[os.path.relpath(p, root)] = ("dir", os.stat(p).st_mode & 0o7777, None)
        for n in fnames:
            p = os.path.join(d, n)
            with open(p, "rb") as f:
                out[os.path.relpath(p, root)] = ("file", os.stat(p).st_mode & 0o7777, f.read())
    return out


def current(nas_root, collection="contents"):
    return os.path.join(nas_root, "collections", collection, "current")
