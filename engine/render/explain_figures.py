"""PNG figures of an explain result (`engine.explain`), drawn with matplotlib (Agg).

The CLI writes them (`hades explain --out DIR`); the dashboard draws the same
results with plotly (`dashboard/charts_explain.py`). Every function takes the
result as a plain dict (`ExplainResult.to_dict()`, or the JSON file) and writes one
PNG plus a JSON of the numbers it shows.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

COLOURS = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2")
FULL = "#333333"


def _figure(width=8.0, height=4.2):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, data: dict, out_dir, name: str) -> dict:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / f"{name}.png"
    fig.savefig(png, bbox_inches="tight")
    js = out_dir / f"{name}.json"
    js.write_text(json.dumps(data, indent=1))
    return {"png": str(png), "json": str(js)}


def _title(res: dict, what: str) -> str:
    kind = "fixed init (HaDES-F)" if res.get("fixed_init") else "fresh inits"
    return f"{res['env']}  N = {res['size']}: {what} ({res['inits']} {kind})"


def importance(res: dict, out_dir) -> dict:
    """Bars: mean return without pair i and with pair i alone; dots: each init;
    dashed line: the whole dataset."""
    pairs = res["pairs"]
    n = len(pairs)
    x = np.arange(n)
    fig = _figure(max(6.0, 1.2 * n + 3), 4.2)
    ax = fig.add_subplot(111)
    for k, (key, label) in enumerate(
        (("without", "without pair i"), ("alone", "pair i alone"))
    ):
        means = [p[f"{key}_return"] for p in pairs]
        xs = x + (k - 0.5) * 0.38
        ax.bar(xs, means, 0.36, color=COLOURS[k], label=label)
        for i, p in enumerate(pairs):
            pts = p.get(f"{key}_per_init") or []
            ax.scatter(
                np.full(len(pts), xs[i]), pts, s=9, color="black", alpha=0.5, zorder=3
            )
    ax.axhline(res["full_return"], color=FULL, ls="--", lw=1.2, label="whole dataset")
    ax.set_xticks(x, [f"pair {p['index']}" for p in pairs])
    ax.set_ylabel("mean return")
    ax.set_title(_title(res, "pair importance"), fontsize=10)
    ax.legend(fontsize=8, loc="best")
    data = {
        "full_return": res["full_return"],
        "pairs": [
            {
                k: p[k]
                for k in (
                    "index",
                    "without_return",
                    "alone_return",
                    "without_per_init",
                    "alone_per_init",
                )
                if k in p
            }
            for p in pairs
        ],
    }
    return _save(fig, data, out_dir, "importance")


def label_sensitivity(res: dict, out_dir) -> dict:
    """Grouped bars: the mean return with pair i's label changed to each option."""
    pairs = res["pairs"]
    names = []
    for p in pairs:
        for k in p["label_sensitivity"]:
            if k not in names:
                names.append(k)
    n = len(pairs)
    width = 0.8 / max(1, len(names))
    fig = _figure(max(6.0, 1.2 * n + 3), 4.2)
    ax = fig.add_subplot(111)
    for k, name in enumerate(names):
        vals = [p["label_sensitivity"].get(name, np.nan) for p in pairs]
        xs = np.arange(n) - 0.4 + width * (k + 0.5)
        ax.bar(xs, vals, width * 0.95, color=COLOURS[k % len(COLOURS)], label=name)
    ax.axhline(
        res["full_return"], color=FULL, ls="--", lw=1.2, label="labels as evolved"
    )
    ax.set_xticks(np.arange(n), [f"pair {p['index']}" for p in pairs])
    ax.set_ylabel("mean return")
    what = (
        "label changed to each other action"
        if res.get("label_kind") != "continuous"
        else "label scaled"
    )
    ax.set_title(_title(res, what), fontsize=10)
    ax.legend(fontsize=8, loc="best", title="changed label", title_fontsize=8)
    data = {
        "full_return": res["full_return"],
        "label_sensitivity": {p["index"]: p["label_sensitivity"] for p in pairs},
    }
    return _save(fig, data, out_dir, "label_sensitivity")


