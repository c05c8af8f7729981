"""Pictures for the explain coverage view: each synthetic state above the nearest
state visited by a policy trained on the dataset, drawn as the environment shows
them (`engine.explain` results, as their JSON dict)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np


def nearest_image(ds, res: dict, cell: int = 160) -> np.ndarray:
    """Each synthetic state (top row) above its nearest visited state (bottom),
    drawn as the environment shows them, with a title band: (H, W, 3) uint8."""
    from engine.dataset import Dataset
    from engine.render import text
    from engine.render.states import state_images
    from engine.render.video import as_frames

    cov = res["coverage"]
    spec = ds.spec
    shape = spec.obs_shape
    syn_raw = np.asarray(cov["synthetic_raw"], np.float64).reshape((-1, *shape))
    near_raw = np.asarray(cov["nearest_raw"], np.float64).reshape((-1, *shape))
    near_norm = np.asarray(cov["nearest_normalised"], np.float32).reshape((-1, *shape))
    acts = cov.get("nearest_action")
    if spec.discrete:
        labels, kind = np.asarray(acts, np.int32), "onehot"
    else:
        labels, kind = np.asarray(acts, np.float32), "continuous"
    visited = Dataset(
        ds.env,
        near_norm,
        labels,
        kind,
        ds.obs_norm,
        ds.obs_mean,
        ds.obs_var,
        dict(ds.meta),
    )
    size = (cell, cell)
    top = state_images(ds, size, raw=syn_raw)
    bottom = [
        text.caption(img, [f"nearest visited: distance {d:.2f}"], 12)
        for img, d in zip(
            state_images(visited, size, raw=near_raw),
            cov["nearest_distance"],
            strict=True,
        )
    ]
    cols = [
        np.concatenate(_same_width([a, b]), axis=0)
        for a, b in zip(top, bottom, strict=True)
    ]
    h = max(c.shape[0] for c in cols)
    cols = [
        np.pad(c, ((0, h - c.shape[0]), (0, 6), (0, 0)), constant_values=255)
        for c in cols
    ]
    grid = as_frames([np.concatenate(cols, axis=1)])[0]
    head = (
        f"{ds.env}  N = {ds.size}. Top: the synthetic states and their labels. "
        "Bottom: the nearest state visited by a policy trained on them, and that "
        "policy's action (distance in normalised units)"
    )
    lines = text.wrap(head.split(" "), grid.shape[1] - 16, 13, " ")
    band = text.caption(np.full((2, grid.shape[1], 3), 255, np.uint8), lines, 13)
    return np.concatenate([band, grid], axis=0)


def nearest_pictures(ds, res: dict, out_dir) -> dict:
    """`nearest_image` as nearest.png (+ nearest.json: the distances)."""
    from PIL import Image

    img = nearest_image(ds, res)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / "nearest.png"
    Image.fromarray(img).save(png, format="PNG", optimize=True)
    js = out_dir / "nearest.json"
    cov = res["coverage"]
    js.write_text(
        json.dumps(
            {
                "note": "top: synthetic states with their labels; bottom: the "
                "nearest visited state with the trained policy's action there",
                "nearest_distance": cov["nearest_distance"],
                "nearest_index": cov["nearest_index"],
            },
            indent=1,
        )
    )
    return {"png": os.fspath(png), "json": os.fspath(js)}


def _same_width(images):
    w = max(i.shape[1] for i in images)
    return [
        np.pad(i, ((0, 0), (0, w - i.shape[1]), (0, 0)), constant_values=255)
        for i in images
    ]
