"""Install a verified manifest on a node: plan, stage missing chunks, assemble, switch.

Shared by online pull (chunks come over HTTP) and bundle apply (chunks come
from a USB disk). The *source* object has ``fetch(needed, staging, progress)``
which must add every needed chunk (a ChunkList), verified, to the staging log
(staging.py), and ``fetch_one(cid, length, staging)`` for a chunk found
damaged during assembly (a bundle source raises MissingObjectError if it
does not carry it).

Crash safety: a version is assembled in ``staging/<c>/build-*``, every file
and directory fsynced, then renamed into ``versions/`` and published by an
atomic symlink swap of ``current``. A kill at any point leaves ``current`` on
the old or the new complete version; staged chunks survive for the next run.
"""

from __future__ import annotations

import errno
import os
import shutil
import time
from array import array

import blake3

from .chunks import ID_LEN, ZERO_BLOCK_ID, iter_buffer_chunks
from .compact import ChunkList, PrefixMap, prefix
from .errors import DiskFullError, ExpiredError, FormatError, IntegrityError, NasError, RollbackError
from .manifest import DirEntry, FileEntry, Manifest, check_body
from .progress import Progress
from .staging import Staging
from .util import atomic_symlink, atomic_write, fmt_time, fsync_dir, raise_disk_full, utcnow


def check_offer(node, c: str, m: Manifest, *, online: bool, now=None) -> str:
    """Return 'install', 'reinstall' or 'up_to_date'; raise on rollback/expiry."""
    if m.collection != c:
        raise FormatError(f"manifest {m.id[:16]} is for collection {m.collection}, not {c}")
    held_v, held_id = node.held(c)
    if m.version < held_v:
        raise RollbackError(
            f"{c}: manifest {m.id[:16]} is version {m.version}, older than version {held_v} "
            f"already held: refused (rollback or replay)")
    if m.version == held_v and m.id != held_id:
        raise RollbackError(f"{c}: manifest {m.id[:16]} conflicts with the installed version {held_v}: refused")
    if online and m.expired(now or utcnow()):
        raise ExpiredError(f"{c}: manifest {m.id[:16]} (version {m.version}) expired on {m.expires}: refused")
    cur = node.current_manifest(c)
    if cur is not None and cur.id == m.id:
        return "reinstall" if node.state(c).get("damaged") else "up_to_date"
    return "reinstall" if m.id == held_id else "install"


def load_body(node, c: str, m: Manifest, source, staging) -> tuple[list, bytes]:
    """Get the manifest body: from the node's current body where chunks match, else the source."""
    have = {}
    cur = node.current_manifest(c)
    if cur is not None:
        try:
            for data, cid in iter_buffer_chunks(node.local_body_bytes(c, cur)):
                have[cid] = bytes(data)
        except OSError:
            pass
    missing, listed = ChunkList(), set()
    for cid, ln in m.body_chunks:
        if cid not in have and cid not in listed and not staging.has(cid):
            listed.add(cid)
            missing.append(cid, ln)
    if missing:
        source.fetch(missing, staging, None)
    # one preallocated buffer: no list of pieces plus a joined copy (a 4 GiB image has a 36 MB body)
    body = bytearray(m.body_size)
    pos = 0
    for cid, ln in m.body_chunks:
        data = have.get(cid)
        if data is None:
            data = staging.get(cid)
        if data is None:
            source.fetch_one(cid, ln, staging)
            data = staging.get(cid)
        if data is None or len(data) != ln:
            raise IntegrityError(f"body chunk {cid.hex()} of manifest {m.id[:16]} could not be obtained intact")
        body[pos:pos + ln] = data
        pos += ln
    del have
    return check_body(m, body), body


