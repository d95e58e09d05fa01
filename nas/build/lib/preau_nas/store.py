"""The central store: a directory any static HTTP server can serve.

    STORE/objects/ab/<blake3 hex>                 immutable chunk objects (chunks.py)
    STORE/manifests/<collection>/<id>.json        immutable signed manifests
    STORE/deltas/<collection>/<id>/               immutable signed bundle from the previous
                                                  version to <id> (one zstd -19 stream: a NAS one
                                                  version behind downloads it in a few requests)
    STORE/collections/<collection>/latest.json    small mutable pointer:
        {"collection": "...", "version": 7, "manifest": "<id>",
         "delta": {"from": "<previous id>", "path": "deltas/...", "bytes": 123}}

Only ``latest.json`` ever changes; everything else can be cached forever.
The pointer is not signed: it only says which signed manifest to fetch, and
the NAS refuses anything older than what it holds.
"""

from __future__ import annotations

import json
import os

from .chunks import decode_object, encode_object, object_relpath
from .errors import FormatError, MissingObjectError, NasError
from .manifest import Manifest, check_body, parse_manifest
from .util import atomic_write, check_hash, check_name


class Store:
    def __init__(self, root):
        self.root = os.fspath(root)

    # objects -----------------------------------------------------------
    def object_path(self, cid: bytes) -> str:
        return os.path.join(self.root, object_relpath(cid.hex()))

    def has(self, cid: bytes) -> bool:
        return os.path.exists(self.object_path(cid))

    def put(self, cid: bytes, raw, level: int = 6) -> int:
        """Store a chunk if absent; return the bytes written (0 if it was there)."""
        path = self.object_path(cid)
        if os.path.exists(path):
            return 0
        data = encode_object(raw, level)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.tmp-{os.getpid()}"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
        return len(data)

    def read_object(self, cid: bytes) -> bytes:
        try:
            with open(self.object_path(cid), "rb") as f:
                return f.read()
        except FileNotFoundError as exc:
            raise MissingObjectError(f"object {cid.hex()} missing from store {self.root}") from exc

    def get(self, cid: bytes) -> bytes:
        return decode_object(cid, self.read_object(cid))

    # manifests -----------------------------------------------------------
    def manifest_path(self, collection: str, mid: str) -> str:
        return os.path.join(self.root, "manifests", check_name(collection), check_hash(mid, "manifest") + ".json")

    def latest_path(self, collection: str) -> str:
        return os.path.join(self.root, "collections", check_name(collection), "latest.json")

    def latest(self, collection: str) -> dict | None:
        try:
            with open(self.latest_path(collection), "rb") as f:
                data = json.loads(f.read())
        except FileNotFoundError:
            return None
        except ValueError as exc:
            raise FormatError(f"{self.latest_path(collection)}: not JSON") from exc
        return data

    def collections(self) -> list[str]:
        d = os.path.join(self.root, "collections")
        return sorted(os.listdir(d)) if os.path.isdir(d) else []

    def load_manifest(self, collection: str, mid: str, trusted=None) -> Manifest:
        try:
            with open(self.manifest_path(collection, mid), "rb") as f:
                data = f.read()
        except FileNotFoundError as exc:
            raise NasError(f"manifest {mid} of {collection} not in store {self.root}") from exc
        m = parse_manifest(data, trusted, f"manifest {collection}")
        if m.id != mid or m.collection != collection:
            raise FormatError(f"manifest file {mid} holds {m.collection}/{m.id}")
        return m

    def load_body(self, m: Manifest) -> list:
        body = b"".join(self.get(cid) for cid, _ in m.body_chunks)
        return check_body(m, body)

    def versions(self, collection: str, trusted=None) -> list[Manifest]:
        d = os.path.join(self.root, "manifests", check_name(collection))
        out = []
        for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            if name.endswith(".json"):
                out.append(self.load_manifest(collection, name[:-5], trusted))
        return sorted(out, key=lambda m: m.version)

    def write_manifest(self, m_bytes: bytes, collection: str, mid: str) -> None:
        path = self.manifest_path(collection, mid)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        atomic_write(path, m_bytes)

    def write_latest(self, collection: str, version: int, mid: str, delta: dict | None = None) -> None:
        """Publish the pointer (the only mutable file). ``delta``: {"from", "path", "bytes"}."""
        lp = self.latest_path(collection)
        os.makedirs(os.path.dirname(lp), exist_ok=True)
        pointer = {"collection": collection, "version": version, "manifest": mid}
        if delta:
            pointer["delta"] = delta
        atomic_write(lp, json.dumps(pointer).encode() + b"\n")

    def delta_dir(self, collection: str, mid: str) -> str:
        return os.path.join(self.root, "deltas", check_name(collection), check_hash(mid, "manifest"))
