"""A shortlist for search by meaning in a large archive: the passages whose vectors point most
nearly the query's way, found from one bit per dimension, then scored exactly.

A full scan multiplies every stored float32 row by the query: at 30,000 episodes (1.7 million
passages, 2.6 GB) that alone takes 100-120 ms on 2 cores. Each vector's signs, 384 bits, keep
most of its direction (the count of differing signs grows with the angle between two vectors),
and comparing them is 6 XORs and popcounts per passage: about 8 ms over the same rows. The
passages nearest by that count, SHORTLIST_SHARE of them, are scored with their float rows, so
the ranking inside the shortlist is the exact one; a passage is missed only when its signs
put it outside the nearest 2%, far beyond the 50 candidates search keeps.

Below EXACT_UP_TO passages the whole scan is fast enough and stays exact.
"""

from __future__ import annotations

import numpy as np

# About 7,000 episodes of 45 minutes; a full scan of this many rows takes about 30 ms.
EXACT_UP_TO = 400_000
SHORTLIST_SHARE = 0.02
MIN_SHORTLIST = 2_000
_CHUNK = 100_000  # rows converted at a time, so the signs of 2.6 GB never sit in memory as bools


def wanted(rows: int) -> bool:
    """Whether an archive of this many passage vectors is searched through the shortlist."""
    return rows > EXACT_UP_TO


def sign_codes(matrix: np.ndarray) -> np.ndarray:
    """The signs of each row as bits, laid out (64-bit words, rows): each word of every row is
    one contiguous array, which the distance below reads in one pass."""
    rows, dimension = matrix.shape
    words = -(-dimension // 64)
    codes = np.zeros((rows, words * 8), dtype=np.uint8)
    for first in range(0, rows, _CHUNK):
        packed = np.packbits(matrix[first : first + _CHUNK] > 0, axis=1)
        codes[first : first + len(packed), : packed.shape[1]] = packed
    return np.ascontiguousarray(codes.view(np.uint64).T)


def nearest_rows(
    codes: np.ndarray, query: np.ndarray, keep: np.ndarray | None = None
) -> np.ndarray:
    """Row numbers (ascending) of the rows whose signs differ least from the query's: at least
    the shortlist's size of them, every row tied at the cut included. `keep`, a mask over
    the rows, leaves the others out."""
    query_code = sign_codes(np.asarray(query, dtype=np.float32)[None, :])[:, 0]
    differing = np.zeros(codes.shape[1], dtype=np.uint16)
    for word, query_word in zip(codes, query_code, strict=True):
        np.add(differing, np.bitwise_count(word ^ query_word), out=differing)
    bits = codes.shape[0] * 64
    if keep is not None:
        differing[~keep] = bits + 1  # beyond any real count
    size = max(MIN_SHORTLIST, int(SHORTLIST_SHARE * codes.shape[1]))
    counts = np.cumsum(np.bincount(differing, minlength=bits + 2))
    # The smallest count of differing bits that takes in `size` rows; a bincount and one
    # comparison cost a third of what np.argpartition does over 1.7 million rows.
    cut = min(int(np.searchsorted(counts, size)), bits)
    return np.flatnonzero(differing <= cut)