class Plan:
    def __init__(self):
        self.reuse = {}  # new path -> (abs source path, same_mode)
        self.needed = ChunkList()  # chunks to obtain from the source
        self.needed_bytes = 0
        self.local = None  # PrefixMap: id prefix -> (file index << 40 | offset) in the current tree
        self.local_files = []  # abs paths in the current tree
        self.same_path = {}  # path -> (index in local_files, current FileEntry)
        self.reused_bytes = 0

    def local_at(self, cid):
        if self.local is None:
            return None
        v = self.local.get(prefix(cid))
        return None if v is None else (v >> 40, v & ((1 << 40) - 1))


ZERO_PREFIX = int.from_bytes(ZERO_BLOCK_ID[:8], "little")


def make_plan(node, c: str, entries: list, staging) -> Plan:
    plan = Plan()
    cur = node.current_manifest(c)
    tree = node.current_tree(c)
    damaged = set(node.state(c).get("damaged") or [])
    whole = {}
    keys, vals = array("Q"), array("Q")
    if cur is not None and tree and os.path.isdir(tree):
        for e in node.local_body(c, cur):
            if not isinstance(e, FileEntry) or e.path in damaged:
                continue
            p = os.path.join(tree, e.path)
            try:
                st = os.lstat(p)
            except OSError:
                continue
            if st.st_size != e.size or not os.path.isfile(p):
                continue
            whole.setdefault(e.signature(), (p, e.mode))
            idx = len(plan.local_files)
            plan.local_files.append(p)
            plan.same_path[e.path] = (idx, e)
            off = 0
            ids = e.ids
            for i, ln in enumerate(e.lens):
                keys.append(int.from_bytes(ids[i * ID_LEN:i * ID_LEN + 8], "little"))
                vals.append(idx << 40 | off)
                off += ln
        if keys:
            plan.local = PrefixMap(keys, vals)
        del keys, vals
    seen = set()
    for e in entries:
        if not isinstance(e, FileEntry):
            continue
        src = whole.get(e.signature())
        if src is not None:
            plan.reuse[e.path] = (src[0], src[1] == e.mode)
            plan.reused_bytes += e.size
            continue
        ids = e.ids
        for i, ln in enumerate(e.lens):
            k = int.from_bytes(ids[i * ID_LEN:i * ID_LEN + 8], "little")
            if k == ZERO_PREFIX or (plan.local is not None and k in plan.local):
                continue  # holes need no data; local chunks need no de-duplication
            if k in seen:
                continue
            seen.add(k)
            cid = bytes(ids[i * ID_LEN:(i + 1) * ID_LEN])
            if cid == ZERO_BLOCK_ID:
                continue
            if staging.has(cid):
                continue
            plan.needed.append(cid, ln)
            plan.needed_bytes += ln
    del seen
    return plan


def _copy_range(src_fd: int, dst_fd: int, length: int, offset: int) -> None:
    """Copy an unchanged run in the kernel (a reflink on btrfs/XFS), else by reads."""
    done = 0
    try:
        while done < length:
            n = os.copy_file_range(src_fd, dst_fd, length - done, offset + done, offset + done)
            if n <= 0:
                break
            done += n
    except OSError:
        pass
    while done < length:
        data = os.pread(src_fd, min(1 << 20, length - done), offset + done)
        if not data:
            raise IntegrityError(f"current file shrank while being reused (fd {src_fd})")
        os.pwrite(dst_fd, data, offset + done)
        done += len(data)


