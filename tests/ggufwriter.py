"""A tiny GGUF writer for tests: real headers, a few small F32 tensors."""

from __future__ import annotations

import struct


def _string(s: str) -> bytes:
    data = s.encode()
    return struct.pack("<Q", len(data)) + data


def tiny_gguf(n_tensors: int = 2, elements: int = 64, name: str = "tiny") -> bytes:
    kv = [
        ("general.architecture", 8, _string("llama")),
        ("general.name", 8, _string(name)),
        ("general.alignment", 4, struct.pack("<I", 32)),
    ]
    out = b"GGUF" + struct.pack("<IQQ", 3, n_tensors, len(kv))
    for key, vtype, value in kv:
        out += _string(key) + struct.pack("<I", vtype) + value
    tensor_bytes = elements * 4
    for i in range(n_tensors):
        out += _string(f"t{i}") + struct.pack("<I", 1) + struct.pack("<Q", elements)
        out += struct.pack("<IQ", 0, i * tensor_bytes)  # type F32, offset
    out += b"\0" * (-len(out) % 32)
    for i in range(n_tensors):
        out += struct.pack(f"<{elements}f", *([float(i)] * elements))
    return out
