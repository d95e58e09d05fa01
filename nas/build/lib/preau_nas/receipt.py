"""Receipts: what a NAS holds after applying a bundle, signed with the NAS's own key.

Payload::

    {"format": "preau-receipt/1", "node_id": "ecole-0420146f", "bundle": "<bundle id>",
     "time": "2026-12-04T17:00:00Z",
     "collections": {"contents": {"status": "updated", "version": 2, "manifest": "<id>",
                                  "files": 10, "bytes": 123, "verified": {...}}}}
"""

from __future__ import annotations

import os

from .errors import FormatError, NasError, SignatureError
from .keys import open_envelope, seal
from .util import atomic_write, check_name, fmt_time, parse_time, utcnow

RECEIPT_FORMAT = "preau-receipt/1"
STATUSES = {"updated", "up_to_date", "error", "not_in_bundle"}


def write_receipt(node, bundle, results: dict) -> str:
    held = {}
    for c in sorted(set(node.known_collections()) | set(results)):
        r = results.get(c, {"status": "not_in_bundle"})
        m = None
        try:
            m = node.current_manifest(c)
        except (OSError, NasError):
            pass
        entry = {"status": r.get("status", "error"), "version": m.version if m else None,
                 "manifest": m.id if m else None, "files": m.files if m else 0,
                 "bytes": m.total_size if m else 0}
        if "verified" in r:
            entry["verified"] = r["verified"]
        if r.get("error"):
            entry["error"] = r["error"]
        held[c] = entry
    now = utcnow()
    payload = {"format": RECEIPT_FORMAT, "node_id": node.node_id, "bundle": bundle.id,
               "time": fmt_time(now), "collections": held}
    data, _ = seal(payload, node.keypair())
    name = f"{node.node_id}-{now.strftime('%Y%m%dT%H%M%SZ')}.json"
    local = os.path.join(node.root, "receipts")
    os.makedirs(local, exist_ok=True)
    atomic_write(os.path.join(local, name), data)
    rd = os.path.join(bundle.path, "receipts")
    try:
        os.mkdir(rd)  # not makedirs: never recreate a bundle folder that has gone (disk removed)
    except FileExistsError:
        pass
    path = os.path.join(rd, name)
    atomic_write(path, data)
    return path


def parse_receipt(data: bytes, known_nodes: dict, what: str = "receipt") -> dict:
    """Verify a receipt against the known node keys {node_id: public key}; return its payload."""
    obj, rid, signer = open_envelope(data, None, what)
    if obj.get("format") != RECEIPT_FORMAT or set(obj) != {"format", "node_id", "bundle", "time", "collections"}:
        raise FormatError(f"{what}: not a receipt")
    node_id = check_name(obj["node_id"], "node id")
    expected = known_nodes.get(node_id)
    if expected is None:
        raise SignatureError(f"{what}: unknown node {node_id}")
    if signer != expected:
        raise SignatureError(f"{what}: signed by a key that is not node {node_id}'s (forged)")
    parse_time(obj["time"], f"{what}.time")
    if not isinstance(obj["bundle"], str):
        raise FormatError(f"{what}: bad bundle id")
    cols = obj["collections"]
    if not isinstance(cols, dict):
        raise FormatError(f"{what}: bad collections")
    for c, e in cols.items():
        check_name(c)
        if not isinstance(e, dict) or e.get("status") not in STATUSES:
            raise FormatError(f"{what}: bad entry for {c}")
        v = e.get("version")
        if v is not None and (not isinstance(v, int) or isinstance(v, bool)):
            raise FormatError(f"{what}: bad version for {c}")
    obj["id"] = rid
    return obj


def read_receipts(bundle_dir, known_nodes: dict) -> dict:
    """Read every receipt on a bundle folder.

    ``known_nodes``: {node_id: base64 Ed25519 public key}. Returns::

        {"bundle": id or None, "nodes": {node_id: {"time", "collections", "receipt"}},
         "rejected": [{"file", "error"}]}

    For each node the latest valid receipt wins. Receipts for another bundle,
    from unknown nodes, forged or altered, are rejected (listed with a reason).
    """
    from .bundle import BUNDLE_FILE
    from .keys import open_envelope as _open

    bundle_dir = os.fspath(bundle_dir)
    bundle_id = None
    try:
        with open(os.path.join(bundle_dir, BUNDLE_FILE), "rb") as f:
            _, bundle_id, _ = _open(f.read(), None, "bundle")
    except (OSError, NasError):
        pass
    nodes, rejected = {}, []
    rd = os.path.join(bundle_dir, "receipts")
    for name in sorted(os.listdir(rd)) if os.path.isdir(rd) else []:
        if not name.endswith(".json"):
            continue
        p = os.path.join(rd, name)
        try:
            with open(p, "rb") as f:
                r = parse_receipt(f.read(), known_nodes, f"receipt {name}")
            if bundle_id is not None and r["bundle"] != bundle_id:
                raise FormatError(f"receipt {name}: written for another bundle")
        except (NasError, OSError) as exc:
            rejected.append({"file": name, "error": str(exc)})
            continue
        prev = nodes.get(r["node_id"])
        if prev is None or r["time"] >= prev["time"]:
            nodes[r["node_id"]] = {"time": r["time"], "bundle": r["bundle"], "collections": r["collections"],
                                   "receipt": name}
    return {"bundle": bundle_id, "nodes": nodes, "rejected": rejected}
