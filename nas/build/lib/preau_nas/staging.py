"""Where chunks wait between arrival and installation: one append-only log per collection.

    staging/<collection>/chunks.log: records  b"PC" id(32) u32 n  object(n bytes)

One file written sequentially instead of one file per chunk (a million small
files cost minutes on a busy disk). A record is appended whole; after a kill a
torn last record is cut off when the log is reopened. Content is verified when
it is used (BLAKE3), so a record damaged by a power cut is fetched again, never
installed. The in-memory index is 16 bytes per chunk.
"""

from __future__ import annotations

import os
import struct
import threading
from array import array

from .chunks import decode_object
from .compact import PrefixMap, prefix
from .errors import IntegrityError

HEADER = struct.Struct("<2s32sI")
MAGIC = b"PC"


class Staging:
    def __init__(self, directory: str):
        os.makedirs(directory, exist_ok=True)
        self.path = os.path.join(directory, "chunks.log")
        self.lock = threading.Lock()
        self.keys = array("Q")
        self.offs = array("Q")  # offset of each record's header
        self._map = None
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        self.size = self._scan()

    def _scan(self) -> int:
        end = os.fstat(self.fd).st_size
        pos = 0
        while pos + HEADER.size <= end:
            magic, cid, n = HEADER.unpack(os.pread(self.fd, HEADER.size, pos))
            if magic != MAGIC or pos + HEADER.size + n > end:
                break
            self.keys.append(prefix(cid))
            self.offs.append(pos)
            pos += HEADER.size + n
        if pos != end:
            os.ftruncate(self.fd, pos)  # torn record from an interrupted run
        return pos

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __len__(self) -> int:
        return len(self.keys)

    def add(self, cid: bytes, obj: bytes) -> None:
        rec = HEADER.pack(MAGIC, cid, len(obj)) + obj
        with self.lock:
            pos = self.size
            view = memoryview(rec)
            while view:
                n = os.pwrite(self.fd, view, pos + len(rec) - len(view))
                view = view[n:]
            self.size += len(rec)
            self.keys.append(prefix(cid))
            self.offs.append(pos)
            self._map = None

    def _find(self, cid: bytes) -> int | None:
        with self.lock:
            if self._map is None:
                self._map = PrefixMap(self.keys, self.offs)
            m = self._map
        i = m.index(prefix(cid))
        while 0 <= i < len(m.keys) and m.keys[i] == prefix(cid):
            pos = m.vals[i]
            magic, rcid, n = HEADER.unpack(os.pread(self.fd, HEADER.size, pos))
            if rcid == cid:
                return pos
            i += 1
        return None

    def has(self, cid: bytes) -> bool:
        return self._find(cid) is not None

    def get(self, cid: bytes, what: str = "staged chunk") -> bytes | None:
        """The verified raw chunk, or None if absent or damaged (then fetch it again)."""
        pos = self._find(cid)
        if pos is None:
            return None
        _, _, n = HEADER.unpack(os.pread(self.fd, HEADER.size, pos))
        obj = os.pread(self.fd, n, pos + HEADER.size)
        try:
            return decode_object(cid, obj, what)
        except IntegrityError:
            return None
