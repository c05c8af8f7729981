"""Loading user files safely: `.npz` datasets and the paper's published pickles.

Only two formats are accepted, by extension and then by content: our `.npz`
(`engine.dataset.load`, never unpickles) and the published HaDES pickle through
the engine's restricted unpickler (`engine.paper_import.import_paper`). Anything
else, too large, malformed or hostile ends in `UploadError` with a message for
people; nothing here raises another exception type for a bad file.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
from pathlib import Path

from dashboard.server import settings

MAX_UPLOAD_BYTES = settings()["server"]["maxUploadSize"] * 2**20
"""Streamlit's `server.maxUploadSize` (MB) from the shipped settings, in bytes."""
SUFFIXES = (".npz", ".pkl")


class UploadError(ValueError):
    """A file cannot be loaded as a dataset; the message says why."""


def safe_name(name: str, default: str = "dataset") -> str:
    """A file-name stem made of letters, digits, dots, dashes and underscores."""
    stem = Path(str(name)).name
    for suffix in SUFFIXES:
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip(".-_")
    return stem[:80] or default


def load_bytes(name: str, data: bytes):
    """(dataset, notes) from an uploaded file's name and bytes."""
    suffix = Path(str(name)).suffix.lower()
    if suffix not in SUFFIXES:
        raise UploadError(
            f"{name!r}: only .npz datasets and the paper's .pkl files are accepted"
        )
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadError(
            f"{name!r} is {len(data) / 2**20:.1f} MB; the limit is "
            f"{MAX_UPLOAD_BYTES >> 20} MB"
        )
    if not data:
        raise UploadError(f"{name!r} is empty")
    with tempfile.TemporaryDirectory(prefix="hades-upload-") as tmp:
        path = Path(tmp) / (safe_name(name) + suffix)
        path.write_bytes(data)
        return load_path(path, display_name=name)


def load_path(path: str | os.PathLike, display_name: str | None = None):
    """(dataset, notes) from a file on this machine (.npz or the paper's .pkl)."""
    from engine import dataset as ds_lib
    from engine.dataset_ref import load_dataset_ref
    from engine.paper_import import PaperImportError

    path = Path(path).expanduser()
    shown = display_name or path.name
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise UploadError(
            f"{shown!r}: only .npz datasets and the paper's .pkl files are accepted"
        )
    try:
        size = path.stat().st_size
    except OSError as e:
        raise UploadError(f"{shown!r} cannot be read: {e.strerror or e}") from None
    if size > MAX_UPLOAD_BYTES:
        raise UploadError(
            f"{shown!r} is {size / 2**20:.1f} MB; the limit is "
            f"{MAX_UPLOAD_BYTES >> 20} MB"
        )
    try:
        ds, notes = load_dataset_ref(path)
    except (ds_lib.DatasetError, PaperImportError) as e:
        raise UploadError(_clean(str(e), path, shown)) from None
    except Exception as e:  # anything else a hostile file provokes
        why = _clean(str(e), path, shown)
        raise UploadError(
            f"{shown!r} could not be read ({type(e).__name__}: {why})"
        ) from None
    meta = dict(ds.meta)
    meta.setdefault("file", str(shown))
    return ds.with_meta(**meta), list(notes)


def _clean(msg: str, path: Path, shown: str) -> str:
    """Messages name the uploaded file, not our temporary copy."""
    return msg.replace(str(path), shown).replace(path.name, shown)


def save_import(
    ds, imports_dir: str | os.PathLike, name: str, digest: str | None = None
) -> Path:
    """Keep an imported dataset beside the runs; returns its path.

    With a content `digest` the same file imported twice maps to one dataset;
    without one a time stamp keeps names unique. Never overwrites another file.
    """
    from engine import dataset as ds_lib

    d = Path(imports_dir)
    d.mkdir(parents=True, exist_ok=True)
    stem = safe_name(name)
    if digest:
        path = d / f"{stem}-{digest[:8]}.npz"
        if path.is_file():
            return path
    else:
        path = d / f"{stem}.npz"
        if path.exists():
            path = d / f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}.npz"
    ds_lib.save(ds.with_meta(imported=time.time()), path)
    return path


def digest(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()
