"""Hostile dataset files for the fault tests: a zip bomb and a huge-shape header.

Both look like HaDES datasets (a `meta` member with a valid CartPole header), so
a reader gets past the format check and must refuse them on sizes alone.
"""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

_CHUNK = 16 * 2**20


def _meta_npy() -> bytes:
    header = {
        "format": "hades-dataset",
        "version": 1,
        "env": "CartPole-v1",
        "label_kind": "onehot",
        "obs_norm": "none",
        "size": 4,
        "meta": {},
    }
    import io

    buf = io.BytesIO()
    np.save(buf, np.array(json.dumps(header)))
    return buf.getvalue()


def _npy_header(shape: tuple[int, ...], dtype=np.float32) -> bytes:
    import io

    buf = io.BytesIO()
    npy_format.write_array_header_1_0(
        buf, {"descr": np.dtype(dtype).str, "fortran_order": False, "shape": shape}
    )
    return buf.getvalue()


def _zip(path: Path, members: list[tuple[str, bytes, int, int, int]]) -> None:
    """Write a zip of precompressed deflate members (name, data, crc, usize, method)
    with zip64 sizes for members of 4 GiB or more."""
    local, central = [], []
    offset = 0
    for name, data, crc, usize, method in members:
        big = usize >= 0xFFFFFFFF or len(data) >= 0xFFFFFFFF
        extra = struct.pack("<HHQQ", 1, 16, usize, len(data)) if big else b""
        u32 = 0xFFFFFFFF if big else usize
        c32 = 0xFFFFFFFF if big else len(data)
        fname = name.encode()
        version = 45 if big else 20
        head = struct.pack(
            "<4sHHHHHIIIHH", b"PK\x03\x04", version, 0, method, 0, 0x21,
            crc, c32, u32, len(fname), len(extra),
        ) + fname + extra  # fmt: skip
        central.append(
            struct.pack(
                "<4sHHHHHHIIIHHHHHII",
                b"PK\x01\x02",
                version,
                version,
                0,
                method,
                0,
                0x21,
                crc,
                c32,
                u32,
                len(fname),
                len(extra),
                0,
                0,
                0,
                0,
                offset,
            )
            + fname
            + extra  # fmt: skip
        )
        local.append(head + data)
        offset += len(head) + len(data)
    cd = b"".join(central)
    eocd = struct.pack(
        "<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(members), len(members), len(cd),
        offset, 0,
    )  # fmt: skip
    with open(path, "wb") as f:
        f.writelines(local)
        f.write(cd)
        f.write(eocd)


def _stored(name: str, data: bytes):
    return (name, data, zlib.crc32(data), len(data), 0)


def zip_bomb(path: Path, member_bytes: int = 8 * 2**30) -> Path:
    """A dataset whose `states` member inflates to `member_bytes` of zeros (a
    valid deflate stream with a correct CRC) from a few MB on disk."""
    rows = (member_bytes // 16) * 16 // 16  # (rows, 4) float32
    head = _npy_header((rows, 4))
    zeros = rows * 16
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    parts = [comp.compress(head) + comp.flush(zlib.Z_FULL_FLUSH)]
    block = bytes(_CHUNK)
    # After a full flush the compressor forgets its history, so every further
    # block of zeros compresses to the same bytes: compress one, repeat it.
    one = comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH)
    full, rest = divmod(zeros, _CHUNK)
    crc = zlib.crc32(head)
    for _ in range(full):
        crc = zlib.crc32(block, crc)
    parts.extend([one] * full)
    tail = bytes(rest)
    parts.append(comp.compress(tail) + comp.flush())
    crc = zlib.crc32(tail, crc)
    data = b"".join(parts)
    labels = _npy_header((4,), np.int32) + np.zeros(4, np.int32).tobytes()
    _zip(
        path,
        [
            _stored("meta.npy", _meta_npy()),
            ("states.npy", data, crc, len(head) + zeros, 8),
            _stored("labels.npy", labels),
        ],
    )
    return path


def huge_shape(path: Path, rows: int = 10**12) -> Path:
    """A small dataset whose `states` header declares `rows` x 4 float32."""
    states = _npy_header((rows, 4)) + bytes(64)
    labels = _npy_header((4,), np.int32) + np.zeros(4, np.int32).tobytes()
    _zip(
        path,
        [
            _stored("meta.npy", _meta_npy()),
            _stored("states.npy", states),
            _stored("labels.npy", labels),
        ],
    )
    return path


def many_objects_pickle(path: Path, opcodes: int) -> Path:
    """A pickle of a dict holding one list of empty dicts: one new object per
    opcode, `opcodes` opcodes in all (the most an unpickler must build)."""
    blocks = (opcodes - 8) // 1002
    # PROTO 2, {}, "x", [], MARK, then per block 1000 x {} and APPENDS, MARK
    body = b"\x80\x02}X\x01\x00\x00\x00x](" + (b"}" * 1000 + b"e(") * blocks
    path.write_bytes(body + b"es.")  # APPENDS, SETITEM, STOP
    return path
