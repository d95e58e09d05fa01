"""A real Préau server process on 127.0.0.1 for end-to-end tests (browser, inventory agents).

`running_server(data_dir, setup=..., extra_env=..., port=None)` migrates a fresh SQLite database in data_dir,
runs the given setup commands through the real CLI, starts `preau runserver` on a free port (or `port`, e.g.
to restart a server where its clients expect it) with production settings (DEBUG off, plain http) and yields
{"url", "env", "cli", "dir", "log", "proc"} (the log is appended to across restarts).
"""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "preau.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_server(data: Path, *, setup: list[list[str]] = (), extra_env: dict | None = None,
                   runserver_args: tuple[str, ...] = (), port: int | None = None):
    env = {**os.environ, "PREAU_DATA_DIR": str(data), "DATABASE_URL": f"sqlite:///{data / 'e2e.sqlite3'}",
           "DJANGO_SETTINGS_MODULE": "preau.settings", "PYTHONUNBUFFERED": "1",
           "DEBUG": "0", "PREAU_SECRET_KEY": "e2e-tests", "SECURE_COOKIES": "0", **(extra_env or {})}
    subprocess.run([*CLI, "migrate", "--noinput", "-v", "0"], env=env, check=True, cwd=ROOT, timeout=300)
    for args in setup:
        subprocess.run([*CLI, *args], env=env, check=True, cwd=ROOT, stdout=subprocess.DEVNULL, timeout=300)
    port = port or free_port()
    log_path = data / "server.log"
    with open(log_path, "a") as log:
        proc = subprocess.Popen([*CLI, "runserver", f"127.0.0.1:{port}", "--noreload", *runserver_args], env=env,
                                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(150):
                try:
                    urllib.request.urlopen(url + "/comptes/login/", timeout=1)
                    break
                except OSError:
                    if proc.poll() is not None:
                        raise RuntimeError(log_path.read_text()) from None
                    time.sleep(0.2)
            yield {"url": url, "env": env, "cli": CLI, "dir": data, "log": log_path, "proc": proc}
        finally:
            proc.terminate()
            proc.wait(10)
