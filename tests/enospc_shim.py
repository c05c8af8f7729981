"""A full disk simulated at the write layer, for machines where a test cannot
mount a small filesystem.

`python -c "import enospc_shim; enospc_shim.run(ROOT, FLAG, argv)"` runs the
`hades` CLI; while the file FLAG exists, every new file (`tempfile.mkstemp`) and
every append (`os.write` to an O_APPEND descriptor) under ROOT fails with ENOSPC,
as on a full disk, where rewriting a file's existing blocks still works.
"""

from __future__ import annotations

import errno
import fcntl
import os
import sys
import tempfile


def install(root: str, flag: str) -> None:
    root = os.path.realpath(root)
    real_write, real_mkstemp = os.write, tempfile.mkstemp

    def full() -> bool:
        return os.path.exists(flag)

    def under_root(path: str) -> bool:
        return os.path.realpath(path).startswith(root + os.sep)

    def write(fd, data):
        appending = full() and fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_APPEND
        if appending and under_root(os.readlink(f"/proc/self/fd/{fd}")):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    def mkstemp(suffix=None, prefix=None, dir=None, text=False):  # noqa: A002
        if full() and dir is not None and under_root(os.fspath(dir)):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), os.fspath(dir))
        return real_mkstemp(suffix, prefix, dir, text)

    os.write = write
    tempfile.mkstemp = mkstemp


def run(root: str, flag: str, argv: list[str]) -> None:
    install(root, flag)
    from engine.cli import main

    sys.exit(main(argv))
