"""Pseudonymous identifiers, built vectorised.

Ids are bijective mixes of a running number and a seed-derived key, written as hex: they look
like keyed hashes, never collide, and a million of them cost milliseconds (the strings are
assembled as one byte buffer and handed to Arrow without a Python loop).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_M32 = np.uint32(0xFFFFFFFF)


def mix32(x: np.ndarray, key: int) -> np.ndarray:
    """A bijection on uint32 (lowbias32 finaliser after adding the key)."""
    with np.errstate(over="ignore"):
        v = (x.astype(np.uint64) + np.uint64(key & 0xFFFFFFFF)).astype(np.uint32)
        v ^= v >> np.uint32(16)
        v *= np.uint32(0x7FEB352D)
        v ^= v >> np.uint32(15)
        v *= np.uint32(0x846CA68B)
        v ^= v >> np.uint32(16)
    return v


def mix64(x: np.ndarray, key: int) -> np.ndarray:
    """A bijection on uint64 (splitmix64 finaliser after adding the key)."""
    with np.errstate(over="ignore"):
        v = x.astype(np.uint64) + np.uint64(key & 0xFFFFFFFFFFFFFFFF)
        v ^= v >> np.uint64(30)
        v *= np.uint64(0xBF58476D1CE4E5B9)
        v ^= v >> np.uint64(27)
        v *= np.uint64(0x94D049BB133111EB)
        v ^= v >> np.uint64(31)
    return v


def hex_ids(prefix: str, values: np.ndarray, digits: int) -> pa.StringArray:
    """`prefix` + the lowest `digits` hex digits of each value, as an Arrow string array."""
    n = len(values)
    p = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    width = len(p) + digits
    buf = np.empty((n, width), dtype=np.uint8)
    buf[:, : len(p)] = p
    v = values.astype(np.uint64)
    for i in range(digits):
        shift = np.uint64(4 * (digits - 1 - i))
        buf[:, len(p) + i] = _HEX[((v >> shift) & np.uint64(15)).astype(np.intp)]
    offsets = np.arange(n + 1, dtype=np.int32) * width
    return pa.StringArray.from_buffers(
        n, pa.py_buffer(offsets.tobytes()), pa.py_buffer(buf.tobytes())
    )


def seq_ids(prefix: str, counters: np.ndarray) -> pa.StringArray:
    """`prefix` + a small running number (1..99), e.g. goal ids Z1, Z2 within a case."""
    n = len(counters)
    c = np.asarray(counters, dtype=np.int64)
    if n and (c.min() < 1 or c.max() > 99):
        raise ValueError("counter out of range 1..99")
    p = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    two = c >= 10
    lengths = len(p) + 1 + two.astype(np.int64)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    buf = np.empty(int(offsets[-1]), dtype=np.uint8)
    starts = offsets[:-1]
    for i, byte in enumerate(p):
        buf[starts + i] = byte
    pos = starts + len(p)
    buf[pos[two]] = ord("0") + c[two] // 10
    pos = pos + two
    buf[pos] = ord("0") + c % 10
    return pa.StringArray.from_buffers(
        n, pa.py_buffer(offsets.astype(np.int32).tobytes()), pa.py_buffer(buf.tobytes())
    )
