"""Atomic file writes: a reader sees the old file or the new one, never half of one.

Every file that is replaced whole (JSON status and configs, CSV tables, figures,
datasets, checkpoints, zip exports) is written through `atomic_write`: a temp file
in the same directory (``.<name>.<random>.tmp``, so a killed writer's leftovers are
recognisable by their ``.tmp`` suffix), then `os.replace` onto the target. On any
error the temp file is removed and the target is untouched.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike,
    mode: str = "wb",
    *,
    newline: str | None = None,
    fsync: bool = False,
) -> Iterator[IO]:
    """Open a temp file beside `path` for writing; rename it onto `path` on success.

    Args:
        path: the file to replace (its directory must exist).
        mode: "wb" (bytes) or "w" (text, UTF-8).
        newline: passed to `open` in text mode ("" for the csv module).
        fsync: flush the data to disk before the rename (checkpoints).
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write mode {mode!r}: use 'w' or 'wb'")
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        text = {"encoding": "utf-8", "newline": newline} if mode == "w" else {}
        with os.fdopen(fd, mode, **text) as f:
            yield f
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def jsonable(x: Any) -> Any:
    """Plain JSON values; NaN and inf become None (strict JSON for any reader)."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [jsonable(v) for v in x]
    if isinstance(x, bool) or x is None or isinstance(x, str):
        return x
    if isinstance(x, int):
        return x
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if hasattr(x, "item") and getattr(x, "ndim", 1) == 0:
        return jsonable(x.item())
    if hasattr(x, "tolist"):
        return jsonable(x.tolist())
    return str(x)


def write_json(path: str | os.PathLike, obj: Any, indent: int | None = 1) -> None:
    """Write `jsonable(obj)` as JSON (sorted keys) atomically."""
    data = json.dumps(jsonable(obj), indent=indent, sort_keys=True).encode()
    with atomic_write(path) as f:
        f.write(data)
