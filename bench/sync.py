#!/usr/bin/env python3
"""Sync benchmark: Préau's NAS engine side by side with rsync, on generated workloads.

Prints one JSON object per line:
  {"bench":"sync","workload":W,"tool":"preau"|"preau-chunks"|"preau-bundle"|"rsync"|"rsync-batch",
   "bytes":…,"seconds":…,"peak_rss_mb":…}
  ("preau" is a NAS one version behind, which takes the published delta;
   "preau-chunks" the same update chunk by chunk, as for a NAS further behind)
  {"bench":"chunk_hash","profile":…,"mb_per_s":…}
  {"bench":"memory","workload":"bigimage",…}  (agent peak RSS while applying a big image)

Fairness: rsync runs through a local "remote shell" (a script that execs the
command locally), so both ends are real rsync processes exchanging the delta
protocol (local-to-local rsync would default to whole-file copies), with
-az --no-whole-file; bytes = "Total bytes sent" + "Total bytes received".
Préau pulls over HTTP from a static file server on 127.0.0.1; bytes = every
request and response, headers included. Bundles are compared with
`rsync --only-write-batch` compressed by `zstd -19`.
--quick: small sizes, under 2 minutes. Everything happens in a temporary
directory under /tmp, removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sync_data as data  # noqa: E402

PY = sys.executable
SERVER = r"""
import sys
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
class H(SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and TCP_NODELAY, as nginx does by default
    disable_nagle_algorithm = True
    def log_message(self, *a): pass
class S(ThreadingHTTPServer):
    request_queue_size = 128
    def handle_error(self, *a): pass
s = S(("127.0.0.1", 0), partial(H, directory=sys.argv[1]))
print(s.server_address[1], flush=True)
s.serve_forever()
"""


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def emit(obj):
    print(json.dumps(obj), flush=True)


# Peak RSS is read with wait4() in a small trampoline process: a child forked
# straight from this (big) benchmark process would count the parent's pages
# in its high-water mark until it execs.
TRAMPOLINE = r"""
import os, subprocess, sys
p = subprocess.Popen(sys.argv[1:])
_, status, ru = os.wait4(p.pid, 0)
sys.stderr.write("\nMAXRSS_KB %d\n" % ru.ru_maxrss)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def measured(cmd, env=None, cwd=None):
    """Run cmd; return (stdout, stderr, seconds, peak RSS in MB of the largest process of its tree)."""
    t = time.monotonic()
    p = subprocess.run([PY, "-c", TRAMPOLINE, *cmd], capture_output=True, env=env, cwd=cwd)
    secs = time.monotonic() - t
    err = p.stderr.decode()
    if p.returncode != 0:
        raise RuntimeError(f"{cmd[3:8]} failed ({p.returncode}): {p.stdout.decode()[-1500:]} {err[-1500:]}")
    m = re.search(r"MAXRSS_KB (\d+)", err)
    return p.stdout.decode(), err, secs, int(m.group(1)) / 1024


def du(path) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


def same_tree(a, b) -> bool:
    return subprocess.run(["diff", "-rq", a, b], capture_output=True).returncode == 0


def drop(path):
    shutil.rmtree(path, ignore_errors=True)


class Bench:
    def __init__(self, work, quick):
        self.work = work
        self.quick = quick
        self.rsh = os.path.join(work, "local-rsh")
        with open(self.rsh, "w") as f:
            f.write('#!/bin/sh\n# rsync "remote" shell that runs the command locally: real delta transfer\nshift\nexec "$@"\n')
        os.chmod(self.rsh, 0o755)
        self.key = os.path.join(work, "publisher.key")
        import preau_nas

        self.api = preau_nas
        self.public = preau_nas.keygen(self.key)

    def cli(self, *args):
        return [PY, "-m", "preau_nas", "--progress", "never", *args]

    def serve(self, store):
        os.makedirs(store, exist_ok=True)
        p = subprocess.Popen([PY, "-c", SERVER, store], stdout=subprocess.PIPE, text=True)
        port = int(p.stdout.readline())
        return p, f"http://127.0.0.1:{port}"

    # ---------------------------------------------------------------- préau
    def preau(self, name, v1, v2):
        w = os.path.join(self.work, f"preau-{name}")
        store, nas, usb = (os.path.join(w, x) for x in ("store", "nas", "usb"))
        srv, url = self.serve(store)
        try:
            r1 = self.api.publish(store, "c", v1, self.key)
            self.api.init_node(nas, "bench-nas", [self.public], base_url=url, collections=["c"])
            self.api.bundle.build(store, usb + "-v1", self.key)  # set-up: NAS at v1 (fast, not measured)
            measured(self.cli("bundle", "apply", usb + "-v1", "--root", nas))
            drop(usb + "-v1")
            t = time.monotonic()
            r2 = self.api.publish(store, "c", v2, self.key)
            publish_s = time.monotonic() - t
            t = time.monotonic()
            self.api.bundle.build(store, usb, self.key, from_versions={"c": [r1["manifest"]]})
            build_s = time.monotonic() - t
            _, _, apply_s, apply_rss = measured(self.cli("bundle", "apply", usb, "--root", nas))
            tree = os.path.join(nas, "collections", "c", "current")
            ok_b = same_tree(v2, tree)
            if r2["changed"]:  # back to v1 (the high-water mark stays) to measure the pull of the same update
                measured(self.cli("rollback", "--root", nas, "-c", "c"))
            out, _, pull_s, pull_rss = measured(self.cli("pull", "--root", nas))
            res = json.loads(out)
            ok_p = same_tree(v2, tree)
            emit({"bench": "sync", "workload": name, "tool": "preau",
                  "bytes": res["bytes_received"] + res["bytes_sent"], "seconds": round(pull_s, 3),
                  "peak_rss_mb": round(pull_rss, 1), "requests": res["requests"], "identical": ok_p,
                  "publish_seconds": round(publish_s, 3), "version_changed": r2["changed"]})
            if r2["changed"]:  # the same update chunk by chunk, as for a NAS several versions behind
                measured(self.cli("rollback", "--root", nas, "-c", "c"))
                out, _, ch_s, ch_rss = measured(self.cli("pull", "--root", nas, "--no-delta"))
                ch = json.loads(out)
                emit({"bench": "sync", "workload": name, "tool": "preau-chunks",
                      "bytes": ch["bytes_received"] + ch["bytes_sent"], "seconds": round(ch_s, 3),
                      "peak_rss_mb": round(ch_rss, 1), "requests": ch["requests"],
                      "identical": same_tree(v2, tree)})
            emit({"bench": "sync", "workload": name, "tool": "preau-bundle", "bytes": du(usb),
                  "seconds": round(apply_s, 3), "build_seconds": round(build_s, 3),
                  "peak_rss_mb": round(apply_rss, 1), "identical": ok_b})
        finally:
            srv.kill()
            srv.wait()
            drop(w)

    # ---------------------------------------------------------------- rsync
    def rsync(self, name, v1, v2):
        w = os.path.join(self.work, f"rsync-{name}")
        os.makedirs(w)
        dst = os.path.join(w, "dst")
        subprocess.run(["cp", "-a", v1, dst], check=True)
        batch = os.path.join(w, "batch")
        try:
            _, _, bs, brss = measured(["rsync", "-a", "--no-whole-file", "--delete", f"--only-write-batch={batch}",
                                       v2 + "/", dst + "/"])
            t = time.monotonic()
            subprocess.run(["zstd", "-19", "-q", "-f", batch, "-o", batch + ".zst"], check=True)
            zs = time.monotonic() - t
            emit({"bench": "sync", "workload": name, "tool": "rsync-batch",
                  "bytes": os.path.getsize(batch + ".zst"), "seconds": round(bs + zs, 3),
                  "peak_rss_mb": round(brss, 1), "raw_batch_bytes": os.path.getsize(batch)})
            os.unlink(batch)
            out, _, secs, rss = measured(["rsync", "-az", "--no-whole-file", "--delete", "--stats", "-e", self.rsh,
                                          v2 + "/", f"localhost:{dst}/"])
            sent = int(re.search(r"Total bytes sent: ([\d,]+)", out).group(1).replace(",", ""))
            recv = int(re.search(r"Total bytes received: ([\d,]+)", out).group(1).replace(",", ""))
            emit({"bench": "sync", "workload": name, "tool": "rsync", "bytes": sent + recv,
                  "seconds": round(secs, 3), "peak_rss_mb": round(rss, 1), "identical": same_tree(v2, dst)})
        finally:
            drop(w)

    # ---------------------------------------------------------------- workloads
    def workloads(self, only=None):
        def want(*names):
            return not only or any(n in only for n in names)

        if want("image", "image-scattered"):
            yield from self.image_workloads()
        if want("tree", "nochange", "allnew"):
            yield from self.tree_workloads()
        if want("zip"):
            yield from self.zip_workloads()

    def image_workloads(self):
        q = self.quick
        w = self.work
        img_tree = os.path.join(w, "img-tree")
        img_mb = 64 if q else 1024
        log(f"generating image workload ({img_mb} MiB)")
        data.make_image_tree(img_tree, int(img_mb * 0.75 * 1024 * 1024), seed=1)
        v1, v2 = os.path.join(w, "image-v1"), os.path.join(w, "image-v2")
        os.makedirs(v1)
        os.makedirs(v2)
        data.mkfs(img_tree, os.path.join(v1, "disk.img"), img_mb)
        data.upgrade_image_tree(img_tree, seed=2)
        data.mkfs(img_tree, os.path.join(v2, "disk.img"), img_mb)
        drop(img_tree)
        data.fix_times(v1)
        data.fix_times(v2, data.FIXED_TIME + 86400)
        yield "image", v1, v2
        drop(v2)
        s2 = os.path.join(w, "scattered-v2")
        os.makedirs(s2)
        n = data.scatter(os.path.join(v1, "disk.img"), os.path.join(s2, "disk.img"), 0.03, seed=3)
        log(f"image-scattered: {n} blocks of 4 KiB rewritten")
        yield "image-scattered", v1, s2
        self.chunk_hash(os.path.join(v1, "disk.img"))
        drop(v1)
        drop(s2)

    def tree_workloads(self):
        q = self.quick
        w = self.work
        scale, nfiles = (0.1, 400) if q else (1.0, 2000)
        t1, t2 = os.path.join(w, "tree-v1"), os.path.join(w, "tree-v2")
        log(f"generating tree workload ({nfiles} files)")
        data.make_tree(t1, nfiles, scale, seed=4)
        shutil.copytree(t1, t2)
        data.mutate_tree(t2, seed=5, scale=scale)
        yield "tree", t1, t2
        drop(t2)
        yield "nochange", t1, t1
        a2 = os.path.join(w, "allnew-v2")
        data.make_tree(a2, nfiles, scale, seed=6)
        yield "allnew", t1, a2
        drop(a2)
        drop(t1)

    def zip_workloads(self):
        q = self.quick
        w = self.work
        z1, z2 = os.path.join(w, "zip-v1"), os.path.join(w, "zip-v2")
        nz, members, zscale = (6, 30, 0.3) if q else (40, 50, 1.0)
        log(f"generating zip workload ({nz} archives)")
        data.make_zips(z1, nz, members, zscale, seed=7)
        data.make_zips(z2, nz, members, zscale, seed=7, changed=2)
        yield "zip", z1, z2
        drop(z1)
        drop(z2)

    def chunk_hash(self, path):
        from preau_nas.chunks import iter_file_chunks

        size = os.path.getsize(path)
        with open(path, "rb") as f:  # into the page cache
            while f.read(1 << 24):
                pass
        for profile in ("block", "image", "default"):
            best = 0.0
            for _ in range(3):
                t = time.perf_counter()
                n = sum(len(d) for d, _ in iter_file_chunks(path, profile))
                best = max(best, size / (time.perf_counter() - t))
                assert n == size
            emit({"bench": "chunk_hash", "profile": profile, "mb_per_s": round(best / 1e6, 1),
                  "bytes": size, "threads": 1})

    def memory(self):
        """Agent peak RSS while applying (bundle) and pulling a big image to an empty NAS."""
        size = (128 if self.quick else 4096) << 20
        w = os.path.join(self.work, "mem")
        src = os.path.join(w, "src")
        os.makedirs(src)
        log(f"memory: generating a {size >> 20} MiB image")
        blk = 1 << 20
        import random

        rnd = random.Random(8)
        with open(os.path.join(src, "big.img"), "wb") as f:
            for _ in range(size // blk):
                f.write(os.urandom(blk) if rnd.random() < 0.7 else bytes(blk))
        store, usb = os.path.join(w, "store"), os.path.join(w, "usb")
        srv, url = self.serve(store)
        try:
            self.api.publish(store, "c", src, self.key)
            self.api.bundle.build(store, usb, self.key)
            for mode in ("bundle-apply", "pull"):
                nas = os.path.join(w, f"nas-{mode}")
                self.api.init_node(nas, "mem", [self.public], base_url=url, collections=["c"])
                cmd = self.cli("bundle", "apply", usb, "--root", nas) if mode == "bundle-apply" else \
                    self.cli("pull", "--root", nas)
                _, _, secs, rss = measured(cmd)
                emit({"bench": "memory", "workload": f"image-{size >> 20}MiB", "tool": "preau", "phase": mode,
                      "seconds": round(secs, 2), "peak_rss_mb": round(rss, 1), "target_mb": 200})
                drop(nas)
        finally:
            srv.kill()
            srv.wait()
            drop(w)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes (under 2 minutes)")
    ap.add_argument("--only", action="append", help="run only these workloads (image, image-scattered, tree, "
                                                     "nochange, allnew, zip, memory)")
    a = ap.parse_args()
    for tool in ("rsync", "zstd", "mkfs.ext4", "diff", "cp"):
        if not shutil.which(tool) and not os.path.exists(f"/usr/sbin/{tool}") and not os.path.exists(f"/sbin/{tool}"):
            sys.exit(f"bench/sync.py needs {tool} (apt-get install rsync zstd e2fsprogs)")
    os.environ["PATH"] = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    work = tempfile.mkdtemp(prefix="preau-bench-sync-", dir="/tmp")
    t0 = time.monotonic()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    try:
        b = Bench(work, a.quick)
        workloads = b.workloads(a.only) if not a.only or set(a.only) - {"memory"} else []
        for name, v1, v2 in workloads:
            if a.only and name not in a.only:
                continue
            log(f"{name}: préau")
            b.preau(name, v1, v2)
            log(f"{name}: rsync")
            b.rsync(name, v1, v2)
        if not a.only or "memory" in a.only:
            b.memory()
    finally:
        shutil.rmtree(work, ignore_errors=True)
        log(f"done in {time.monotonic() - t0:.0f}s")


if __name__ == "__main__":
    main()
