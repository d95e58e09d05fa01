"""The check-in load of the contents benchmark (bench/contents.py): a real gunicorn on 127.0.0.1 and a load
generator simulating enrolled NAS.

The generator is one asyncio process writing raw HTTP/1.1 on `concurrency` sockets (closed loop: each socket
sends its next check-in as soon as the previous answer is read; keep-alive when the server allows it, a new
connection otherwise, as gunicorn's sync workers close after each answer). Each NAS sends its own node id
and credential, its next seq (one more than the last it sent) and the versions it holds; a share of the
check-ins report a collection newly brought to its current release (a delivery to record). Every answer is
checked: status 200 and, for Préau, the JSON offer. The generator's CPU (getrusage) and the server's (the
gunicorn processes, from /proc) are reported with the rate, so that one can see the generator did not
starve the server.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import resource
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from urllib.request import urlopen

CLK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gunicorn:
    """gunicorn serving `app` on a free port of 127.0.0.1, started and stopped by the benchmark."""

    def __init__(self, app: str, env: dict, *, workers: int, threads: int, chdir: str | None = None, log=print):
        self.port = free_port()
        self.config = {"workers": workers, "threads": threads,
                       "worker_class": "gthread" if threads > 1 else "sync"}
        cmd = [sys.executable, "-m", "gunicorn", app, "-b", f"127.0.0.1:{self.port}", "-w", str(workers),
               "-k", self.config["worker_class"], "--backlog", "2048", "--keep-alive", "5",
               "--log-level", "warning"]
        if threads > 1:
            cmd += ["--threads", str(threads)]
        if chdir:
            cmd += ["--chdir", chdir]
        self.log = log
        self.proc = subprocess.Popen(cmd, env=env, start_new_session=True)

    def wait_ready(self, path: str = "/", timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}")
            try:
                with urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
                    r.read()
                return
            except OSError as e:
                if getattr(e, "code", None):  # an HTTP answer (405, 401…): it is serving
                    return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn not answering on port {self.port}: {e}") from e
                time.sleep(0.2)

    def pids(self) -> list[int]:
        pids = [self.proc.pid]
        try:
            with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children") as f:
                pids += [int(p) for p in f.read().split()]
        except OSError:
            pass
        return pids

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pids())

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def cpu_seconds(pids) -> float:
    """CPU time (user + system) of these processes, from /proc."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except OSError:
            pass
    return total / CLK


def machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine (/proc/stat), to report its load during a run."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


# --------------------------------------------------------------------------- the generator


class Agents:
    """The simulated NAS: for each, node id, credential, last seq sent and held versions."""

    def __init__(self, agents: list, current: dict, *, deliver_share: float = 0.05, seed: int = 7):
        self.agents = [[node_id, cred, seq, dict(held)] for node_id, cred, seq, held in agents]
        self.current = current
        self.deliver_share = deliver_share
        self.rng = random.Random(seed)
        self.delivered = 0

    def order(self, n: int) -> list[int]:
        """n check-ins: every NAS in a shuffled order, again if n is larger than the fleet."""
        out: list[int] = []
        while len(out) < n:
            round_ = list(range(len(self.agents)))
            self.rng.shuffle(round_)
            out += round_
        return out[:n]

    def request(self, i: int, host: str) -> bytes:
        agent = self.agents[i]
        agent[2] += 1
        held = agent[3]
        if self.rng.random() < self.deliver_share:
            behind = [c for c, v in held.items() if self.current.get(c, v) > v]
            if behind:
                held[behind[0]] = self.current[behind[0]]
                self.delivered += 1
        body = json.dumps({"seq": agent[2], "held": held, "disk_free": 200 << 30, "last_error": "",
                           "agent_version": "1.0.0"}, separators=(",", ":")).encode()
        return (f"POST /contenus/agent/checkin/ HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {agent[0]}:"
                f"{agent[1]}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                f"User-Agent: preau-bench\r\n\r\n").encode() + body


async def _read_response(reader) -> tuple[int, bytes, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length, close = 0, lines[0].startswith("HTTP/1.0")
    for line in lines[1:]:
        name, _sep, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection":
            close = value.strip().lower() == "close"
    body = await reader.readexactly(length) if length else b""
    return status, body, close


async def _run(port: int, agents: Agents, order: list[int], concurrency: int, check) -> dict:
    host = f"127.0.0.1:{port}"
    times: list[float] = []
    statuses: Counter = Counter()
    problems: list[str] = []
    position = 0
    connections = 0

    async def worker():
        nonlocal position, connections
        reader = writer = None
        while position < len(order):
            i = order[position]
            position += 1
            request = agents.request(i, host)
            for attempt in (1, 2):
                fresh = writer is None
                if fresh:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    connections += 1
                t = time.perf_counter()
                try:
                    writer.write(request)
                    status, body, close = await _read_response(reader)
                except (asyncio.IncompleteReadError, ConnectionError):
                    writer.close()
                    reader = writer = None
                    if fresh or attempt == 2:  # a kept-alive socket the server closed: retry once on a new one
                        statuses["connection"] += 1
                        break
                    continue
                times.append(time.perf_counter() - t)
                statuses[status] += 1
                if status == 200:
                    problem = check(body)
                    if problem:
                        statuses["bad_body"] += 1
                        if len(problems) < 5:
                            problems.append(problem)
                elif len(problems) < 5:
                    problems.append(f"HTTP {status}: {body[:200]!r}")
                if close:
                    writer.close()
                    reader = writer = None
                break
        if writer is not None:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return {"times": times, "statuses": statuses, "problems": problems, "wall": time.perf_counter() - start,
            "connections": connections}


def run_load(port: int, agents: Agents, n: int, concurrency: int, check, server: Gunicorn | None = None,
             db_pids=None) -> dict:
    """Send n check-ins; returns rate, latencies, statuses, and the CPU of the generator, of the server and
    of the database's processes serving it (db_pids(): their pids, e.g. PostgreSQL backends)."""
    order = agents.order(n)
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    server0 = server.cpu_seconds() if server else 0.0
    pids = db_pids() if db_pids else []
    db0 = cpu_seconds(pids)
    busy0, total0 = machine_busy()
    result = asyncio.run(_run(port, agents, order, concurrency, check))
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    busy1, total1 = machine_busy()
    wall = result["wall"]
    gen_cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    result.update({
        "generator_cpu_s": round(gen_cpu, 2), "generator_cpu_pct": round(100 * gen_cpu / wall, 1),
        "server_cpu_s": round(server.cpu_seconds() - server0, 2) if server else None,
        "db_cpu_s": round(cpu_seconds(pids) - db0, 2) if db_pids else None,
        "machine_busy_pct": round(100 * (busy1 - busy0) / max(total1 - total0, 1), 1),
    })
    return result
