"""Compact chunk collections: a 4 GiB disk image has a million 4 KiB chunks, and
the agent must stay under 200 MB, so no Python object per chunk where avoidable."""

from __future__ import annotations

from array import array
from bisect import bisect_left

from .chunks import ID_LEN


def prefix(cid) -> int:
    """First 8 bytes of a chunk id as an int (lookups only; full ids are always verified)."""
    return int.from_bytes(cid[:8], "little")


class ChunkList:
    """An ordered list of (id, length) stored in two flat buffers (36 bytes per chunk)."""

    def __init__(self):
        self.ids = bytearray()
        self.lens = array("I")

    def append(self, cid, ln: int) -> None:
        self.ids += cid
        self.lens.append(ln)

    def __len__(self) -> int:
        return len(self.lens)

    def __bool__(self) -> bool:
        return len(self.lens) > 0

    def item(self, i: int) -> tuple[bytes, int]:
        return bytes(self.ids[i * ID_LEN:(i + 1) * ID_LEN]), self.lens[i]

    def __iter__(self):
        for i in range(len(self.lens)):
            yield self.item(i)

    @property
    def total(self) -> int:
        return sum(self.lens)

    @classmethod
    def of(cls, items) -> ChunkList:
        out = cls()
        for cid, ln in items:
            out.append(cid, ln)
        return out


class PrefixMap:
    """Sorted 64-bit id prefixes -> 64-bit values (16 bytes per entry), first value wins."""

    def __init__(self, keys: array, vals: array | None = None):
        # sort (key, position) packed in one int: about half the transient memory of
        # sorted(range(n), key=...) for a million chunks
        packed = [k << 32 | i for i, k in enumerate(keys)]
        packed.sort()
        self.keys = array("Q", (p >> 32 for p in packed))
        order = array("Q", (p & 0xFFFFFFFF for p in packed))
        del packed
        self.vals = array("Q", map(vals.__getitem__, order)) if vals is not None else None
        self.pos = order if vals is None else None

    def __len__(self) -> int:
        return len(self.keys)

    def index(self, key: int) -> int:
        """Position of ``key`` in sorted order, or -1."""
        i = bisect_left(self.keys, key)
        return i if i < len(self.keys) and self.keys[i] == key else -1

    def get(self, key: int):
        i = self.index(key)
        return None if i < 0 else self.vals[i]

    def __contains__(self, key: int) -> bool:
        return self.index(key) >= 0
