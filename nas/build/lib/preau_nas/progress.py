"""Machine-readable progress events, throttled.

A callback receives dicts such as::

    {"op": "pull", "phase": "fetch", "done": 1234, "total": 5678, "unit": "bytes",
     "collection": "contents", "file": "a/b.pdf"}

and a final event with ``"phase": "done"``. The CLI turns them into tqdm bars.
"""

from __future__ import annotations

import time


class Progress:
    def __init__(self, callback, op: str, total: int = 0, phase: str = "run", unit: str = "bytes", **extra):
        self.cb = callback
        self.op = op
        self.total = total
        self.done_n = 0
        self.phase = phase
        self.unit = unit
        self.extra = extra
        self._last = 0.0

    def emit(self, **kw):
        if self.cb is None:
            return
        ev = {"op": self.op, "phase": self.phase, "done": self.done_n, "total": self.total, "unit": self.unit}
        ev.update(self.extra)
        ev.update(kw)
        self.cb(ev)

    def start(self, phase: str, total: int, unit: str = "bytes", **extra):
        self.phase, self.total, self.done_n, self.unit = phase, total, 0, unit
        self.extra.update(extra)
        self._last = 0.0
        self.emit()

    def advance(self, n: int, **kw):
        self.done_n += n
        if self.cb is None:
            return
        t = time.monotonic()
        if t - self._last >= 0.1 or self.done_n >= self.total:
            self._last = t
            self.emit(**kw)

    def done(self, **kw):
        self.phase = "done"
        self.emit(**kw)
