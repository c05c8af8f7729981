"""Checkpoints: ES state, ES params, run key and generation in one `.npz` (no pickle).

`flax.serialization.to_state_dict` turns the evosax state (a struct dataclass with
optax NamedTuples inside) into nested dicts; they are flattened to "state/a/b/c"
keys and written with `np.savez` to a temp file that is renamed into place, so a
reader (or a process killed mid-write) never sees half a file. Restoring walks the
state dict of a template (`Distiller.init()`), so empty sub-dicts come back too.

File layout: ``state/...`` and ``params/...`` arrays, ``generation`` (int64),
``run_key`` (uint32), and ``meta`` (a JSON string: run id, generation, time, live
lr/sigma/temperature).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np
from flax import serialization

from engine import safe_files
from engine.atomic import atomic_write
from engine.runs.errors import RunError

CKPT_RE = re.compile(r"^ckpt_(\d{8})\.npz$")
MAX_FILE_BYTES = 16 * 2**30
"""Largest checkpoint read (its arrays are at most its size: see `read`)."""


def checkpoint_name(generation: int) -> str:
    return f"ckpt_{generation:08d}.npz"


def dataset_name(generation: int) -> str:
    """The mean dataset kept beside a checkpoint (viewing an old generation reads
    it: no ES state to rebuild, nothing to compile)."""
    return f"dataset_{generation:08d}.npz"


def flatten(tree: Any, prefix: str) -> dict[str, np.ndarray]:
    """Nested dicts of arrays -> {"prefix/a/b": array}."""
    out: dict[str, np.ndarray] = {}

    def walk(node, path):
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{path}/{k}")
        else:
            out[path] = np.asarray(node)

    walk(tree, prefix)
    return out


def unflatten_like(template: dict, flat: dict[str, np.ndarray], prefix: str) -> dict:
    """Rebuild a state dict shaped like `template` from flat arrays."""

    def walk(node, path):
        if isinstance(node, dict):
            return {k: walk(v, f"{path}/{k}") for k, v in node.items()}
        if path not in flat:
            raise RunError(f"checkpoint misses {path}")
        want = np.asarray(node)
        got = flat[path]
        if got.shape != want.shape:
            raise RunError(
                f"checkpoint {path} has shape {got.shape}; this run needs {want.shape}"
            )
        return jnp.asarray(got, dtype=want.dtype)

    return walk(template, prefix)


def compatible(template: dict, flat: dict[str, np.ndarray], prefix: str) -> bool:
    """Whether `flat` holds every leaf of `template` with the same shape."""
    want = flatten(template, prefix)
    return all(k in flat and flat[k].shape == v.shape for k, v in want.items())


def save(
    path: str | os.PathLike,
    es_state,
    es_params,
    generation: int,
    run_key,
    meta: dict | None = None,
    fsync: bool = False,
) -> Path:
    """Write a checkpoint atomically (temp file + rename)."""
    path = Path(path)
    arrays = flatten(serialization.to_state_dict(es_state), "state")
    arrays.update(flatten(serialization.to_state_dict(es_params), "params"))
    arrays["generation"] = np.asarray(generation, np.int64)
    arrays["run_key"] = np.asarray(run_key, np.uint32)
    arrays["meta"] = np.asarray(json.dumps({"generation": generation, **(meta or {})}))
    with atomic_write(path, fsync=fsync) as f:
        np.savez(f, **arrays)
    return path


def read(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """All arrays of a checkpoint file (no pickle), checked before they are read.

    A checkpoint is written uncompressed, so its arrays never hold more than its
    file: a member that declares more is refused before inflating (peak memory:
    the file's size). `restore` then checks shapes against the run's ES state.
    """
    path = os.fspath(path)
    try:
        size = safe_files.regular_file_size(path, MAX_FILE_BYTES, "a checkpoint")
        with safe_files.NpzReader(path, "a checkpoint", size, size) as z:
            out = {}
            for k in z.names:
                kinds = safe_files.TEXT if k == "meta" else safe_files.NUMERIC
                out[k] = z.read(k, kinds)
            return out
    except safe_files.UnsafeFileError as e:
        if not os.path.exists(path):
            raise RunError(f"no checkpoint at {path}") from None
        raise RunError(f"checkpoint {path} is unreadable: {e}") from None


def meta(flat: dict[str, np.ndarray]) -> dict:
    try:
        return json.loads(str(flat["meta"]))
    except (KeyError, json.JSONDecodeError):
        return {}


def restore(flat: dict[str, np.ndarray], template_state, template_params=None):
    """(es_state, es_params or None, generation) from checkpoint arrays.

    `template_*` come from `Distiller.init()`; params are restored only when
    given and present with matching shapes.
    """
    state_t = serialization.to_state_dict(template_state)
    state = serialization.from_state_dict(
        template_state, unflatten_like(state_t, flat, "state")
    )
    params = None
    if template_params is not None:
        params_t = serialization.to_state_dict(template_params)
        if compatible(params_t, flat, "params"):
            params = serialization.from_state_dict(
                template_params, unflatten_like(params_t, flat, "params")
            )
    return state, params, int(flat["generation"])


def list_checkpoints(directory: str | os.PathLike) -> list[tuple[int, Path]]:
    """(generation, path) of every checkpoint in `directory`, oldest first."""
    d = Path(directory)
    try:
        names = os.listdir(d)
    except FileNotFoundError:
        return []
    out = []
    for n in names:
        m = CKPT_RE.match(n)
        if m:
            out.append((int(m.group(1)), d / n))
    return sorted(out)


def prune(
    directory: str | os.PathLike,
    keep_last: int,
    keep_every: int,
    protect: tuple[int, ...] = (),
) -> list[int]:
    """Delete checkpoints but the last `keep_last` and every `keep_every` generations.

    `keep_every` counts generations (0 keeps none for it); returns deleted ones.
    """
    ckpts = list_checkpoints(directory)
    keep = {g for g, _ in ckpts[-keep_last:]} if keep_last > 0 else set()
    keep |= set(protect)
    deleted = []
    for g, p in ckpts:
        if g in keep or (keep_every > 0 and g % keep_every == 0):
            continue
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
        with contextlib.suppress(FileNotFoundError):
            (p.parent / dataset_name(g)).unlink()
        deleted.append(g)
    return deleted
