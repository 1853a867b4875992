"""Which keys of a file were met already, and on which line: in 12 bytes a slot.

A CSV import refuses the second row for an address (or address and list) and names the
line of the first. A dict of Python ints spends about 100 bytes a row on that (the 64-bit
hash object, the line number object, the dict entry): 100 MB for a file of a million rows.
``SeenKeys`` keeps the same mapping in flat arrays (the 64-bit hash, the 32-bit line),
open-addressing tables at most half full: 12 to 24 bytes a row.

The keys are spread over ``SHARDS`` tables by their top bits, each growing on its own: a
table that doubles holds its old and its new arrays for a moment, and with one table that
moment cost 36 MB at 524,288 rows, the import's peak memory; with 16 tables it costs a
sixteenth of that (bench/bench_import.py).

Keys are 64-bit hashes (Python's ``hash`` of the address); two different addresses share
one about once in 30 million imports of 10^6 rows, as with the dict before.
"""

from __future__ import annotations

from array import array

_EMPTY = 0
SHARDS = 16  # a power of two
_SHARD_SHIFT = 64 - (SHARDS.bit_length() - 1)  # the top bits of a 64-bit key choose its table


class SeenKeys:
    """An insert-only map from a 64-bit key to the first line it was met on."""

    __slots__ = ("_count", "_counts", "_keys", "_lines", "_masks")

    def __init__(self, capacity: int = 1 << 14) -> None:
        size = 1 << max(4, (max(1, capacity // SHARDS) - 1).bit_length())
        self._masks = [size - 1] * SHARDS
        self._keys = [array("q", [_EMPTY]) * size for _ in range(SHARDS)]
        self._lines = [array("I", [0]) * size for _ in range(SHARDS)]
        self._counts = [0] * SHARDS
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def first_line(self, key: int, line: int) -> int | None:
        """The line ``key`` was first met on; None (and ``line`` is remembered) if new."""
        key = key or 1  # 0 marks an empty slot
        shard = (key >> _SHARD_SHIFT) & (SHARDS - 1)
        keys, mask = self._keys[shard], self._masks[shard]
        slot = key & mask
        while True:
            found = keys[slot]
            if found == key:
                return int(self._lines[shard][slot])
            if found == _EMPTY:
                break
            slot = (slot + 1) & mask
        keys[slot] = key
        self._lines[shard][slot] = line
        self._count += 1
        count = self._counts[shard] = self._counts[shard] + 1
        if count * 2 > mask:
            self._grow(shard)
        return None

    def _grow(self, shard: int) -> None:
        old_keys, old_lines = self._keys[shard], self._lines[shard]
        size = (self._masks[shard] + 1) * 2
        mask = size - 1
        keys = array("q", [_EMPTY]) * size
        lines = array("I", [0]) * size
        for key, line in zip(old_keys, old_lines, strict=True):
            if key != _EMPTY:
                slot = key & mask
                while keys[slot] != _EMPTY:
                    slot = (slot + 1) & mask
                keys[slot] = key
                lines[slot] = line
        self._keys[shard], self._lines[shard], self._masks[shard] = keys, lines, mask
