"""The C heap's settings for transcribing hours of audio in one process.

glibc serves an allocation from the heap unless it is larger than its mmap threshold, and it
raises that threshold to the size of each large block freed (up to 32 MB). After the first
window of audio is freed, every window's arrays (samples, spectrogram, voice detection) come
from the heap, whose freed pages are rarely returned: measured with bench/long_episode.py on a
40-minute episode (tiny.en), peak RSS was 550 MB. With the threshold fixed at 4 MB, arrays of
that size and more are mapped and unmapped as they come and go, while CTranslate2's smaller
buffers stay on the fast heap: 400 MB, at the same speed (at 256 kB, 360 MB and half the
speed). On other C libraries these calls do nothing.
"""

from __future__ import annotations

import ctypes
import functools

M_MMAP_THRESHOLD = -3  # mallopt's parameter number, from glibc's malloc.h
MMAP_THRESHOLD_BYTES = 4 * 2**20


@functools.cache
def _glibc():
    try:
        libc = ctypes.CDLL("libc.so.6")
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


@functools.cache
def map_large_arrays() -> None:
    """Fix glibc's mmap threshold, once per process (see the module's docstring)."""
    libc = _glibc()
    if libc is not None:
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)


def release_free_memory() -> None:
    """Return the heap's free pages to the system, between windows of audio."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
