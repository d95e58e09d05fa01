"""Online pull: bring every subscribed collection of a node to the latest published version."""

from __future__ import annotations

import json
import os

from .errors import FormatError, NasError
from .fetch import DeltaSource, HTTPSource
from .install import install
from .manifest import parse_manifest
from .node import Node
from .util import check_hash, check_name, fmt_time, utcnow


def _pointer(src: HTTPSource, c: str) -> dict:
    data = src.get(f"collections/{c}/latest.json", limit=1 << 16)
    try:
        p = json.loads(data)
        if not isinstance(p, dict) or p.get("collection") != c:
            raise ValueError("wrong collection")
        check_hash(p.get("manifest"), "latest.json manifest")
        if not isinstance(p.get("version"), int):
            raise ValueError("no version")
    except (ValueError, FormatError) as exc:
        raise FormatError(f"{src.base_url}/collections/{c}/latest.json: bad pointer ({exc})") from exc
    return p


def pull(root, collections=None, *, base_url: str | None = None, progress=None, jobs: int | None = None,
         limit_rate: int | None = None, windows=None, force: bool = False, delta: bool = True,
         raise_errors: bool = True) -> dict:
    """Pull the latest version of each collection (default: the node's subscriptions).

    Returns {"node_id", "collections": {name: result}, "bytes_received", "bytes_sent",
    "requests", "ok"}; each result has "status": "updated" | "up_to_date" | "error".
    With ``raise_errors`` (default) the first error is raised after every
    collection has been tried and recorded in the node state. With ``delta``
    (default), a NAS exactly one version behind downloads the published delta
    bundle instead of chunk by chunk.
    """
    node = root if isinstance(root, Node) else Node(root)
    cfg = node.config
    url = base_url or cfg.get("base_url")
    learned = node.source_hints().get(url or "", {}).get("max_in_flight")
    src = HTTPSource(url, jobs=jobs or cfg.get("jobs") or 16,
                     limit_rate=limit_rate if limit_rate is not None else cfg.get("limit_rate"),
                     windows=windows if windows is not None else cfg.get("windows"), learned_max=learned,
                     # the credential goes only to the store the node was enrolled with
                     authorization=node.authorization() if url == cfg.get("base_url") else None)
    names = [check_name(c) for c in (collections or node.subscribed())]
    if not names:
        raise NasError("no collection to pull (subscribe with `preau-nas init --collection`)")
    results, errors = {}, []
    with node:
        for c in names:
            try:
                p = _pointer(src, c)
                cur = node.current_manifest(c)
                held_v, held_id = node.held(c)
                if (not force and cur is not None and cur.id == p["manifest"] and held_id == p["manifest"]
                        and not node.state(c).get("damaged")):
                    node.save_state(c, last_sync=fmt_time(utcnow()), last_error=None)
                    results[c] = {"collection": c, "version": cur.version, "manifest": cur.id,
                                  "status": "up_to_date"}
                    continue
                data = src.get(f"manifests/{c}/{p['manifest']}.json", limit=8 << 20)
                m = parse_manifest(data, node.trusted, f"manifest {c}")
                if m.id != p["manifest"]:
                    raise FormatError(f"manifest {c}/{p['manifest']}: content hash is {m.id}")
                source = src
                d = p.get("delta")
                if (delta and isinstance(d, dict) and cur is not None and d.get("from") == cur.id
                        and isinstance(d.get("path"), str) and ".." not in d["path"]
                        and not node.state(c).get("damaged")):
                    source = DeltaSource(src, d, os.path.join(node.staging(c), "delta"), node.trusted)
                results[c] = install(node, c, m, source, online=True, progress=progress, force=force)
                results[c]["via"] = "delta" if source is not src else "chunks"
            except NasError as exc:
                node.record_error(c, exc)
                results[c] = {"collection": c, "status": "error", "code": exc.code, "error": str(exc)}
                errors.append(exc)
        if src.window.max < src.jobs and src.window.max != learned:
            # remember what this server can take, so the next pull does not stall again
            try:
                node.save_source_hint(url, max_in_flight=src.window.max)
            except OSError:
                pass
    out = {"node_id": node.node_id, "collections": results, "bytes_received": src.bytes_received,
           "bytes_sent": src.bytes_sent, "requests": src.requests, "ok": not errors}
    if errors and raise_errors:
        errors[0].result = out
        raise errors[0]
    return out
