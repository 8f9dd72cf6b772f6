"""Vectors stored as int8 rows, each with its float32 scale: a quarter of float32's bytes.

One layout serves every int8 store (the static model's token rows, each passage's sentence
vectors): the `count` scales first, then the `count` rows. A row's scale is its largest
magnitude over 127, so every row keeps its own range; cosines move by about 1e-3.
"""

from __future__ import annotations

import numpy as np


def pack(rows: np.ndarray) -> bytes:
    """The bytes of float rows as int8: float32 scales, then the rows."""
    rows = np.asarray(rows, dtype=np.float32)
    scales = np.abs(rows).max(axis=1) / 127 if len(rows) else np.zeros(0, dtype=np.float32)
    scales[scales == 0] = 1.0
    quantised = np.clip(np.rint(rows / scales[:, None]), -127, 127).astype(np.int8)
    return scales.astype("<f4").tobytes() + quantised.tobytes()


def unpack(raw: bytes | np.ndarray, count: int) -> np.ndarray:
    """The float32 rows of `pack`'s bytes holding `count` rows (ValueError if they do not)."""
    data = np.frombuffer(raw, dtype=np.uint8) if isinstance(raw, bytes) else raw
    if count <= 0:
        return np.zeros((0, 0), dtype=np.float32)
    dimension = (len(data) - 4 * count) // count
    if dimension <= 0 or len(data) != count * (4 + dimension):
        raise ValueError(f"{len(data)} bytes do not hold {count} int8 rows with their scales")
    scales = data[: 4 * count].view("<f4")
    rows = data[4 * count :].view(np.int8).reshape(count, dimension)
    return rows.astype(np.float32) * scales[:, None]
