"""A NAS node: its configuration, keys, installed versions and state.

    ROOT/node.json                     config: node id, trusted publisher keys, base URL,
                                       subscribed collections, rate limit, windows; after
                                       enrolment the Préau server URL and the credential (mode 0600)
    ROOT/node.key, node.key.pub        the node's own Ed25519 key (signs receipts)
    ROOT/lock                          flock: one agent at a time
    ROOT/state/<collection>.json       version held, last sync, last error, damaged files
    ROOT/state/_agent.json             check-in counter (seq), last check-in, last error (agent.py)
    ROOT/collections/<c>/current   ->  versions/<manifest id>.<generation>   (served tree)
    ROOT/collections/<c>/previous  ->  the version before (kept for rollback)
    ROOT/collections/<c>/manifests/<manifest id>.json / .body
    ROOT/staging/<c>/objects/<id>      chunks received but not yet installed (resume)
    ROOT/staging/<c>/build-*           a version being assembled (discarded on restart)
    ROOT/receipts/                     copies of the receipts written onto bundles
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil

from .errors import FormatError, LockedError, NasError
from .keys import Keypair, load_public
from .manifest import Manifest, check_body, parse_manifest
from .util import atomic_symlink, atomic_write, check_name, fmt_time, utcnow

NODE_FORMAT = "preau-node/1"


class Node:
    def __init__(self, root):
        self.root = os.path.abspath(os.fspath(root))
        path = os.path.join(self.root, "node.json")
        try:
            with open(path, "rb") as f:
                self.config = json.loads(f.read())
        except FileNotFoundError as exc:
            raise NasError(f"{self.root} is not an initialised NAS root (run `preau-nas init`)") from exc
        except ValueError as exc:
            raise FormatError(f"{path}: not JSON") from exc
        if self.config.get("format") != NODE_FORMAT:
            raise FormatError(f"{path}: unknown format")
        self._lock_fd = None

    # ------------------------------------------------------------------ setup
    @classmethod
    def init(cls, root, node_id: str, trusted_keys, *, base_url: str | None = None,
             collections=None, limit_rate: int | None = None, windows=None, jobs: int = 16,
             server_url: str | None = None, credential: str | None = None) -> Node:
        root = os.path.abspath(os.fspath(root))
        os.makedirs(root, exist_ok=True)
        check_name(node_id, "node id")
        keyfile = os.path.join(root, "node.key")
        if not os.path.exists(keyfile):
            Keypair.generate().save(keyfile)
        cfg = {
            "format": NODE_FORMAT, "node_id": node_id,
            "trusted_keys": [load_public(k) for k in trusted_keys],
            "base_url": base_url, "collections": [check_name(c) for c in (collections or [])],
            "limit_rate": limit_rate, "windows": list(windows or []), "jobs": jobs,
        }
        if server_url:
            cfg["server_url"] = server_url
        if credential:
            cfg["credential"] = credential
        # the credential is a secret: node.json is then readable by its owner only
        atomic_write(os.path.join(root, "node.json"), json.dumps(cfg, indent=1).encode() + b"\n",
                     mode=0o600 if credential else 0o644)
        return cls(root)

    @property
    def node_id(self) -> str:
        return self.config["node_id"]

    @property
    def trusted(self) -> list[str]:
        return list(self.config.get("trusted_keys") or [])

    def authorization(self) -> str | None:
        """The ``Authorization`` header value for the Préau server and its store (None before enrolment)."""
        cred = self.config.get("credential")
        return f"Bearer {self.node_id}:{cred}" if cred else None

    def keypair(self) -> Keypair:
        return Keypair.load(os.path.join(self.root, "node.key"))

    def subscribed(self) -> list[str]:
        return list(self.config.get("collections") or [])

    # ------------------------------------------------------------------ lock
    def lock(self):
        fd = os.open(os.path.join(self.root, "lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                raise LockedError(f"another agent is working on {self.root}") from exc
            raise
        self._lock_fd = fd
        return self

    def unlock(self):
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self):
        return self.lock()

    def __exit__(self, *exc):
        self.unlock()

    # ------------------------------------------------------------------ paths
    def cdir(self, c: str) -> str:
        return os.path.join(self.root, "collections", check_name(c))

    def staging(self, c: str) -> str:
        return os.path.join(self.root, "staging", check_name(c))

    def state_path(self, c: str) -> str:
        return os.path.join(self.root, "state", check_name(c) + ".json")

    def known_collections(self) -> list[str]:
        names = set(self.subscribed())
        d = os.path.join(self.root, "collections")
        if os.path.isdir(d):
            names.update(os.listdir(d))
        return sorted(names)

    # ------------------------------------------------------------------ state
    def state(self, c: str) -> dict:
        try:
            with open(self.state_path(c), "rb") as f:
                return json.loads(f.read())
        except (FileNotFoundError, ValueError):
            return {}

    def save_state(self, c: str, **updates) -> dict:
        st = self.state(c)
        st.update(updates)
        st["collection"] = c
        os.makedirs(os.path.dirname(self.state_path(c)), exist_ok=True)
        atomic_write(self.state_path(c), json.dumps(st, indent=1, sort_keys=True).encode() + b"\n")
        return st

    def source_hints(self) -> dict:
        """What was learned about HTTP servers (e.g. how many requests in flight they take)."""
        try:
            with open(os.path.join(self.root, "state", "_sources.json"), "rb") as f:
                return json.loads(f.read())
        except (FileNotFoundError, ValueError):
            return {}

    def save_source_hint(self, url: str, **hint) -> None:
        hints = self.source_hints()
        hints.setdefault(url, {}).update(hint)
        os.makedirs(os.path.join(self.root, "state"), exist_ok=True)
        atomic_write(os.path.join(self.root, "state", "_sources.json"), json.dumps(hints).encode())

    def record_error(self, c: str, exc: Exception) -> None:
        code = getattr(exc, "code", "error")
        try:
            self.save_state(c, last_error={"time": fmt_time(utcnow()), "code": code, "message": str(exc)})
        except OSError:
            pass

    # ------------------------------------------------------------------ versions
    def link_target(self, c: str, which: str = "current") -> str | None:
        try:
            return os.readlink(os.path.join(self.cdir(c), which))
        except OSError:
            return None

    def current_manifest(self, c: str, which: str = "current") -> Manifest | None:
        t = self.link_target(c, which)
        if not t:
            return None
        mid = os.path.basename(t).split(".")[0]
        return self.load_local_manifest(c, mid)

    def load_local_manifest(self, c: str, mid: str) -> Manifest:
        path = os.path.join(self.cdir(c), "manifests", mid + ".json")
        with open(path, "rb") as f:
            data = f.read()
        # signature was checked on arrival; re-check against current trust anyway
        return parse_manifest(data, self.trusted, f"local manifest {c}")

    def local_body(self, c: str, m: Manifest) -> list:
        with open(os.path.join(self.cdir(c), "manifests", m.id + ".body"), "rb") as f:
            return check_body(m, f.read())

    def local_body_bytes(self, c: str, m: Manifest) -> bytes:
        with open(os.path.join(self.cdir(c), "manifests", m.id + ".body"), "rb") as f:
            return f.read()

    def current_tree(self, c: str, which: str = "current") -> str | None:
        t = self.link_target(c, which)
        return os.path.join(self.cdir(c), t) if t else None

    def held(self, c: str) -> tuple[int, str | None]:
        """Highest version ever installed here (rollback protection high-water mark)."""
        st = self.state(c)
        v, mid = st.get("highest_version", 0), st.get("highest_manifest")
        cur = self.current_manifest(c)
        if cur and cur.version >= v:
            v, mid = cur.version, cur.id
        return v, mid

    def rollback(self, c: str) -> dict:
        """Switch ``current`` back to ``previous`` (an operator decision; the
        high-water mark is unchanged, so the next pull goes forward again)."""
        prev_t, cur_t = self.link_target(c, "previous"), self.link_target(c, "current")
        if not prev_t or not os.path.isdir(os.path.join(self.cdir(c), prev_t)):
            raise NasError(f"{c}: no previous version to roll back to")
        atomic_symlink(prev_t, os.path.join(self.cdir(c), "current"))
        atomic_symlink(cur_t, os.path.join(self.cdir(c), "previous"))
        m = self.current_manifest(c)
        self.save_state(c, damaged=[])
        return {"collection": c, "version": m.version, "manifest": m.id}

    def cleanup(self, c: str) -> None:
        """Drop versions other than current/previous, unreferenced manifests and leftovers."""
        cd = self.cdir(c)
        keep = {os.path.basename(t) for t in (self.link_target(c), self.link_target(c, "previous")) if t}
        vd = os.path.join(cd, "versions")
        if os.path.isdir(vd):
            for name in os.listdir(vd):
                if name not in keep:
                    shutil.rmtree(os.path.join(vd, name), ignore_errors=True)
        keep_m = {k.split(".")[0] for k in keep}
        md = os.path.join(cd, "manifests")
        if os.path.isdir(md):
            for name in os.listdir(md):
                if name.split(".")[0] not in keep_m:
                    try:
                        os.unlink(os.path.join(md, name))
                    except OSError:
                        pass
        for name in os.listdir(cd) if os.path.isdir(cd) else []:
            if ".tmp-" in name:
                try:
                    os.unlink(os.path.join(cd, name))
                except OSError:
                    pass

    # ------------------------------------------------------------------ status
    def status(self) -> dict:
        out = {"node_id": self.node_id, "root": self.root, "public_key": self.keypair().public,
               "base_url": self.config.get("base_url"), "collections": {}}
        for c in self.known_collections():
            st = self.state(c)
            m = None
            try:
                m = self.current_manifest(c)
            except (OSError, NasError) as exc:
                st.setdefault("last_error", {"message": str(exc)})
            prev = None
            try:
                pm = self.current_manifest(c, "previous")
                prev = pm.version if pm else None
            except (OSError, NasError):
                pass
            staged = 0
            od = os.path.join(self.staging(c), "objects")
            if os.path.isdir(od):
                staged = sum(e.stat().st_size for e in os.scandir(od) if e.is_file())
            out["collections"][c] = {
                "version": m.version if m else None, "manifest": m.id if m else None,
                "created": m.created if m else None, "expires": m.expires if m else None,
                "bytes": m.total_size if m else 0, "files": m.files if m else 0,
                "previous_version": prev, "last_sync": st.get("last_sync"),
                "last_error": st.get("last_error"), "damaged": st.get("damaged", []),
                "staged_bytes": staged, "source": st.get("source"),
            }
        return out
