"""Just enough of the GGUF format to refuse a truncated or foreign file before llama.cpp sees it."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

MAGIC = b"GGUF"

# GGUF metadata value types -> struct format of fixed-size scalars.
_SCALARS = {
    0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d",
}  # fmt: skip
_STRING, _ARRAY = 8, 9

# ggml tensor types -> (elements per block, bytes per block); used to find where the data ends.
_GGML_TYPE_SIZES = {
    0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34),
    9: (32, 36), 10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176), 14: (256, 210),
    15: (256, 292), 16: (256, 66), 17: (256, 74), 18: (256, 98), 19: (256, 50), 20: (32, 18),
    21: (256, 110), 22: (256, 82), 23: (256, 136), 24: (1, 1), 25: (1, 2), 26: (1, 4),
    27: (1, 8), 28: (1, 8), 29: (256, 56), 30: (1, 2), 34: (256, 54), 35: (256, 66),
    39: (32, 17),
}  # fmt: skip


class GGUFError(ValueError):
    """The file is not a complete GGUF model; the message says what is wrong."""


@dataclass
class GGUFInfo:
    version: int
    tensor_count: int
    metadata: dict[str, object]
    data_offset: int
    expected_size: int | None  # None when a tensor type is unknown to this reader
    file_size: int

    @property
    def architecture(self) -> str:
        return str(self.metadata.get("general.architecture", "?"))

    @property
    def name(self) -> str:
        return str(self.metadata.get("general.name", "?"))


class _Reader:
    def __init__(self, f: BinaryIO, path: Path) -> None:
        self.f = f
        self.path = path

    def read(self, n: int) -> bytes:
        data = self.f.read(n)
        if len(data) != n:
            raise GGUFError(f"{self.path}: truncated GGUF header (file ends early)")
        return data

    def unpack(self, fmt: str) -> int | float | bool:
        size = struct.calcsize("<" + fmt)
        return struct.unpack("<" + fmt, self.read(size))[0]

    def string(self) -> str:
        n = int(self.unpack("Q"))
        if n > 1 << 26:
            raise GGUFError(f"{self.path}: corrupt GGUF header (string of {n} bytes)")
        return self.read(n).decode("utf-8", errors="replace")

    def value(self, vtype: int, keep: bool) -> object:
        if vtype in _SCALARS:
            return self.unpack(_SCALARS[vtype])
        if vtype == _STRING:
            return self.string()
        if vtype == _ARRAY:
            itype = int(self.unpack("I"))
            count = int(self.unpack("Q"))
            if itype in _SCALARS:  # skip large scalar arrays (token scores) without decoding
                self.f.seek(count * struct.calcsize("<" + _SCALARS[itype]), 1)
                return None
            items = [self.value(itype, keep) for _ in range(count)]
            return items if keep and count <= 16 else None
        raise GGUFError(f"{self.path}: corrupt GGUF header (value type {vtype})")


def read_gguf(path: str | Path) -> GGUFInfo:
    """Parse the header, metadata and tensor table; raise GGUFError if it is not a full model."""
    path = Path(path)
    try:
        file_size = path.stat().st_size
        f = path.open("rb")
    except FileNotFoundError:
        raise GGUFError(f"{path}: no such file") from None
    except OSError as exc:
        raise GGUFError(f"{path}: cannot read ({exc.strerror})") from None
    with f:
        r = _Reader(f, path)
        if f.read(4) != MAGIC:
            raise GGUFError(f"{path}: not a GGUF model file (wrong magic bytes)")
        version = int(r.unpack("I"))
        if version not in (2, 3):
            raise GGUFError(f"{path}: unsupported GGUF version {version}")
        tensor_count = int(r.unpack("Q"))
        kv_count = int(r.unpack("Q"))
        metadata: dict[str, object] = {}
        for _ in range(kv_count):
            key = r.string()
            vtype = int(r.unpack("I"))
            value = r.value(vtype, keep=not key.startswith("tokenizer.ggml."))
            if value is not None:
                metadata[key] = value
        end = 0
        known = True
        for _ in range(tensor_count):
            r.string()
            n_dims = int(r.unpack("I"))
            elements = 1
            for _ in range(n_dims):
                elements *= int(r.unpack("Q"))
            ttype = int(r.unpack("I"))
            offset = int(r.unpack("Q"))
            if ttype in _GGML_TYPE_SIZES:
                block, size = _GGML_TYPE_SIZES[ttype]
                end = max(end, offset + elements // block * size)
            else:
                known = False
                end = max(end, offset + 1)
        alignment = int(metadata.get("general.alignment", 32))  # type: ignore[call-overload]
        data_offset = -(-f.tell() // alignment) * alignment
    expected = data_offset + end
    info = GGUFInfo(version, tensor_count, metadata, data_offset, expected if known else None,
                    file_size)
    if file_size < expected:
        raise GGUFError(
            f"{path}: truncated GGUF model ({file_size:,} bytes, its tensors need {expected:,})"
        )
    return info
