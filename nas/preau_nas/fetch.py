"""Online source: a static HTTP(S) server holding a store (see store.py).

Many chunks in flight (a pool of worker threads, each with its own keep-alive
connection), each chunk verified on arrival and written to the staging
directory at once, so an interrupted pull never downloads a chunk twice.
Optional bandwidth limit (token bucket shared by the workers) and allowed time
windows ("19:00-07:00", local time): outside them the transfer stops cleanly
and resumes at the next run.
"""

from __future__ import annotations

import datetime as dt
import http.client
import threading
import time
import urllib.parse

from .chunks import decode_object, object_relpath
from .errors import IntegrityError, MissingObjectError, NasError, OutsideWindowError
from .util import raise_disk_full


def parse_window(w: str) -> tuple[int, int]:
    try:
        a, b = w.split("-")
        ha, ma = (int(x) for x in a.split(":"))
        hb, mb = (int(x) for x in b.split(":"))
    except ValueError as exc:
        raise NasError(f"bad time window {w!r} (expected HH:MM-HH:MM)") from exc
    if not (0 <= ha < 24 and 0 <= hb <= 24 and 0 <= ma < 60 and 0 <= mb < 60):
        raise NasError(f"bad time window {w!r}")
    return ha * 60 + ma, hb * 60 + mb


def in_windows(windows, now: dt.datetime | None = None) -> bool:
    if not windows:
        return True
    now = now or dt.datetime.now()
    t = now.hour * 60 + now.minute
    for w in windows:
        a, b = parse_window(w)
        if (a <= t < b) if a <= b else (t >= a or t < b):
            return True
    return False


def _detail(body: bytes) -> str:
    """": <the server's reason>" from a Préau JSON refusal ({"detail": "…"}), else ""."""
    import json

    try:
        detail = json.loads(body[:4096]).get("detail")
    except (ValueError, AttributeError, UnicodeDecodeError):
        return ""
    return f": {detail[:200]}" if isinstance(detail, str) and detail else ""


class RateLimiter:
    def __init__(self, rate: int | None):
        self.rate = rate
        self.lock = threading.Lock()
        self.allowance = 0.0
        self.last = time.monotonic()

    def take(self, n: int) -> None:
        if not self.rate:
            return
        with self.lock:
            now = time.monotonic()
            self.allowance = min(self.rate, self.allowance + (now - self.last) * self.rate)
            self.last = now
            self.allowance -= n
            wait = -self.allowance / self.rate if self.allowance < 0 else 0.0
        if wait > 0:
            time.sleep(wait)


