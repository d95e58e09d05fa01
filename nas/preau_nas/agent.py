"""The NAS agent's side of the Préau server: enrolment, check-in and the service loop.

    enrol(root, server_url, code)   POST <server>/contenus/agent/enrol/ with the one-time code and the
                                    node's public key → node.json (node id, trusted keys, store URL,
                                    collections, credential; mode 0600)
    check_in(root)                  POST <server>/contenus/agent/checkin/ (Bearer <node_id>:<credential>)
                                    with {seq, held, disk_free, last_error, agent_version} → the offers
    run_once(root) / run(root)      check in, pull what is newer than held (within the node's windows),
                                    report; on failure retry with capped exponential backoff and jitter
                                    while the NAS keeps serving what it holds

The agent's own state (check-in counter, last check-in, last error) is ROOT/state/_agent.json.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request

from .errors import FormatError, NasError
from .fetch import in_windows
from .keys import Keypair
from .node import Node
from .util import atomic_write, fmt_time, utcnow

ENROL_PATH = "/contenus/agent/enrol/"
CHECKIN_PATH = "/contenus/agent/checkin/"
TIMEOUT = 30.0
BACKOFF_BASE = 15.0  # seconds before the first retry after a failed round
BACKOFF_CAP = 3600.0


class NetworkError(NasError):
    """The Préau server could not be reached (or answered 5xx): retry later."""

    code = "network"


class RefusedError(NasError):
    """The Préau server refused the request (its French ``detail`` is the message)."""

    code = "refused"

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


# what the NAS operator can do about a refusal of an enrolled node (the server's French detail comes first)
_HINTS = {
    401: " — the credential in node.json is no longer accepted (NAS revoked, or enrolled again elsewhere): "
         "ask for a new code on the school's NAS page in Préau and run `preau-nas enrol --server URL --code CODE`",
    403: " — this NAS is revoked or not enrolled: ask for a new code on the school's NAS page in Préau and run "
         "`preau-nas enrol --server URL --code CODE`",
    409: " — the server has seen a higher check-in counter (state/_agent.json lost or the clock set back): "
         "it will pass once the counter catches up, or at once after `preau-nas enrol` with a new code",
}


def _agent_version() -> str:
    from . import __version__

    return __version__


def _post(url: str, data: dict, *, authorization: str | None = None, timeout: float = TIMEOUT) -> dict:
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if authorization:
        headers["Authorization"] = authorization
    req = urllib.request.Request(url, json.dumps(data).encode(), headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read(1 << 20)
    except urllib.error.HTTPError as exc:
        try:
            detail = json.loads(exc.read(1 << 16)).get("detail")
        except (ValueError, AttributeError, OSError):
            detail = None
        if exc.code >= 500 or (exc.code == 429 and not detail):
            raise NetworkError(f"{url}: HTTP {exc.code}{f' ({detail})' if detail else ''}") from exc
        hint = _HINTS.get(exc.code, "") if authorization else ""
        raise RefusedError(f"{url}: {detail or f'HTTP {exc.code}'}{hint}", exc.code) from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise NetworkError(f"{url}: server unreachable ({reason})") from exc
    try:
        answer = json.loads(body)
    except ValueError as exc:
        raise FormatError(f"{url}: the answer is not JSON") from exc
    if not isinstance(answer, dict):
        raise FormatError(f"{url}: the answer is not a JSON object")
    return answer


def _endpoint(server_url: str, path: str) -> str:
    u = urllib.parse.urlsplit(server_url or "")
    if u.scheme not in ("http", "https") or not u.hostname:
        raise NasError(f"bad server URL {server_url!r} (expected http(s)://host[:port])")
    return server_url.rstrip("/") + path


# --------------------------------------------------------------------------- agent state


def _state_path(node: Node) -> str:
    return os.path.join(node.root, "state", "_agent.json")


def agent_state(root) -> dict:
    node = root if isinstance(root, Node) else Node(root)
    try:
        with open(_state_path(node), "rb") as f:
            st = json.loads(f.read())
        return st if isinstance(st, dict) else {}
    except (FileNotFoundError, ValueError):
        return {}


def _save_agent_state(node: Node, **updates) -> dict:
    st = agent_state(node)
    st.update(updates)
    os.makedirs(os.path.dirname(_state_path(node)), exist_ok=True)
    atomic_write(_state_path(node), json.dumps(st, indent=1, sort_keys=True).encode() + b"\n")
    return st


# --------------------------------------------------------------------------- enrolment


def enrol(root, server_url: str, code: str, *, agent_version: str | None = None, timeout: float = TIMEOUT) -> Node:
    """Exchange a one-time enrolment code for the node's credential and configuration.

    The node key (ROOT/node.key) is created if missing and its public half sent to the server (it
    checks the receipts this NAS signs). Settings already in node.json (rate limit, windows, jobs) are
    kept on re-enrolment. Raises RefusedError (wrong/expired code: the server's message), NetworkError.
    """
    url = _endpoint(server_url, ENROL_PATH)
    if not isinstance(code, str) or not code.strip():
        raise NasError("no enrolment code (the code shown in the school's NAS page in Préau)")
    root = os.path.abspath(os.fspath(root))
    os.makedirs(root, exist_ok=True)
    keyfile = os.path.join(root, "node.key")
    if not os.path.exists(keyfile):
        Keypair.generate().save(keyfile)
    public = Keypair.load(keyfile).public
    answer = _post(url, {"code": code.strip(), "public_key": public,
                         "agent_version": agent_version or _agent_version()}, timeout=timeout)
    try:
        node_id, credential = answer["node_id"], answer["credential"]
        trusted, store_url = answer["trusted_keys"], answer["store_url"]
        collections = answer.get("collections") or []
        if not (isinstance(node_id, str) and isinstance(credential, str) and credential
                and isinstance(trusted, list) and trusted and isinstance(store_url, str)
                and isinstance(collections, list)):
            raise TypeError
    except (KeyError, TypeError) as exc:
        raise FormatError(f"{url}: incomplete enrolment answer (node_id, credential, trusted_keys, "
                          f"store_url, collections expected)") from exc
    old = {}
    try:
        old = Node(root).config
    except NasError:
        pass
    node = Node.init(root, node_id, trusted, base_url=store_url, collections=collections,
                     limit_rate=old.get("limit_rate"), windows=old.get("windows"), jobs=old.get("jobs") or 16,
                     server_url=server_url.rstrip("/"), credential=credential)
    # the server starts counting check-ins again from zero at each enrolment
    _save_agent_state(node, seq=0, enrolled=fmt_time(utcnow()), last_error=None)
    return node


# --------------------------------------------------------------------------- check-in


def _held(node: Node) -> dict:
    return {c: s["version"] for c, s in node.status()["collections"].items() if s.get("version")}


def _last_error(node: Node) -> str:
    errors = []
    st = agent_state(node).get("last_error")
    if st:
        errors.append(st.get("message", "") if isinstance(st, dict) else str(st))
    for c, s in node.status()["collections"].items():
        e = s.get("last_error")
        if e and e.get("code") != "outside_window":
            errors.append(f"{c}: {e.get('message', '')}")
    return "; ".join(e for e in errors if e)[:500]


def check_in(root, *, timeout: float = TIMEOUT) -> dict:
    """Report to the Préau server; return {"seq", "held", "collections": {slug: {version, manifest}}, ...}.

    ``seq`` is persisted before sending, so it grows even if the answer is lost; it is also at least
    the time in microseconds, so it keeps growing if the state file is lost (the server refuses a
    replayed or out-of-order counter)."""
    node = root if isinstance(root, Node) else Node(root)
    server, auth = node.config.get("server_url"), node.authorization()
    if not server or not auth:
        raise NasError(f"{node.root}: this NAS is not enrolled (run `preau-nas enrol --server URL --code CODE`)")
    url = _endpoint(server, CHECKIN_PATH)
    seq = max(int(agent_state(node).get("seq") or 0) + 1, time.time_ns() // 1000)
    _save_agent_state(node, seq=seq)
    held = _held(node)
    body = {"seq": seq, "held": held, "disk_free": shutil.disk_usage(node.root).free,
            "last_error": _last_error(node), "agent_version": _agent_version()}
    answer = _post(url, body, authorization=auth, timeout=timeout)
    offers = answer.get("collections")
    if not isinstance(offers, dict):
        raise FormatError(f"{url}: the answer has no collections")
    _save_agent_state(node, last_checkin=fmt_time(utcnow()))
    mode = answer.get("mode") if answer.get("mode") in ("online", "offline") else "online"
    return {"seq": seq, "held": held, "collections": offers, "server_time": answer.get("server_time"), "mode": mode}


# --------------------------------------------------------------------------- the service loop


def _clear_errors(node: Node, collections) -> bool:
    """Forget the last pull error of collections the NAS holds at the offered version (e.g. a refusal before it
    was enrolled again), so check-ins stop reporting it. False if another agent holds the node's lock."""
    try:
        with node:
            for c in collections:
                node.save_state(c, last_error=None)
    except NasError:
        return False
    return True


def run_once(root, *, ignore_windows: bool = False, progress=None, timeout: float = TIMEOUT) -> dict:
    """One round: check in, pull the offered collections newer than held (inside the node's windows) unless the
    platform says this NAS is offline (its contents come by operator tour), check in again to report what changed. Never raises a NasError: the result has "ok" and "error".
    What the NAS holds is never touched by a failure (the engine switches versions atomically)."""
    from .pull import pull

    node = root if isinstance(root, Node) else Node(root)
    out: dict = {"node_id": node.node_id, "ok": True, "error": None, "pulled": {}, "skipped": {}}
    try:
        ci = check_in(node, timeout=timeout)
        out["seq"], out["offers"] = ci["seq"], ci["collections"]
        wanted, stale = [], []
        for c, offer in sorted(ci["collections"].items()):
            v = offer.get("version") if isinstance(offer, dict) else None
            if isinstance(v, int) and v > ci["held"].get(c, 0):
                wanted.append(c)
            elif isinstance(v, int) and v == ci["held"].get(c) and (node.state(c).get("last_error") or {}).get(
                    "code") not in (None, "outside_window"):
                stale.append(c)
        if stale and _clear_errors(node, stale):
            ci = check_in(node, timeout=timeout)  # the NAS holds what is offered: its old pull error is over
            out["seq"] = ci["seq"]
        out["mode"] = ci.get("mode", "online")
        if wanted and out["mode"] == "offline":
            # The platform brings this school's contents by operator tour (USB disk): no pulling here, even if
            # the line could; the NAS keeps serving what it holds and reports in.
            out["skipped"] = {c: "offline" for c in wanted}
            wanted = []
        windows = node.config.get("windows") or []
        if wanted and not ignore_windows and not in_windows(windows):
            out["skipped"] = {c: "outside_window" for c in wanted}
            wanted = []
        if wanted:
            r = pull(node, wanted, progress=progress, raise_errors=False,
                     windows=[] if ignore_windows else None)
            out["pulled"] = r["collections"]
            errs = [f"{c}: {x['error']}" for c, x in r["collections"].items()
                    if x.get("status") == "error" and x.get("code") != "outside_window"]
            if errs:
                out["ok"], out["error"] = False, "; ".join(errs)
            if any(x.get("status") == "updated" for x in r["collections"].values()):
                ci = check_in(node, timeout=timeout)  # report the new versions at once
                out["seq"] = ci["seq"]
    except NasError as exc:
        out["ok"], out["error"], out["code"] = False, str(exc), exc.code
    except OSError as exc:  # e.g. the state disk: the loop must survive it and retry
        out["ok"], out["error"], out["code"] = False, f"{node.root}: {exc}", "error"
    try:
        _save_agent_state(node, last_round=fmt_time(utcnow()),
                          last_error=None if out["ok"] else {"time": fmt_time(utcnow()), "message": out["error"]})
    except OSError:
        pass
    return out


def backoff_delay(failures: int, *, base: float = BACKOFF_BASE, cap: float = BACKOFF_CAP, rng=random) -> float:
    """Seconds to wait after ``failures`` failed rounds in a row: base·2^(n-1), capped, with jitter
    (between half and all of it, so many NAS do not come back at the same instant)."""
    delay = min(cap, base * 2 ** max(0, failures - 1))
    return delay * (0.5 + 0.5 * rng.random())


def _env_seconds(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name) or default)
    except ValueError:
        return default
    return value if value > 0 else default


