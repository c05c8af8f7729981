"""Run and study ids: sortable, generated, never user text.

An id is ``[<prefix>-]YYYYmmdd-HHMMSS-<6 hex>``; `new_run_dir` creates the
directory of a fresh one, so two processes starting at the same second never share
a directory.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path

from engine.runs.errors import RunError


def new_run_id(prefix: str = "") -> str:
    """``[<prefix>-]YYYYmmdd-HHMMSS-<6 hex>`` (studies prefix their name)."""
    stamp = time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)
    return f"{prefix}-{stamp}" if prefix else stamp


def new_run_dir(parent: Path, prefix: str = "") -> tuple[str, Path]:
    """Create ``parent/<new id>`` (and `parent`); returns (id, directory)."""
    parent.mkdir(parents=True, exist_ok=True)
    for _ in range(10):
        run_id = new_run_id(prefix)
        path = parent / run_id
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return run_id, path
    # Ten collisions of 24 random bits within one second: something else is wrong.
    raise RunError(f"could not create a unique run directory in {parent}")
