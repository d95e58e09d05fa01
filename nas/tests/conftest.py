"""Self-contained fixtures for the NAS engine tests (no Django, loopback only)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import preau_nas
import pytest


class Env:
    """A publisher with a key and a store, and helpers to make NAS roots."""

    def __init__(self, tmp_path):
        self.tmp = tmp_path
        self.store = str(tmp_path / "store")
        self.key = str(tmp_path / "publisher.key")
        self.public = preau_nas.keygen(self.key)

    def publish(self, src, collection="contents", **kw):
        return preau_nas.publish(self.store, collection, src, self.key, **kw)

    def nas(self, name, base_url=None, collections=("contents",)):
        return preau_nas.init_node(str(self.tmp / name), name, [self.public], base_url=base_url,
                                   collections=list(collections))


@pytest.fixture
def env(tmp_path):
    return Env(tmp_path)


@pytest.fixture
def http_store(env):
    """Serve env.store with a real `python -m http.server` process on 127.0.0.1."""
    os.makedirs(env.store, exist_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", env.store],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    m = re.search(r"port (\d+)", line)
    assert m, f"http.server did not start: {line!r}"
    yield f"http://127.0.0.1:{m.group(1)}"
    proc.kill()
    proc.wait()


class CountingHandler(SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_GET(self):
        with self.server.lock:
            self.server.paths.append(self.path)
        return super().do_GET()


class CountingServer(ThreadingHTTPServer):
    request_queue_size = 128  # a normal listen backlog (http.server's default is 5)


@pytest.fixture
def counting_server(env):
    """An in-process static server that records every requested path."""
    os.makedirs(env.store, exist_ok=True)
    srv = CountingServer(("127.0.0.1", 0), partial(CountingHandler, directory=env.store))
    srv.handle_error = lambda *a: None  # clients killed mid-transfer are expected
    srv.paths = []
    srv.lock = threading.Lock()
    t = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    t.start()
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}"
    yield srv
    srv.shutdown()
    srv.server_close()