def run(root, *, once: bool = False, interval: float = 900.0, ignore_windows: bool = False, progress=None,
        max_rounds: int | None = None, sleep=time.sleep, log=None,
        backoff_base: float | None = None, backoff_cap: float | None = None) -> dict:
    """The service loop (``preau-nas run``): rounds every ``interval`` seconds (with a little jitter);
    after a failed round, retries after a capped exponential backoff instead. ``once``: one round.
    Each round's result gets "failures" (failed rounds in a row) and, unless it is the last, "next_in"
    (seconds until the next round) before it is logged; both are kept in state/_agent.json. The backoff
    base and cap default to PREAU_NAS_BACKOFF_BASE / PREAU_NAS_BACKOFF_CAP (seconds) or 15 s / 1 h.
    Returns the last round's result."""
    if backoff_base is None:
        backoff_base = _env_seconds("PREAU_NAS_BACKOFF_BASE", BACKOFF_BASE)
    if backoff_cap is None:
        backoff_cap = _env_seconds("PREAU_NAS_BACKOFF_CAP", BACKOFF_CAP)
    failures, rounds, result = 0, 0, {}
    while True:
        result = run_once(root, ignore_windows=ignore_windows, progress=progress)
        rounds += 1
        failures = 0 if result["ok"] else failures + 1
        result["failures"] = failures
        last = once or (max_rounds is not None and rounds >= max_rounds)
        delay = None
        if not last:
            if failures:
                delay = backoff_delay(failures, base=backoff_base,
                                      cap=min(backoff_cap, max(interval, backoff_base)))
            else:
                delay = interval * (0.9 + 0.2 * random.random())
            result["next_in"] = round(delay, 3)
        try:
            node = root if isinstance(root, Node) else Node(root)
            _save_agent_state(node, failures=failures, next_in=result.get("next_in"))
        except (OSError, NasError):
            pass
        if log is not None:
            log(result)
        if last:
            return result
        sleep(delay)
