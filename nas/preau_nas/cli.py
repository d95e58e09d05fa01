"""``preau-nas`` command line. Progress bars go to stderr, results (JSON) to stdout."""

from __future__ import annotations

import argparse
import json
import os
import sys

from . import bundle as bundle_mod
from .errors import NasError
from .node import Node
from .util import parse_size


class Bars:
    """Turn progress events into tqdm bars on stderr (quiet if not a TTY unless forced)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bar = None
        self.key = None

    def __call__(self, ev: dict):
        if not self.enabled:
            return
        from tqdm import tqdm

        key = (ev.get("op"), ev.get("phase"), ev.get("collection"))
        if key != self.key or self.bar is None:
            self.close()
            self.key = key
            desc = " ".join(str(x) for x in key if x)
            scale = ev.get("unit") == "bytes"
            self.bar = tqdm(total=ev.get("total") or None, desc=desc, unit="B" if scale else "",
                            unit_scale=scale, unit_divisor=1024, file=sys.stderr, leave=False)
        self.bar.n = ev.get("done", 0)
        self.bar.refresh()
        if ev.get("phase") == "done":
            self.close()

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _root(a):
    r = a.root or os.environ.get("PREAU_NAS_ROOT")
    if not r:
        raise NasError("no NAS root: give --root or set PREAU_NAS_ROOT")
    return r


def _print(obj):
    json.dump(obj, sys.stdout, indent=1, sort_keys=True, default=str)
    sys.stdout.write("\n")


def _from_versions(items):
    out: dict = {}
    for it in items or []:
        c, _, v = it.partition("=")
        if not v:
            raise NasError(f"--from expects COLLECTION=MANIFEST_ID|empty, got {it!r}")
        out.setdefault(c, []).append(None if v == "empty" else v)
    return out


def main(argv=None) -> int:
    import preau_nas as api

    p = argparse.ArgumentParser(prog="preau-nas", description="Préau content engine and NAS agent")
    p.add_argument("--progress", choices=["auto", "always", "never"], default="auto",
                   help="progress bars on stderr (default: when stderr is a terminal)")
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("keygen", help="create an Ed25519 key pair (PATH and PATH.pub)")
    s.add_argument("path")

    s = sub.add_parser("publish", help="publish SRC_DIR as the next version of a collection")
    s.add_argument("src")
    s.add_argument("--store", required=True)
    s.add_argument("--collection", "-c", required=True)
    s.add_argument("--key", required=True, help="publisher secret key file")
    s.add_argument("--expires-days", type=float, default=90)
    s.add_argument("--level", type=int, default=6, help="zstd level of chunk objects")
    s.add_argument("--force", action="store_true", help="new version even if nothing changed")
    s.add_argument("--no-delta", action="store_true", help="do not write the delta bundle from the previous version")
    s.add_argument("--delta-level", type=int, default=19, help="zstd level of the delta bundle")

    s = sub.add_parser("init", help="initialise a NAS root (creates the node key)")
    s.add_argument("--root")
    s.add_argument("--node-id", required=True)
    s.add_argument("--trust", action="append", required=True, help="publisher public key or .pub file")
    s.add_argument("--base-url")
    s.add_argument("--collection", "-c", action="append", default=[])
    s.add_argument("--limit-rate", help="bytes per second, e.g. 2M")
    s.add_argument("--window", action="append", default=[], help="allowed time window HH:MM-HH:MM (local)")
    s.add_argument("--jobs", type=int, default=16, help="chunks in flight")

    s = sub.add_parser("enrol", help="enrol this NAS with a Préau server (one-time code from its NAS page)")
    s.add_argument("--root")
    s.add_argument("--server", required=True, help="the Préau server, e.g. https://preau.example.org")
    s.add_argument("--code", required=True, help="the enrolment code shown in Préau")

    s = sub.add_parser("checkin", help="report to the Préau server; print what it offers")
    s.add_argument("--root")

    s = sub.add_parser("run", help="the agent service: check in, pull what is new (in the windows), repeat")
    s.add_argument("--root")
    s.add_argument("--once", action="store_true", help="one round then exit (for cron)")
    s.add_argument("--interval", type=float, default=900, help="seconds between rounds (default 900)")
    s.add_argument("--ignore-windows", action="store_true")

    s = sub.add_parser("pull", help="fetch and install the latest versions over HTTP")
    s.add_argument("--root")
    s.add_argument("--base-url")
    s.add_argument("--collection", "-c", action="append")
    s.add_argument("--limit-rate")
    s.add_argument("--window", action="append")
    s.add_argument("--ignore-windows", action="store_true")
    s.add_argument("--jobs", type=int)
    s.add_argument("--force", action="store_true", help="reinstall even if up to date")
    s.add_argument("--no-delta", action="store_true", help="fetch chunk by chunk even when a delta bundle exists")

    b = sub.add_parser("bundle", help="offline bundles (USB disks)").add_subparsers(dest="bcmd", required=True)
    s = b.add_parser("build")
    s.add_argument("out")
    s.add_argument("--store", required=True)
    s.add_argument("--key", required=True)
    s.add_argument("--collection", "-c", action="append")
    s.add_argument("--from", dest="from_", action="append",
                   help="COLLECTION=MANIFEST_ID or COLLECTION=empty: a starting version to serve (repeatable)")
    s.add_argument("--level", type=int, default=19)
    s = b.add_parser("apply")
    s.add_argument("bundle")
    s.add_argument("--root")
    s = b.add_parser("receipts")
    s.add_argument("bundle")
    s.add_argument("--nodes", required=True, help='JSON file {"node_id": "public key", ...}')

    s = sub.add_parser("verify", help="check what the NAS holds")
    s.add_argument("--root")
    s.add_argument("--full", action="store_true", help="re-hash every chunk")
    s.add_argument("--collection", "-c", action="append")

    s = sub.add_parser("status", help="collections, versions, bytes, last sync, last error")
    s.add_argument("--root")
    s.add_argument("--json", action="store_true")

    s = sub.add_parser("rollback", help="switch a collection back to its previous version")
    s.add_argument("--root")
    s.add_argument("--collection", "-c", required=True)

    a = p.parse_args(argv)
    bars = Bars(a.progress == "always" or (a.progress == "auto" and sys.stderr.isatty()))
    try:
        if a.cmd == "keygen":
            _print({"public_key": api.keygen(a.path), "secret_key_file": a.path, "public_key_file": a.path + ".pub"})
        elif a.cmd == "publish":
            _print(api.publish(a.store, a.collection, a.src, a.key, expires_days=a.expires_days,
                               level=a.level, force=a.force, delta=not a.no_delta,
                               delta_level=a.delta_level, progress=bars))
        elif a.cmd == "init":
            n = Node.init(_root(a), a.node_id, a.trust, base_url=a.base_url, collections=a.collection,
                          limit_rate=parse_size(a.limit_rate), windows=a.window, jobs=a.jobs)
            _print({"node_id": n.node_id, "root": n.root, "public_key": n.keypair().public})
        elif a.cmd == "enrol":
            n = api.enrol(_root(a), a.server, a.code)
            _print({"node_id": n.node_id, "root": n.root, "base_url": n.config.get("base_url"),
                    "collections": n.subscribed(), "public_key": n.keypair().public})
        elif a.cmd == "checkin":
            _print(api.check_in(_root(a)))
        elif a.cmd == "run":
            def log(r):
                print(json.dumps(r, sort_keys=True, default=str), flush=True)  # one JSON line per round
            r = api.run(_root(a), once=a.once, interval=a.interval, ignore_windows=a.ignore_windows,
                        progress=bars, log=log)
            return 0 if r["ok"] else 1
        elif a.cmd == "pull":
            windows = [] if a.ignore_windows else a.window
            r = api.pull(_root(a), a.collection, base_url=a.base_url, jobs=a.jobs,
                         limit_rate=parse_size(a.limit_rate) if a.limit_rate else None,
                         windows=windows, force=a.force, delta=not a.no_delta, progress=bars,
                         raise_errors=False)
            _print(r)
            return 0 if r["ok"] else 1
        elif a.cmd == "bundle" and a.bcmd == "build":
            _print(bundle_mod.build(a.store, a.out, a.key, collections=a.collection,
                                    from_versions=_from_versions(a.from_), level=a.level, progress=bars))
        elif a.cmd == "bundle" and a.bcmd == "apply":
            r = bundle_mod.apply(_root(a), a.bundle, progress=bars, raise_errors=False)
            _print(r)
            return 0 if r["ok"] else 1
        elif a.cmd == "bundle" and a.bcmd == "receipts":
            with open(a.nodes) as f:
                nodes = json.load(f)
            r = api.read_receipts(a.bundle, nodes)
            _print(r)
            return 0 if not r["rejected"] else 2
        elif a.cmd == "verify":
            r = api.verify(_root(a), a.collection, full=a.full, progress=bars)
            _print(r)
            return 0 if r["ok"] else 1
        elif a.cmd == "status":
            _print(api.status(_root(a)))
        elif a.cmd == "rollback":
            n = Node(_root(a))
            with n:
                _print(n.rollback(a.collection))
    except NasError as exc:
        bars.close()
        print(f"preau-nas: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        bars.close()
        print("preau-nas: interrupted (resumable)", file=sys.stderr)
        return 130
    finally:
        bars.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