def policy_map(res: dict, out_dir) -> dict:
    """Classic control: the action over a grid of two state dimensions with the
    synthetic states on top; otherwise the visited states (coverage projection)
    coloured by action."""
    pm, cov = res["policy_map"], res["coverage"]
    fig = _figure(6.8, 5.2)
    ax = fig.add_subplot(111)
    names = pm.get("action_names") or []
    if pm.get("kind") == "grid":
        z = np.asarray(pm["z"], np.float64)
        x, y = np.asarray(pm["x"]), np.asarray(pm["y"])
        if pm["discrete"]:
            from matplotlib.colors import ListedColormap

            cmap = ListedColormap(COLOURS[: max(2, len(names))])
            im = ax.pcolormesh(
                x, y, z, cmap=cmap, vmin=-0.5, vmax=len(names) - 0.5, shading="auto"
            )
            cb = fig.colorbar(im, ax=ax, ticks=range(len(names)))
            cb.ax.set_yticklabels(names, fontsize=8)
        else:
            im = ax.pcolormesh(x, y, z, cmap="coolwarm", shading="auto")
            fig.colorbar(im, ax=ax).set_label(pm["z_kind"], fontsize=8)
        vis = np.asarray(pm["visited"])
        ax.scatter(vis[:, 0], vis[:, 1], s=2, color="white", alpha=0.35)
        syn = np.asarray(pm["synthetic"])
        _stars(ax, syn, pm, names)
        for i, (a, b) in enumerate(syn):
            ax.annotate(f"{i}", (a, b), xytext=(5, 4), textcoords="offset points")
        ax.set_xlabel(f"{pm['dim_names'][0]} (dim {pm['dims'][0]})")
        ax.set_ylabel(f"{pm['dim_names'][1]} (dim {pm['dims'][1]})")
        ax.set_title(
            _title(res, "policy map") + f"\nothers held at the {pm['hold_source']}",
            fontsize=9,
        )
        data = {k: pm[k] for k in ("dims", "dim_names", "x", "y", "z", "z_kind")}
        data["synthetic"] = pm["synthetic"]
    else:
        pts = np.asarray(cov["visited_2d"])
        if pm["discrete"]:
            act = np.asarray(pm["action"], int)
            for a, name in enumerate(names):
                sel = act == a
                ax.scatter(
                    pts[sel, 0],
                    pts[sel, 1],
                    s=4,
                    color=COLOURS[a % len(COLOURS)],
                    label=name,
                )
            ax.legend(fontsize=8, markerscale=3)
        else:
            val = np.asarray(pm["value"])[:, 0]
            sc = ax.scatter(pts[:, 0], pts[:, 1], s=4, c=val, cmap="coolwarm")
            fig.colorbar(sc, ax=ax).set_label(f"action mean ({names[0]})", fontsize=8)
        syn = np.asarray(cov["synthetic_2d"])
        _stars(ax, syn, pm, names)
        for i, (a, b) in enumerate(syn):
            ax.annotate(f"{i}", (a, b), xytext=(5, 4), textcoords="offset points")
        ev = cov["explained_variance"]
        ax.set_xlabel(f"PC 1 ({100 * ev[0]:.0f}% of variance)")
        ax.set_ylabel(f"PC 2 ({100 * ev[1]:.0f}%)")
        ax.set_title(_title(res, "policy on visited states"), fontsize=9)
        data = {"visited_2d": cov["visited_2d"], "action": pm.get("action")}
    return _save(fig, data, out_dir, "policy_map")


def _stars(ax, syn, pm, names) -> None:
    """Synthetic states as stars filled with their label's colour."""
    acts = pm.get("synthetic_action") or []
    if pm["discrete"] and len(acts) == len(syn):
        colours = [COLOURS[int(a) % len(COLOURS)] for a in acts]
    else:
        colours = "white"
    ax.scatter(
        syn[:, 0],
        syn[:, 1],
        s=160,
        c=colours,
        marker="*",
        edgecolors="black",
        linewidths=1.0,
        zorder=4,
    )


def coverage(res: dict, out_dir) -> dict:
    """Visited and synthetic states in one PCA projection, each synthetic state
    joined to its nearest visited state (distance in normalised units)."""
    cov = res["coverage"]
    fig = _figure(6.8, 5.2)
    ax = fig.add_subplot(111)
    vis = np.asarray(cov["visited_2d"])
    ax.scatter(vis[:, 0], vis[:, 1], s=3, color="#9ecae1", label="visited")
    syn = np.asarray(cov["synthetic_2d"])
    ax.scatter(
        syn[:, 0], syn[:, 1], s=90, color="#d62728", marker="*", label="synthetic"
    )
    near = np.asarray(cov.get("nearest_2d") or np.zeros((0, 2)))
    for (a, b), (c, d) in zip(syn, near, strict=False):
        ax.plot([a, c], [b, d], color="#d62728", lw=0.8, ls=":")
    for i, (a, b) in enumerate(syn):
        d = cov["nearest_distance"][i]
        ax.annotate(f"{i}: {d:.2f}", (a, b), xytext=(5, 4), textcoords="offset points")
    ev = cov["explained_variance"]
    ax.set_xlabel(f"PC 1 ({100 * ev[0]:.0f}% of variance)")
    ax.set_ylabel(f"PC 2 ({100 * ev[1]:.0f}%)")
    ax.set_title(
        _title(res, "coverage")
        + f"\nlabels: distance to the nearest visited state (visited states are "
        f"{cov['typical_spacing']:.2f} apart)",
        fontsize=9,
    )
    ax.legend(fontsize=8, markerscale=1.5)
    data = {
        k: cov[k]
        for k in (
            "nearest_distance",
            "nearest_index",
            "typical_spacing",
            "explained_variance",
            "synthetic_2d",
        )
    }
    return _save(fig, data, out_dir, "coverage")


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


FIGURES = {
    "importance": importance,
    "label_sensitivity": label_sensitivity,
    "policy_map": policy_map,
    "coverage": coverage,
}


def write_all(res: dict, out_dir, ds=None) -> dict:
    """Every figure of `res` into `out_dir`; {name: {"png", "json"}} and, for a
    figure that failed, {name: {"error": message}}."""
    out = {}
    for name, fn in FIGURES.items():
        out[name] = fn(res, out_dir)
    if ds is not None:
        try:
            out["nearest"] = nearest_pictures(ds, res, out_dir)
        except Exception as e:  # noqa: BLE001 - no GL for Brax pictures, ...
            out["nearest"] = {"error": f"{type(e).__name__}: {e}"}
    return out
