"""The synthetic dataset: states, labels, and how they are stored and evolved.

Label kinds:
- ``continuous``: action labels (N, A), evolved together with the states.
- ``onehot``: fixed classes (N,), round-robin 0, 1, ..., A-1, 0, ... so every one of
  the N states is used (the paper's floor(N/|A|) layout drops the remainder).
- ``soft``: evolved label logits (N, A); the policy is trained on their softmax.

The ES searches a dict of arrays, flattened by `ravel_pytree` (sorted keys, so the
paper's layout "actions then states" is kept): continuous {"actions", "states"},
onehot {"states"}, soft {"labels", "states"}. States live in the normalised
observation space the policy sees.

On disk a dataset is one `.npz` (no pickle: loaded with allow_pickle=False) holding
`states`, `labels`, optional `obs_mean`/`obs_var`, and a JSON string `meta`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine import safe_files
from engine.atomic import atomic_write
from engine.config import MAX_DATASET_SIZE as MAX_SIZE
from engine.envs.registry import ENV_NAMES, EnvSpec, get_spec

LABEL_KINDS = ("continuous", "onehot", "soft")
FORMAT_VERSION = 1
MAX_FILE_BYTES = 256 * 2**20
"""Largest dataset file, and most bytes of arrays read from one."""
MAX_META_BYTES = 4 * 2**20
"""Largest JSON header (`meta` member) read."""


class DatasetError(ValueError):
    """A dataset file or array is malformed; the message says what is wrong."""


def resolve_label_kind(spec: EnvSpec, labels: str) -> str:
    if labels == "auto":
        return "onehot" if spec.discrete else "continuous"
    return labels


def round_robin_labels(size: int, num_actions: int) -> np.ndarray:
    return (np.arange(size) % num_actions).astype(np.int32)


def solution_template(spec: EnvSpec, size: int, label_kind: str) -> dict:
    """Zero search variable of the right shapes (the paper's initial ES mean)."""
    states = np.zeros((size, *spec.obs_shape), np.float32)
    if label_kind == "continuous":
        return {
            "actions": np.zeros((size, spec.action_dim), np.float32),
            "states": states,
        }
    if label_kind == "soft":
        return {
            "labels": np.zeros((size, spec.action_dim), np.float32),
            "states": states,
        }
    return {"states": states}


@dataclass(frozen=True)
class Dataset:
    """A distilled dataset and what is needed to use it."""

    env: str
    states: np.ndarray  # (N, *obs_shape) normalised observations
    labels: np.ndarray  # continuous (N, A); onehot (N,) int; soft (N, A) logits
    label_kind: str
    obs_norm: str = "none"
    obs_mean: np.ndarray | None = None
    obs_var: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        validate(self)

    @property
    def spec(self) -> EnvSpec:
        return get_spec(self.env)

    @property
    def size(self) -> int:
        return int(self.states.shape[0])

    def targets(self) -> np.ndarray:
        """Training targets: actions (N, A) or class probabilities (N, A)."""
        if self.label_kind == "continuous":
            return self.labels.astype(np.float32)
        if self.label_kind == "onehot":
            return np.eye(self.spec.action_dim, dtype=np.float32)[self.labels]
        z = self.labels - self.labels.max(-1, keepdims=True)
        e = np.exp(z)
        return (e / e.sum(-1, keepdims=True)).astype(np.float32)

    def to_solution(self) -> dict:
        """The search variable this dataset corresponds to."""
        if self.label_kind == "continuous":
            return {"actions": self.labels, "states": self.states}
        if self.label_kind == "soft":
            return {"labels": self.labels, "states": self.states}
        return {"states": self.states}

    def with_meta(self, **meta) -> Dataset:
        return Dataset(
            self.env,
            self.states,
            self.labels,
            self.label_kind,
            self.obs_norm,
            self.obs_mean,
            self.obs_var,
            {**self.meta, **meta},
        )


def from_solution(
    solution: dict,
    env: str,
    label_kind: str,
    fixed_labels: np.ndarray | None = None,
    obs_norm: str = "none",
    obs_mean=None,
    obs_var=None,
    meta: dict | None = None,
) -> Dataset:
    """Dataset from an (unravelled) ES solution."""
    states = np.asarray(solution["states"], np.float32)
    if label_kind == "continuous":
        labels = np.asarray(solution["actions"], np.float32)
    elif label_kind == "soft":
        labels = np.asarray(solution["labels"], np.float32)
    else:
        labels = (
            np.asarray(fixed_labels, np.int32)
            if fixed_labels is not None
            else round_robin_labels(states.shape[0], get_spec(env).action_dim)
        )
    return Dataset(
        env,
        states,
        labels,
        label_kind,
        obs_norm,
        None if obs_mean is None else np.asarray(obs_mean, np.float32),
        None if obs_var is None else np.asarray(obs_var, np.float32),
        dict(meta or {}),
    )


def validate(ds: Dataset) -> None:
    """Raise DatasetError unless shapes, kinds and values are consistent."""
    if ds.env not in ENV_NAMES:
        raise DatasetError(
            f"unknown environment {ds.env!r}; known: {', '.join(ENV_NAMES)}"
        )
    spec = get_spec(ds.env)
    if ds.label_kind not in LABEL_KINDS:
        raise DatasetError(f"label_kind {ds.label_kind!r} is not one of {LABEL_KINDS}")
    if not isinstance(ds.states, np.ndarray) or ds.states.dtype.kind != "f":
        raise DatasetError("states must be a float array")
    if ds.states.ndim < 1 or tuple(ds.states.shape[1:]) != spec.obs_shape:
        raise DatasetError(
            f"states have shape {ds.states.shape}; {ds.env} needs (N, "
            f"{', '.join(map(str, spec.obs_shape))})"
        )
    n = ds.states.shape[0]
    if n < 1:
        raise DatasetError("a dataset needs at least one state")
    if not np.all(np.isfinite(ds.states)):
        raise DatasetError("states contain NaN or inf")
    if ds.label_kind == "onehot":
        if not spec.discrete:
            raise DatasetError(
                f"{ds.env} has continuous actions: onehot labels invalid"
            )
        if ds.labels.shape != (n,) or ds.labels.dtype.kind not in "iu":
            raise DatasetError(
                f"onehot labels must be {n} integers, got "
                f"{ds.labels.dtype} {ds.labels.shape}"
            )
        if n and (ds.labels.min() < 0 or ds.labels.max() >= spec.action_dim):
            raise DatasetError(f"labels must lie in 0..{spec.action_dim - 1}")
    else:
        if ds.label_kind == "continuous" and spec.discrete:
            raise DatasetError(
                f"{ds.env} has discrete actions: continuous labels invalid"
            )
        if ds.label_kind == "soft" and not spec.discrete:
            raise DatasetError(f"{ds.env} has continuous actions: soft labels invalid")
        if ds.labels.shape != (n, spec.action_dim) or ds.labels.dtype.kind != "f":
            raise DatasetError(
                f"labels must be floats of shape ({n}, {spec.action_dim}),"
                f" got {ds.labels.dtype} {ds.labels.shape}"
            )
        if not np.all(np.isfinite(ds.labels)):
            raise DatasetError("labels contain NaN or inf")
    if ds.obs_norm not in ("none", "constant", "running"):
        raise DatasetError(f"obs_norm {ds.obs_norm!r} is not none/constant/running")
    if ds.obs_norm == "constant" and (ds.obs_mean is None or ds.obs_var is None):
        raise DatasetError("constant normalisation needs obs_mean and obs_var")
    for name in ("obs_mean", "obs_var"):
        v = getattr(ds, name)
        if v is not None:
            if v.size != spec.obs_size:
                raise DatasetError(
                    f"{name} has {v.size} values; {ds.env} needs {spec.obs_size}"
                )
            if not np.all(np.isfinite(v)):
                raise DatasetError(f"{name} contains NaN or inf")
    if ds.obs_var is not None and np.any(ds.obs_var < 0):
        raise DatasetError("obs_var must be >= 0")
    if not isinstance(ds.meta, dict):
        raise DatasetError("meta must be a dict")


def _to_jsonable(x):
    if isinstance(x, dict):
        return {str(k): _to_jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_to_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    return x


def save(ds: Dataset, path: str | os.PathLike) -> str:
    """Write atomically (temp file + rename); returns the path."""
    path = os.fspath(path)
    header = {
        "format": "hades-dataset",
        "version": FORMAT_VERSION,
        "env": ds.env,
        "label_kind": ds.label_kind,
        "obs_norm": ds.obs_norm,
        "size": ds.size,
        "meta": _to_jsonable(ds.meta),
    }
    arrays = {
        "states": ds.states,
        "labels": ds.labels,
        "meta": np.array(json.dumps(header)),
    }
    if ds.obs_mean is not None:
        arrays["obs_mean"] = ds.obs_mean
        arrays["obs_var"] = ds.obs_var
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    with atomic_write(path) as f:
        np.savez(f, **arrays)
    return path


def load(path: str | os.PathLike) -> Dataset:
    """Read a dataset `.npz`; malformed or hostile files raise DatasetError.

    Nothing is inflated before it is checked (`engine.safe_files`): the JSON header
    (at most MAX_META_BYTES) is read first, then each array's declared shape and
    dtype must be what a dataset of that environment with at most MAX_SIZE states
    holds. Peak memory: the arrays of such a dataset (at most MAX_FILE_BYTES).
    """
    path = os.fspath(path)
    try:
        with safe_files.NpzReader(
            path, "a HaDES dataset", MAX_FILE_BYTES, MAX_FILE_BYTES
        ) as z:
            missing = {"states", "labels", "meta"} - set(z.names)
            if missing:
                raise DatasetError(
                    f"{path} is not a HaDES dataset: missing {sorted(missing)}"
                )
            header = json.loads(z.read_text("meta", MAX_META_BYTES))
            if not isinstance(header, dict) or header.get("format") != "hades-dataset":
                raise DatasetError(
                    f"{path} is not a HaDES dataset (format field missing)"
                )
            env = str(header.get("env"))
            if env not in ENV_NAMES:
                raise DatasetError(
                    f"{path}: unknown environment {env!r}; known: "
                    f"{', '.join(ENV_NAMES)}"
                )
            spec = get_spec(env)
            row = 8 * max(spec.obs_size, spec.action_dim)  # float64 at most
            states = z.read(
                "states",
                safe_files.FLOAT,
                (None, *spec.obs_shape),
                max_bytes=MAX_SIZE * 8 * spec.obs_size,
                subject=env,
            )
            labels = z.read(
                "labels", safe_files.NUMERIC, max_bytes=MAX_SIZE * row, subject=env
            )
            stats = [
                z.read(k, safe_files.FLOAT, max_bytes=8 * spec.obs_size, subject=env)
                if k in z
                else None
                for k in ("obs_mean", "obs_var")
            ]
    except DatasetError:
        raise
    except safe_files.UnsafeFileError as e:
        raise DatasetError(str(e)) from None
    except (ValueError, RecursionError) as e:  # the JSON header
        raise DatasetError(f"{path} is not a readable HaDES dataset: {e}") from None
    try:
        return Dataset(
            env=env,
            states=states,
            labels=labels,
            label_kind=str(header["label_kind"]),
            obs_norm=str(header.get("obs_norm", "none")),
            obs_mean=stats[0],
            obs_var=stats[1],
            meta=header.get("meta") or {},
        )
    except KeyError as e:
        raise DatasetError(f"{path}: header misses {e}") from None