class Window:
    """How many requests may be in flight: starts small, grows with fast
    requests, halves (and caps itself) when a connection takes more than half a
    second to open, the sign of a server whose listen queue overflows (plain
    ``python -m http.server`` has a backlog of 5 and no keep-alive)."""

    def __init__(self, maximum: int):
        self.max = max(1, maximum)
        self.limit = min(4, self.max)
        self.active = 0
        self.good = 0
        self.cv = threading.Condition()

    def acquire(self):
        with self.cv:
            while self.active >= self.limit:
                self.cv.wait()
            self.active += 1

    def release(self, slow_connect: bool):
        with self.cv:
            self.active -= 1
            if slow_connect:
                self.max = max(1, min(self.max, self.limit - 1))
                self.limit = max(1, min(self.max, self.limit // 2))
                self.good = 0
            else:
                self.good += 1
                if self.good >= 4 * self.limit and self.limit < self.max:
                    self.limit += 1
                    self.good = 0
            self.cv.notify_all()


class HTTPSource:
    def __init__(self, base_url: str, *, jobs: int = 16, limit_rate: int | None = None,
                 windows=None, timeout: float = 30.0, retries: int = 3, learned_max: int | None = None,
                 authorization: str | None = None):
        if not base_url:
            raise NasError("no base URL configured for pull")
        u = urllib.parse.urlsplit(base_url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise NasError(f"bad base URL {base_url!r}")
        self.base_url = base_url
        self.scheme, self.host, self.port = u.scheme, u.hostname, u.port
        self.prefix = u.path.rstrip("/")
        self.jobs = max(1, jobs)
        self.window = Window(min(self.jobs, learned_max) if learned_max else self.jobs)
        self.limiter = RateLimiter(limit_rate)
        self.windows = list(windows or [])
        self.timeout = timeout
        self.retries = retries
        self.bytes_received = 0
        self.bytes_sent = 0
        self.requests = 0
        self._count_lock = threading.Lock()
        self._tls = threading.local()
        self.name = f"pull {base_url}"
        # "Bearer <node_id>:<credential>" for an enrolled node (the Préau store); none for a plain static server
        self.headers = {"Accept-Encoding": "identity"}
        if authorization:
            self.headers["Authorization"] = authorization
        for w in self.windows:
            parse_window(w)

    # ------------------------------------------------------------------ http
    def _conn(self):
        c = getattr(self._tls, "conn", None)
        if c is None:
            cls = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
            c = self._tls.conn = cls(self.host, self.port, timeout=self.timeout)
        return c

    def _drop(self):
        c = getattr(self._tls, "conn", None)
        if c is not None:
            c.close()
            self._tls.conn = None

    def check_window(self):
        if not in_windows(self.windows):
            raise OutsideWindowError(f"outside the allowed time windows {', '.join(self.windows)}: paused, will resume")

    def get(self, rel: str, *, missing_ok: bool = False, limit: int = 64 << 20) -> bytes | None:
        """GET base/rel; return the body (None on 404 if missing_ok)."""
        self.check_window()
        path = urllib.parse.quote(f"{self.prefix}/{rel}")
        last = None
        for attempt in range(self.retries):
            conn = self._conn()
            slow = False
            self.window.acquire()
            try:
                if conn.sock is None:
                    t0 = time.monotonic()
                    conn.connect()
                    slow = time.monotonic() - t0 > 0.5
                conn.request("GET", path, headers=self.headers)
                resp = conn.getresponse()
                status = resp.status
                body = resp.read(limit + 1)
                if resp.will_close or not resp.isclosed():
                    if not resp.isclosed():
                        resp.close()
                    self._drop()
            except (OSError, http.client.HTTPException) as exc:
                self._drop()
                last = exc
                self.window.release(slow)
                time.sleep(0.2 * (attempt + 1))
                continue
            self.window.release(slow)
            hdr = len(resp.reason) + 15 + sum(len(k) + len(v) + 4 for k, v in resp.getheaders()) + 2
            req = len(path) + 16 + len(self.host) + 60
            with self._count_lock:
                self.bytes_received += len(body) + hdr
                self.bytes_sent += req
                self.requests += 1
            self.limiter.take(len(body) + hdr)
            if status == 404:
                if missing_ok:
                    return None
                raise MissingObjectError(f"{self.base_url}/{rel}: not found (404)")
            if status in (401, 403):
                why = "credential refused" if "Authorization" in self.headers else "no credential: enrol the node"
                raise NasError(f"{self.base_url}/{rel}: HTTP {status}, refused by the server ({why}"
                               f"{_detail(body)})")
            if status != 200:
                last = NasError(f"{self.base_url}/{rel}: HTTP {status}")
                if 500 <= status < 600:
                    time.sleep(0.2 * (attempt + 1))
                    continue
                raise last
            if len(body) > limit:
                raise NasError(f"{self.base_url}/{rel}: too large")
            return body
        if isinstance(last, NasError):
            raise NasError(f"{self.base_url}/{rel}: {last}")
        raise NasError(f"{self.base_url}/{rel}: server unreachable ({last}); what has arrived is kept, "
                       f"the next run will resume")

    def download(self, rel: str, path: str, expected_size: int | None, prog=None) -> None:
        """Stream base/rel into ``path`` (tmp + rename); skip if already there with the expected size."""
        import os

        if expected_size is not None and os.path.exists(path) and os.path.getsize(path) == expected_size:
            return
        self.check_window()
        url_path = urllib.parse.quote(f"{self.prefix}/{rel}")
        conn = self._conn()
        if conn.sock is None:
            conn.connect()
        tmp = path + ".part"
        try:
            conn.request("GET", url_path, headers=self.headers)
            resp = conn.getresponse()
            hdr = len(resp.reason) + 15 + sum(len(k) + len(v) + 4 for k, v in resp.getheaders()) + 2
            with self._count_lock:
                self.bytes_received += hdr
                self.bytes_sent += len(url_path) + 16 + len(self.host) + 60
                self.requests += 1
            if resp.status == 404:
                resp.read()
                raise MissingObjectError(f"{self.base_url}/{rel}: not found (404)")
            if resp.status != 200:
                body = resp.read()
                why = ", refused by the server" if resp.status in (401, 403) else ""
                raise NasError(f"{self.base_url}/{rel}: HTTP {resp.status}{why}{_detail(body)}")
            n = 0
            with open(tmp, "wb") as f:
                while True:
                    block = resp.read(1 << 20)
                    if not block:
                        break
                    f.write(block)
                    n += len(block)
                    with self._count_lock:
                        self.bytes_received += len(block)
                    self.limiter.take(len(block))
                    if prog is not None:
                        prog.advance(len(block))
                    if expected_size is not None and n > expected_size:
                        break
                    self.check_window()
            if resp.will_close:
                self._drop()
        except (OSError, http.client.HTTPException) as exc:
            self._drop()
            raise_disk_full(exc, path) if isinstance(exc, OSError) else None
            if isinstance(exc, OSError) and exc.filename:  # the local file, not the network
                raise NasError(f"{path}: {exc}") from exc
            raise NasError(f"{self.base_url}/{rel}: server unreachable or cut off ({exc}); the next run will "
                           f"download this file again") from exc
        except BaseException:
            self._drop()
            raise
        if expected_size is not None and n != expected_size:
            os.unlink(tmp)
            raise IntegrityError(f"{self.base_url}/{rel}: {n} bytes, expected {expected_size}")
        os.replace(tmp, path)

    # ------------------------------------------------------------------ chunks
    def _fetch_to(self, cid: bytes, staging) -> int:
        rel = object_relpath(cid.hex())
        data = self.get(rel)
        try:
            decode_object(cid, data, f"chunk {self.base_url}/{rel}")
        except IntegrityError:
            data = self.get(rel)  # one retry, in case of a transient transfer problem
            decode_object(cid, data, f"chunk {self.base_url}/{rel}")
        staging.add(cid, data)
        return len(data)

    def fetch_one(self, cid: bytes, ln: int, staging) -> None:
        self._fetch_to(cid, staging)

    def fetch(self, needed, staging, prog) -> None:
        """Download every chunk of ``needed`` (a ChunkList) into the staging log, many in flight."""
        errors: list[BaseException] = []
        stop = threading.Event()
        plock = threading.Lock()
        nxt = [0]
        n = len(needed)

        def worker():
            try:
                while not stop.is_set():
                    with plock:
                        i = nxt[0]
                        nxt[0] += 1
                    if i >= n:
                        return
                    cid, ln = needed.item(i)
                    self._fetch_to(cid, staging)
                    if prog is not None:
                        with plock:
                            prog.advance(ln)
            except BaseException as exc:  # noqa: BLE001 - reported to the caller
                errors.append(exc)
                stop.set()
            finally:
                self._drop()

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(min(self.jobs, n) or 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            # prefer the most telling error
            for kind in (OutsideWindowError, IntegrityError, NasError):
                for e in errors:
                    if isinstance(e, kind):
                        raise e
            e = errors[0]
            if isinstance(e, OSError):
                raise_disk_full(e, staging.path)
                raise NasError(f"cannot store chunk: {e}") from e
            raise e


class DeltaSource:
    """A NAS exactly one version behind downloads the published delta bundle (a few
    large, well-compressed files) instead of chunk by chunk; anything the delta
    lacks (e.g. a local file found damaged) still comes chunk by chunk."""

    def __init__(self, http: HTTPSource, delta: dict, workdir: str, trusted, prog=None):
        self.http = http
        self.delta = delta
        self.dir = workdir
        self.trusted = trusted
        self.bundle = None
        self.name = f"pull {http.base_url} (delta)"

    def _open(self):
        import os

        from .bundle import BUNDLE_FILE, Bundle
        from .keys import open_envelope

        if self.bundle is not None:
            return self.bundle
        rel = self.delta["path"].strip("/")
        os.makedirs(os.path.join(self.dir, "packs"), exist_ok=True)
        head = self.http.get(f"{rel}/{BUNDLE_FILE}", limit=8 << 20)
        info, _, _ = open_envelope(head, self.trusted, f"delta {rel}")
        from .bundle import parse_bundle_payload

        info = parse_bundle_payload(info, f"delta {rel}")
        import shutil

        need = sum(pk["size"] for pk in info["packs"]) + info["index"]["size"] + (1 << 20)
        free = shutil.disk_usage(self.dir).free
        if need > free:
            from .errors import DiskFullError

            raise DiskFullError(f"disk full: the delta {rel} needs {need} bytes, only {free} free: "
                                f"nothing downloaded")
        self.http.download(f"{rel}/index.bin", os.path.join(self.dir, "index.bin"), info["index"]["size"])
        for pk in info["packs"]:
            self.http.download(f"{rel}/packs/{pk['name']}", os.path.join(self.dir, "packs", pk["name"]), pk["size"])
        with open(os.path.join(self.dir, BUNDLE_FILE), "wb") as f:
            f.write(head)
        self.bundle = Bundle(self.dir, self.trusted)
        return self.bundle

    def fetch(self, needed, staging, prog) -> None:
        try:
            self._open().fetch(needed, staging, prog)
        except MissingObjectError:
            from .compact import ChunkList

            rest = ChunkList.of((cid, ln) for cid, ln in needed if not staging.has(cid))
            self.http.fetch(rest, staging, prog)

    def fetch_one(self, cid: bytes, ln: int, staging) -> None:
        self.http.fetch_one(cid, ln, staging)
