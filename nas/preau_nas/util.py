"""Small filesystem and time helpers: atomic writes, fsync of directories, dates."""

from __future__ import annotations

import datetime as _dt
import errno
import json
import os
import re

from .errors import DiskFullError, FormatError


def fsync_dir(path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path, data: bytes, *, durable: bool = True, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` so that readers see the old or the new file, never a mix."""
    path = os.fspath(path)
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        try:
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise_disk_full(exc, path)
        raise
    if durable:
        fsync_dir(os.path.dirname(path) or ".")


def raise_disk_full(exc: OSError, path) -> None:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        raise DiskFullError(f"disk full while writing {os.fspath(path)}") from exc


def atomic_symlink(target: str, link_path) -> None:
    """Point ``link_path`` at ``target`` atomically (symlink + rename) and make it durable."""
    link_path = os.fspath(link_path)
    tmp = f"{link_path}.tmp-{os.getpid()}"
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass
    os.symlink(target, tmp)
    os.replace(tmp, link_path)
    fsync_dir(os.path.dirname(link_path) or ".")


def canonical_json(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def utcnow() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0)


def fmt_time(t: _dt.datetime) -> str:
    return t.astimezone(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def parse_time(s, what: str) -> _dt.datetime:
    if not isinstance(s, str) or not _TIME_RE.match(s):
        raise FormatError(f"{what}: bad timestamp {s!r}")
    try:
        return _dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=_dt.UTC)
    except ValueError as exc:
        raise FormatError(f"{what}: bad timestamp {s!r}") from exc


_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def check_name(name, what: str = "collection") -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name) or ".." in name:
        raise FormatError(f"bad {what} name {name!r} (lowercase letters, digits, . _ -)")
    return name


_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def check_hash(h, what: str) -> str:
    if not isinstance(h, str) or not _HEX64.match(h):
        raise FormatError(f"{what}: bad hash {h!r}")
    return h


def parse_size(s) -> int | None:
    """'10M' -> 10*1024*1024 (bytes per second for rate limits). None/''/0 -> None."""
    if s in (None, "", 0, "0"):
        return None
    if isinstance(s, int):
        return s
    m = re.match(r"^\s*(\d+(?:\.\d+)?)\s*([kKmMgG]?)i?[bB]?\s*$", str(s))
    if not m:
        raise ValueError(f"bad size {s!r}")
    mult = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[m.group(2).lower()]
    return int(float(m.group(1)) * mult)
