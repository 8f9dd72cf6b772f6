"""Read a CTranslate2 `model.bin` into numpy arrays, without CTranslate2 itself.

The layout is the one `ctranslate2/specs/model_spec.py` `ModelSpec._serialize` writes
(binary version 6), all little-endian:

    u32 version, string spec name, u32 spec revision, u32 variable count,
    per variable: string name, u8 rank, u32 x rank dims, u8 dtype id, u32 byte count, bytes;
    u32 alias count, per alias: string alias, string target.

A string is a u16 length (counting the trailing NUL), the UTF-8 bytes and a NUL.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ingest.errors import PodarchiveError

# Binary versions whose header carries the spec name and revision (ctranslate2 >= 2.0 writes 6).
SUPPORTED_VERSIONS = range(5, 7)

# Order of the DataType enum in ctranslate2's include/ctranslate2/types.h
# (mirrored by `_dtype_to_type_id` in model_spec.py). bfloat16 has no numpy dtype: see _decode.
DTYPES = ("float32", "int8", "int16", "int32", "float16", "bfloat16")


class CT2FormatError(PodarchiveError, ValueError):
    """The file is not a CTranslate2 model.bin this reader understands."""


@dataclass
class CT2Model:
    """The variables of one CTranslate2 model, by name, with aliases resolved."""

    path: Path
    version: int
    spec: str
    revision: int
    variables: dict[str, np.ndarray]
    dtypes: dict[str, str]  # variable name -> dtype as stored in the file
    aliases: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.variables[self.aliases.get(name, name)]

    def __contains__(self, name: str) -> bool:
        return self.aliases.get(name, name) in self.variables

    def dequantized(self, name: str) -> np.ndarray:
        """The variable as float32, scaling int8/int16 weights back by their `<name>_scale`."""
        name = self.aliases.get(name, name)  # an alias shares its target's scale
        value = self.variables[name]
        if value.dtype in (np.int8, np.int16):
            scale_name = name + "_scale"
            if scale_name not in self:
                raise CT2FormatError(f"{self.path}: {name} is {value.dtype} without {scale_name}")
            # CTranslate2 quantises each output row: q = round(w * scale), one scale per row
            # (ctranslate2/specs/model_spec.py, _quantize), so w = q / scale.
            scale = self[scale_name].astype(np.float32)
            return value.astype(np.float32) / scale.reshape((-1,) + (1,) * (value.ndim - 1))
        return value.astype(np.float32)


class _Reader:
    def __init__(self, data: bytes, path: Path):
        self.data = memoryview(data)
        self.pos = 0
        self.path = path

    def take(self, size: int) -> memoryview:
        if self.pos + size > len(self.data):
            raise CT2FormatError(
                f"{self.path}: truncated at byte {self.pos} (wanted {size} more bytes,"
                f" file has {len(self.data)})"
            )
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def unpack(self, fmt: str):
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))

    def u8(self) -> int:
        return self.unpack("B")[0]

    def u32(self) -> int:
        return self.unpack("I")[0]

    def string(self) -> str:
        (length,) = self.unpack("H")
        raw = bytes(self.take(length))
        if not raw or raw[-1] != 0:
            raise CT2FormatError(f"{self.path}: string at byte {self.pos - length} lacks its NUL")
        return raw[:-1].decode("utf-8")


def _decode(raw: memoryview, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    if dtype == "bfloat16":
        # bfloat16 is the top half of a float32: widen by shifting into the high 16 bits.
        halves = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
        return halves.view(np.float32).reshape(shape)
    return np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<")).reshape(shape).copy()


def read_model(path: str | Path) -> CT2Model:
    """Parse a CTranslate2 `model.bin` (or the folder holding it) into arrays."""
    path = Path(path)
    if path.is_dir():
        path = path / "model.bin"
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CT2FormatError(f"cannot read CTranslate2 model {path}: {exc}") from exc
    reader = _Reader(data, path)
    version = reader.u32()
    if version not in SUPPORTED_VERSIONS:
        raise CT2FormatError(
            f"{path}: binary version {version} is not supported"
            f" (expected {SUPPORTED_VERSIONS.start}..{SUPPORTED_VERSIONS.stop - 1})"
        )
    spec = reader.string()
    revision = reader.u32()
    variables: dict[str, np.ndarray] = {}
    dtypes: dict[str, str] = {}
    for _ in range(reader.u32()):
        name = reader.string()
        rank = reader.u8()
        shape = tuple(reader.u32() for _ in range(rank))
        type_id = reader.u8()
        if type_id >= len(DTYPES):
            raise CT2FormatError(f"{path}: variable {name} has unknown dtype id {type_id}")
        dtype = DTYPES[type_id]
        nbytes = reader.u32()
        itemsize = 2 if dtype == "bfloat16" else np.dtype(dtype).itemsize
        if nbytes != int(np.prod(shape, dtype=np.int64)) * itemsize:
            raise CT2FormatError(
                f"{path}: variable {name} has {nbytes} bytes for shape {shape} of {dtype}"
            )
        variables[name] = _decode(reader.take(nbytes), dtype, shape)
        dtypes[name] = dtype
    aliases = {}
    for _ in range(reader.u32()):
        alias = reader.string()
        aliases[alias] = reader.string()
    if reader.pos != len(data):
        raise CT2FormatError(f"{path}: {len(data) - reader.pos} unexpected bytes after the aliases")
    return CT2Model(path, version, spec, revision, variables, dtypes, aliases)