def _assemble_file(e: FileEntry, dst: str, plan: Plan, staging, source, fds: dict, prog) -> None:
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    old = plan.same_path.get(e.path)
    if old is not None:
        old_idx, oe = old
        oids, olens, on = oe.ids, oe.lens, oe.count
    j, oo = 0, 0  # position in the current version of the same file
    with open(fd, "wb", buffering=1 << 20) as out:
        ids = e.ids
        lens = e.lens
        n = e.count
        sparse = False
        i, off = 0, 0
        while i < n:
            ln = lens[i]
            cid = bytes(ids[i * ID_LEN:(i + 1) * ID_LEN])
            if cid == ZERO_BLOCK_ID:  # leave a hole: disk images are mostly free space
                out.seek(ln, os.SEEK_CUR)
                sparse = True
                prog.advance(ln)
                i += 1
                off += ln
                continue
            if old is not None:
                while j < on and oo < off:
                    oo += olens[j]
                    j += 1
                if oo == off and j < on and olens[j] == ln and oids[j * ID_LEN:(j + 1) * ID_LEN] == cid:
                    # a run unchanged at the same offset: copy it whole, like a hard-linked file
                    k, jj, run = i, j, 0
                    while (k < n and jj < on and lens[k] == olens[jj]
                           and ids[k * ID_LEN:(k + 1) * ID_LEN] == oids[jj * ID_LEN:(jj + 1) * ID_LEN]
                           and ids[k * ID_LEN:(k + 1) * ID_LEN] != ZERO_BLOCK_ID):
                        run += lens[k]
                        k += 1
                        jj += 1
                    sfd = fds.get(old_idx)
                    if sfd is None:
                        sfd = fds[old_idx] = os.open(plan.local_files[old_idx], os.O_RDONLY)
                    out.flush()
                    _copy_range(sfd, fd, run, off)
                    off += run
                    oo = off
                    j = jj
                    i = k
                    out.seek(off)
                    prog.advance(run)
                    continue
            data = None
            loc = plan.local_at(cid)
            if loc is not None:
                idx, loff = loc
                sfd = fds.get(idx)
                if sfd is None:
                    sfd = fds[idx] = os.open(plan.local_files[idx], os.O_RDONLY)
                data = os.pread(sfd, ln, loff)
                if len(data) != ln or blake3.blake3(data).digest() != cid:
                    data = None  # local copy damaged: use the staged one or get it from the source
            if data is None:
                data = staging.get(cid, f"staged chunk (for {e.path})")
            if data is None:
                source.fetch_one(cid, ln, staging)
                data = staging.get(cid, f"staged chunk (for {e.path})")
            if data is None:
                raise IntegrityError(f"chunk {cid.hex()} for {e.path} could not be obtained intact")
            out.write(data)
            prog.advance(ln)
            i += 1
            off += ln
        if sparse or out.tell() != e.size:
            out.truncate(e.size)
        out.flush()
        os.fchmod(fd, e.mode)
        os.fsync(fd)


def assemble(node, c: str, m: Manifest, entries: list, plan: Plan, source, progress, staging) -> str:
    stage = node.staging(c)
    build = os.path.join(stage, f"build-{m.id[:16]}-{time.time_ns()}")
    os.makedirs(build)
    prog = Progress(progress, "install", m.total_size, phase="assemble", collection=c)
    prog.emit()
    fds: dict = {}
    dirs = []
    try:
        for e in entries:
            dst = os.path.join(build, e.path)
            if isinstance(e, DirEntry):
                os.makedirs(dst, exist_ok=True)
                dirs.append((dst, e.mode))
                continue
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            reuse = plan.reuse.get(e.path)
            if reuse is not None:
                src, same_mode = reuse
                try:
                    if not same_mode:
                        raise OSError("mode differs")
                    os.link(src, dst)
                except OSError:
                    shutil.copyfile(src, dst)
                    os.chmod(dst, e.mode)
                    with open(dst, "rb") as f:
                        os.fsync(f.fileno())
                prog.advance(e.size, file=e.path)
            else:
                _assemble_file(e, dst, plan, staging, source, fds, prog)
        for root, dnames, _ in os.walk(build):
            for d in dnames:
                fsync_dir(os.path.join(root, d))
        fsync_dir(build)
        for dst, mode in reversed(dirs):
            os.chmod(dst, mode | 0o700)  # keep owner-writable so old versions can be removed
    except OSError as exc:
        shutil.rmtree(build, ignore_errors=True)
        raise_disk_full(exc, getattr(exc, "filename", None) or build)
        raise NasError(f"{c}: cannot assemble version {m.version}: {exc}") from exc
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    finally:
        for fd in fds.values():
            os.close(fd)
    prog.done()
    return build


