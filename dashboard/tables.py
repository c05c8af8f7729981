"""Datasets as tables and matrices for display (pure helpers, no Streamlit).

States are shown either as the policy sees them (normalised) or un-normalised
with the dataset's own statistics (`engine.render.raw_states`, never estimating
missing running statistics here: that trains a policy).
"""

from __future__ import annotations

import numpy as np


def feature_names(ds) -> list[str]:
    spec = ds.spec
    return [spec.feature_name(j) for j in range(spec.obs_size)]


def label_names(ds) -> list[str]:
    spec = ds.spec
    return [spec.action_name(a) for a in range(spec.action_dim)]


def state_matrix(ds, raw: bool = False) -> tuple[np.ndarray, str]:
    """((N, F) states, a note saying what they are)."""
    from engine.render import raw_states

    if raw:
        values, note = raw_states(ds, estimate=False)
    else:
        values, note = ds.states, "normalised, as the policy sees them"
        if ds.obs_norm == "none":
            note = "raw observations (the run uses no normalisation)"
    return np.asarray(values, np.float64).reshape(ds.size, -1), note


def label_matrix(ds) -> np.ndarray:
    """(N, A): action labels (continuous) or class probabilities (one-hot, soft)."""
    return np.asarray(ds.targets(), np.float64)


def label_text(ds, i: int) -> str:
    from engine.render.states import label_text as _text

    return _text(ds, i)


def dataset_table(ds, raw: bool = False, max_features: int = 64) -> dict[str, list]:
    """Columns of a table with one row per pair: its label, then its features.

    Wide observations (MinAtar: 10x10xC) keep their first `max_features` columns
    and a count of the non-zero ones.
    """
    values, _ = state_matrix(ds, raw)
    names = feature_names(ds)
    cols: dict[str, list] = {"pair": list(range(ds.size))}
    cols["label"] = [label_text(ds, i) for i in range(ds.size)]
    if ds.label_kind == "continuous":
        for a, name in enumerate(label_names(ds)):
            cols[f"action {name}"] = [float(v) for v in ds.labels[:, a]]
    if values.shape[1] > max_features:
        cols["non-zero features"] = [int(np.sum(np.abs(r) > 1e-6)) for r in values]
        cols["max |value|"] = [float(np.max(np.abs(r))) for r in values]
        keep = range(max_features)
    else:
        keep = range(values.shape[1])
    for j in keep:
        cols[names[j]] = [float(v) for v in values[:, j]]
    return cols


def describe(ds) -> dict[str, str]:
    """Short facts about a dataset for a caption."""
    meta = ds.meta or {}
    out = {
        "environment": ds.env,
        "pairs": str(ds.size),
        "labels": ds.label_kind,
        "normalisation": ds.obs_norm,
    }
    for k in ("run_id", "generation", "mean_dataset_return", "source", "file"):
        if meta.get(k) is not None:
            out[k.replace("_", " ")] = str(meta[k])
    if meta.get("fixed_init_seed") is not None:
        out["HaDES-F init"] = str(meta["fixed_init_seed"])
    return out
