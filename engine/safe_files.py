"""Reading untrusted `.npz` files with bounded memory: check, then allocate.

`NpzReader` opens an `.npz` (a zip of `.npy` members) without inflating anything.
Before a member's data is read it checks, from the zip's central directory and the
member's npy header alone:

- the file is a regular file (not a directory or a device such as /dev/zero) of at
  most `max_file_bytes`, and its central directory is small (a directory of millions
  of entries costs memory in `zipfile` itself);
- the member is stored or deflated (bzip2 and lzma members inflate without a bound
  in `zipfile`), and its declared uncompressed size fits the remaining budget
  (`max_total_bytes` for the whole file);
- the npy header: a plain dtype of an allowed kind (never an object array, so
  nothing is unpickled), a shape of the pattern the caller expects, at most
  `max_bytes` of data, and header size + data size == the declared size.

`zipfile` stops inflating a member at its declared size (and then checks the CRC),
so a member that inflates to more than it declared yields no more than it declared.

Memory bound: reading any file, valid or hostile, allocates at most the arrays it
accepts (at most `max_total_bytes` in all) plus the central directory
(`MAX_DIRECTORY_BYTES`, about 13 times that as `ZipInfo` objects) and one npy header
(`MAX_HEADER_BYTES`). A zip bomb or a header declaring a huge shape is refused after
reading only those.
"""

from __future__ import annotations

import math
import os
import stat
import struct
import zipfile
from collections.abc import Sequence

import numpy as np
from numpy.lib import format as npy_format

MAX_DIRECTORY_BYTES = 1 * 2**20
"""Largest zip central directory read (about 10,000 members with short names)."""
MAX_HEADER_BYTES = 10_000
"""Largest npy header read (numpy's own default limit)."""
CHUNK_BYTES = 1 * 2**20
"""Member data is copied into its array this many bytes at a time."""
FLOAT = "f"
INT = "iu"
TEXT = "U"
NUMERIC = "biuf"

_EOCD = b"PK\x05\x06"
_EOCD64_LOCATOR = b"PK\x06\x07"
_EOCD64 = b"PK\x06\x06"


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


class UnsafeFileError(ValueError):
    """A file is refused before its data is read; the message says why."""


def regular_file_size(path: str | os.PathLike, max_bytes: int, what: str) -> int:
    """The size of `path`; refuses a missing, non-regular or too large file."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise UnsafeFileError(f"no such file: {os.fspath(path)}") from None
    except OSError as e:
        raise UnsafeFileError(
            f"cannot read {os.fspath(path)}: {e.strerror or e}"
        ) from None
    if stat.S_ISDIR(st.st_mode):
        raise UnsafeFileError(f"{os.fspath(path)} is a directory, not {what}")
    if not stat.S_ISREG(st.st_mode):
        raise UnsafeFileError(
            f"{os.fspath(path)} is not a regular file (a device, pipe or socket), "
            f"not {what}"
        )
    if st.st_size > max_bytes:
        raise UnsafeFileError(
            f"{os.fspath(path)} is {st.st_size / 2**20:.1f} MiB, larger than the "
            f"{max_bytes / 2**20:.0f} MiB limit for {what}"
        )
    return st.st_size


def _directory_size(f, file_size: int) -> int:
    """Bytes of the zip's central directory, from the end record (zip64 too)."""
    tail_len = min(file_size, 22 + 65535)
    f.seek(file_size - tail_len)
    tail = f.read(tail_len)
    at = tail.rfind(_EOCD)
    if at < 0 or len(tail) - at < 22:
        raise UnsafeFileError("not a zip archive (no end of central directory)")
    (cd_size,) = struct.unpack("<I", tail[at + 12 : at + 16])
    if (
        cd_size == 0xFFFFFFFF
        and at >= 20
        and tail[at - 20 : at - 16] == (_EOCD64_LOCATOR)
    ):
        (offset,) = struct.unpack("<Q", tail[at - 12 : at - 4])
        if offset + 56 > file_size:
            raise UnsafeFileError("malformed zip64 end record")
        f.seek(offset)
        rec = f.read(56)
        if rec[:4] != _EOCD64:
            raise UnsafeFileError("malformed zip64 end record")
        (cd_size,) = struct.unpack("<Q", rec[40:48])
    return cd_size