def switch(node, c: str, m: Manifest, body: bytes, build: str, source_name: str) -> None:
    cd = node.cdir(c)
    md = os.path.join(cd, "manifests")
    vd = os.path.join(cd, "versions")
    os.makedirs(md, exist_ok=True)
    os.makedirs(vd, exist_ok=True)
    try:
        atomic_write(os.path.join(md, m.id + ".json"), m.raw)
        atomic_write(os.path.join(md, m.id + ".body"), body)
    except OSError as exc:
        shutil.rmtree(build, ignore_errors=True)
        raise_disk_full(exc, md)
        raise
    name = os.path.basename(build).split("-")[-1]
    target = f"{m.id}.{name}"
    os.rename(build, os.path.join(vd, target))
    fsync_dir(vd)
    fsync_dir(os.path.dirname(build))
    old = node.link_target(c)
    atomic_symlink(f"versions/{target}", os.path.join(cd, "current"))  # the commit point
    if old and os.path.basename(old).split(".")[0] != m.id:
        atomic_symlink(old, os.path.join(cd, "previous"))
    held_v, _ = node.held(c)
    node.save_state(c, highest_version=max(held_v, m.version), highest_manifest=m.id if m.version >= held_v else node.state(c).get("highest_manifest"),
                    last_sync=fmt_time(utcnow()), last_error=None, damaged=[], source=source_name)


def install(node, c: str, m: Manifest, source, *, online: bool, progress=None, force: bool = False) -> dict:
    """Install manifest ``m`` (already signature-checked) for collection ``c``. Caller holds the lock."""
    verdict = check_offer(node, c, m, online=online)
    if verdict == "up_to_date" and not force:
        node.save_state(c, last_sync=fmt_time(utcnow()), last_error=None)
        return {"collection": c, "version": m.version, "manifest": m.id, "status": "up_to_date",
                "fetched_bytes": 0}
    stage = node.staging(c)
    os.makedirs(stage, exist_ok=True)
    for name in os.listdir(stage):
        if name.startswith("build-"):
            shutil.rmtree(os.path.join(stage, name), ignore_errors=True)
    staging = None
    try:
        staging = Staging(stage)
        entries, body_bytes = load_body(node, c, m, source, staging)
        plan = make_plan(node, c, entries, staging)
        need = int((plan.needed_bytes + m.total_size - plan.reused_bytes) * 1.02) + (1 << 20)
        free = shutil.disk_usage(node.root).free
        if need > free:
            raise DiskFullError(f"disk full: {c} version {m.version} needs about {need} bytes on {node.root}, "
                                f"only {free} free: nothing downloaded")
        prog = Progress(progress, "fetch", plan.needed_bytes, phase="fetch", collection=c)
        prog.emit(chunks=len(plan.needed))
        if plan.needed:
            source.fetch(plan.needed, staging, prog)
        prog.done()
        needed_chunks = len(plan.needed)
        plan.needed = None  # 36 bytes a chunk: free it before assembling
        build = assemble(node, c, m, entries, plan, source, progress, staging)
        switch(node, c, m, body_bytes, build, source.name)
    except DiskFullError:
        # free the space we took so the NAS keeps serving and recording its state
        if staging is not None:
            staging.close()
        shutil.rmtree(stage, ignore_errors=True)
        raise
    except OSError as exc:
        shutil.rmtree(stage, ignore_errors=True) if exc.errno in (errno.ENOSPC, errno.EDQUOT) else None
        raise_disk_full(exc, getattr(exc, "filename", None) or stage)
        raise NasError(f"{c}: {exc}") from exc
    finally:
        if staging is not None:
            staging.close()
    node.cleanup(c)
    shutil.rmtree(stage, ignore_errors=True)
    return {"collection": c, "version": m.version, "manifest": m.id, "status": "updated",
            "needed_chunks": needed_chunks, "needed_bytes": plan.needed_bytes,
            "reused_files": len(plan.reuse), "reused_bytes": plan.reused_bytes}

