"""Chapters inside an MP3's ID3v2 tag: CHAP frames (id3.org, "ID3v2 Chapter Frame Addendum"),
each with its start and end in milliseconds and a TIT2 title (and a WXXX link) inside.

Only the tag at the start of the file is read, at most MAX_TAG_BYTES of it; a tag that is
unsynchronised, compressed or cut short yields no chapters rather than guessed ones.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

MAX_TAG_BYTES = 32 * 1024 * 1024  # cover art makes tags large; more is not a real tag
HEADER_BYTES = 10
NO_OFFSET = 0xFFFFFFFF
_ENCODINGS = {0: "latin-1", 1: "utf-16", 2: "utf-16-be", 3: "utf-8"}


@dataclass(frozen=True)
class Id3Chapter:
    """A CHAP frame as written: seconds, title and link are untrusted."""

    start: float
    end: float | None
    title: str
    url: str | None


def read_id3_chapters(path: Path) -> list[Id3Chapter]:
    """The CHAP frames of the ID3v2.3/2.4 tag at the start of `path`, in file order."""
    try:
        with open(path, "rb") as handle:
            header = handle.read(HEADER_BYTES)
            if len(header) < HEADER_BYTES or header[:3] != b"ID3" or header[3] not in (3, 4):
                return []
            version, flags = header[3], header[5]
            size = _syncsafe(header[6:10])
            if flags & 0x80 or size > MAX_TAG_BYTES:  # unsynchronised, or not a real tag
                return []
            tag = handle.read(size)
    except OSError:
        return []
    start = 0
    if flags & 0x40 and len(tag) >= 4:  # an extended header: skip it
        extended = _syncsafe(tag[:4]) if version == 4 else struct.unpack(">I", tag[:4])[0] + 4
        start = extended
    return [c for c in _frames(tag, start, version) if c]


def _frames(data: bytes, position: int, version: int):
    """CHAP frames of `data` from `position` (their sub-frames are read by `_chapter`)."""
    while position + HEADER_BYTES <= len(data):
        frame_id = data[position : position + 4]
        if not frame_id.strip(b"\x00"):
            return  # padding
        raw_size = data[position + 4 : position + 8]
        size = _syncsafe(raw_size) if version == 4 else struct.unpack(">I", raw_size)[0]
        body = data[position + HEADER_BYTES : position + HEADER_BYTES + size]
        if len(body) < size:
            return  # cut short
        position += HEADER_BYTES + size
        if frame_id == b"CHAP":
            yield _chapter(body, version)


def _chapter(body: bytes, version: int) -> Id3Chapter | None:
    end_of_id = body.find(b"\x00")
    if end_of_id < 0 or len(body) < end_of_id + 17:
        return None
    start_ms, end_ms = struct.unpack(">II", body[end_of_id + 1 : end_of_id + 9])
    title, url = "", None
    position = end_of_id + 17
    while position + HEADER_BYTES <= len(body):
        frame_id = body[position : position + 4]
        raw_size = body[position + 4 : position + 8]
        size = _syncsafe(raw_size) if version == 4 else struct.unpack(">I", raw_size)[0]
        content = body[position + HEADER_BYTES : position + HEADER_BYTES + size]
        position += HEADER_BYTES + size
        if frame_id == b"TIT2" and content:
            title = _text(content[1:], content[0])
        elif frame_id == b"WXXX" and content:
            url = _link(content)
    end = end_ms / 1000 if end_ms != NO_OFFSET and end_ms > start_ms else None
    return Id3Chapter(start_ms / 1000, end, title, url)


def _text(data: bytes, encoding: int) -> str:
    try:
        return data.decode(_ENCODINGS.get(encoding, "latin-1")).split("\x00")[0]
    except UnicodeDecodeError:
        return ""


def _link(content: bytes) -> str | None:
    """WXXX: encoding, a description ended by a null (two for UTF-16), then a latin-1 URL."""
    encoding, rest = content[0], content[1:]
    terminator = b"\x00\x00" if encoding in (1, 2) else b"\x00"
    cut = rest.find(terminator)
    if cut < 0:
        return None
    return rest[cut + len(terminator) :].decode("latin-1").split("\x00")[0].strip() or None


def _syncsafe(data: bytes) -> int:
    """ID3v2's 28-bit sizes: seven bits per byte."""
    value = 0
    for byte in data:
        value = (value << 7) | (byte & 0x7F)
    return value