class NpzReader:
    """An `.npz` opened for checked reads; use as a context manager.

    Args:
        path: the file.
        what: what the file should be, for messages ("a HaDES dataset").
        max_file_bytes: largest file accepted.
        max_total_bytes: most bytes of array data read from it in all.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        what: str,
        max_file_bytes: int,
        max_total_bytes: int,
    ):
        self.path = os.fspath(path)
        self.what = what
        self.budget = int(max_total_bytes)
        size = regular_file_size(self.path, max_file_bytes, what)
        self._file = open(self.path, "rb")  # noqa: SIM115 (closed by close())
        try:
            if _directory_size(self._file, size) > MAX_DIRECTORY_BYTES:
                raise UnsafeFileError(
                    f"its zip directory is larger than {MAX_DIRECTORY_BYTES >> 20} "
                    "MiB (too many members; refused before reading it)"
                )
            self._file.seek(0)
            self._zip = zipfile.ZipFile(self._file)
            self._infos = {}
            for info in self._zip.infolist():
                if info.filename.endswith(".npy"):
                    self._infos[info.filename[:-4]] = info
        except (
            UnsafeFileError,
            zipfile.BadZipFile,
            OSError,
            ValueError,
            EOFError,
        ) as e:
            self._file.close()
            raise UnsafeFileError(f"{self.path} is not {what}: {e}") from None

    def __enter__(self) -> NpzReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._zip.close()
        self._file.close()

    @property
    def names(self) -> list[str]:
        """Member names without the `.npy` suffix."""
        return list(self._infos)

    def __contains__(self, name: str) -> bool:
        return name in self._infos

    def _refuse(self, name: str, why: str) -> UnsafeFileError:
        return UnsafeFileError(f"{self.path}: member {name!r} {why}")

    def header(self, name: str) -> tuple[tuple[int, ...], np.dtype]:
        """(shape, dtype) of a member from its npy header; no data is read."""
        shape, dtype, _fortran, _start = self._header(name)
        return shape, dtype

    def _header(self, name: str):
        info = self._infos.get(name)
        if info is None:
            raise self._refuse(name, "is missing")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise self._refuse(name, "is compressed with a method other than deflate")
        if info.file_size > self.budget:
            raise self._refuse(
                name,
                f"declares {_mib(info.file_size)} uncompressed; {self.what} holds "
                f"at most {_mib(self.budget)} (refused before inflating it)",
            )
        try:
            with self._zip.open(info) as fp:
                version = npy_format.read_magic(fp)
                if version == (1, 0):
                    shape, fortran, dtype = npy_format.read_array_header_1_0(
                        fp, max_header_size=MAX_HEADER_BYTES
                    )
                elif version in ((2, 0), (3, 0)):
                    shape, fortran, dtype = npy_format.read_array_header_2_0(
                        fp, max_header_size=MAX_HEADER_BYTES
                    )
                else:
                    raise ValueError(f"unknown npy version {version}")
                start = fp.tell()
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
            raise self._refuse(name, f"has no readable npy header: {e}") from None
        if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
            raise self._refuse(name, f"has dtype {dtype}, not plain numbers or text")
        return tuple(shape), dtype, fortran, start

    def read(
        self,
        name: str,
        kinds: str,
        shape: Sequence[int | None] | None = None,
        max_bytes: int | None = None,
        subject: str | None = None,
    ) -> np.ndarray:
        """One member's array after its header passed the checks.

        Args:
            name: the member (without `.npy`).
            kinds: allowed dtype kinds (`FLOAT`, `INT`, `TEXT`, `NUMERIC` or a mix).
            shape: the expected shape; None entries are free. None: any shape.
            max_bytes: most bytes of data this member may hold.
            subject: what needs that shape and size, for messages ("CartPole-v1").
        """
        got, dtype, fortran, start = self._header(name)
        if dtype.kind not in kinds:
            raise self._refuse(name, f"has dtype {dtype}; expected kind {kinds!r}")
        if shape is not None and (
            len(got) != len(shape)
            or any(w is not None and w != g for w, g in zip(shape, got, strict=True))
        ):
            want = "(" + ", ".join("N" if w is None else str(w) for w in shape) + ")"
            raise self._refuse(
                name, f"has shape {got}; {subject or self.what} needs {want}"
            )
        nbytes = math.prod(got) * dtype.itemsize
        limit = self.budget if max_bytes is None else min(max_bytes, self.budget)
        if nbytes > limit:
            raise self._refuse(
                name,
                f"declares shape {got} of {dtype} ({_mib(nbytes)}); "
                f"{subject or self.what} needs at most {_mib(limit)} "
                "(refused before reading it)",
            )
        info = self._infos[name]
        if start + nbytes != info.file_size:
            raise self._refuse(
                name,
                f"declares {nbytes} bytes of data but the archive holds "
                f"{info.file_size - start}",
            )
        flat = np.empty(math.prod(got), dtype)
        view = flat.view(np.uint8)
        try:
            with self._zip.open(info) as fp:
                fp.seek(start)
                pos = 0
                while pos < nbytes:
                    chunk = fp.read(min(CHUNK_BYTES, nbytes - pos))
                    if not chunk:
                        raise EOFError("the member ends early")
                    view[pos : pos + len(chunk)] = np.frombuffer(chunk, np.uint8)
                    pos += len(chunk)
                fp.read(1)  # at the end: zipfile checks the CRC
        except (OSError, EOFError, zipfile.BadZipFile, ValueError) as e:
            raise self._refuse(name, f"is unreadable: {e}") from None
        self.budget -= nbytes
        if fortran:
            return flat.reshape(got[::-1]).transpose()
        return flat.reshape(got)

    def read_text(self, name: str, max_bytes: int) -> str:
        """A 0-d text member (a JSON header, say)."""
        return str(self.read(name, TEXT, shape=(), max_bytes=max_bytes)[()])
