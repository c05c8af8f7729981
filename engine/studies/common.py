"""What every study shares: its directory in the run store, CSV and figure files,
progress events and a chunked evolution-strategy loop.

A study is a run kind. Its directory lives under the runs root, beside the HaDES
runs, in ``<root>/studies/<study>-<YYYYmmdd-HHMMSS>-<6 hex>/``::

    config.json     format "hades-study", kind "study", the study name, its
                    parameters, package versions, devices, host
    status.json     running / finished / failed (with the writer's pid: a study whose
                    writer died reads as failed, "process died")
    results.json    the headline numbers and the paths below (what `run_*` returns)
    <study>.csv     the numbers behind the plots, one row per measurement
    figures/        <name>.json (plotly, `plotly.io.from_json`) and <name>.png
    datasets/       datasets distilled inside the study (`engine.dataset` .npz)

Studies sit in their own sub-folder so that `RunStore.list` (HaDES runs with a
dataset and checkpoints) is unchanged; `list_studies(root)` lists them.

PNG: plotly needs kaleido (and a Chrome) to export images. Without it, figures are
drawn again with matplotlib's Agg backend by `plotly_to_png`, which knows the trace
types the studies use (scatter, bar, box, violin, heatmap) and plotly subplots.
"""

from __future__ import annotations

import contextlib
import csv
import math
import os
import secrets
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from engine.runs.lock import holder_alive, process_record
from engine.runs.store import (
    default_root,
    device_info,
    jsonable,
    package_versions,
    read_json,
    write_json,
)

FORMAT = "hades-study"
FORMAT_VERSION = 1
STUDIES_DIR = "studies"
ProgressFn = Callable[[dict], Any]


class StudyError(ValueError):
    """A study cannot run with these inputs; the message says what to change."""


# Progress ----------
def report(
    progress_fn: ProgressFn | None,
    study: str,
    stage: str,
    done: int = 0,
    total: int = 0,
    **extra,
) -> None:
    """Send one progress event: {study, stage, done, total, time, ...extra}."""
    if progress_fn is None:
        return
    progress_fn(
        {
            "study": study,
            "stage": stage,
            "done": done,
            "total": total,
            "time": time.time(),
            **extra,
        }
    )


# The study directory ----------
def studies_root(runs_root: str | os.PathLike | None = None) -> Path:
    root = Path(runs_root).expanduser() if runs_root is not None else default_root()
    return root / STUDIES_DIR


class StudyDir:
    """One study's directory: created at start, finished or failed at the end.

    Use as a context manager: an exception marks the study failed (and re-raises).
    """

    def __init__(self, study: str, params: dict, runs_root=None, name: str = ""):
        self.study = study
        base = studies_root(runs_root)
        base.mkdir(parents=True, exist_ok=True)
        for _ in range(10):
            sid = f"{study}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"
            path = base / sid
            try:
                path.mkdir()
                break
            except FileExistsError:
                continue
        else:  # pragma: no cover - ten collisions of 24 random bits
            raise RuntimeError("could not create a unique study directory")
        self.study_id = sid
        self.path = path
        self.figures = path / "figures"
        self.figures.mkdir()
        self.started = time.time()
        write_json(
            path / "config.json",
            {
                "format": FORMAT,
                "version": FORMAT_VERSION,
                "kind": "study",
                "study": study,
                "study_id": sid,
                "name": name,
                "params": params,
                "created": self.started,
                "created_iso": time.strftime(
                    "%Y-%m-%dT%H:%M:%S%z", time.localtime(self.started)
                ),
                "versions": package_versions(),
                "devices": device_info(),
                "host": socket.gethostname(),
            },
        )
        self.status("running")

    def status(self, status: str, message: str = "", **extra) -> None:
        write_json(
            self.path / "status.json",
            {
                "study_id": self.study_id,
                "study": self.study,
                "status": status,
                "message": message,
                "created": self.started,
                "updated": time.time(),
                **process_record(),
                **extra,
            },
        )

    def file(self, name: str) -> Path:
        return self.path / name

    def datasets_dir(self) -> Path:
        d = self.path / "datasets"
        d.mkdir(exist_ok=True)
        return d

    def finish(self, results: dict) -> dict:
        """Write results.json and status finished; returns the results (with paths)."""
        results = {
            "study": self.study,
            "study_id": self.study_id,
            "study_dir": str(self.path),
            "seconds": round(time.time() - self.started, 2),
            **results,
        }
        write_json(self.path / "results.json", results)
        self.status("finished", seconds=results["seconds"])
        return jsonable(results)

    def __enter__(self) -> StudyDir:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            msg = (
                "interrupted"
                if exc_type is KeyboardInterrupt
                else (f"{exc_type.__name__}: {exc}")
            )
            with contextlib.suppress(OSError):
                self.status("failed", msg)


def read_study_status(path: str | os.PathLike) -> dict:
    """status.json; a running study whose writer is gone reads as failed."""
    st = dict(
        read_json(Path(path) / "status.json")
        or {"status": "failed", "message": "status.json is missing or unreadable"}
    )
    if st.get("status") == "running" and not holder_alive(st):
        st.update(status="failed", message="process died")
    return st


def list_studies(runs_root=None, study: str | None = None) -> list[dict]:
    """Studies under the runs root, newest first: config, status and results."""
    base = studies_root(runs_root)
    out = []
    if not base.is_dir():
        return out
    for d in sorted(base.iterdir(), reverse=True):
        cfg = read_json(d / "config.json")
        if not cfg or cfg.get("format") != FORMAT:
            continue
        if study is not None and cfg.get("study") != study:
            continue
        out.append(
            {
                "study_id": d.name,
                "study": cfg.get("study"),
                "dir": str(d),
                "created": cfg.get("created"),
                "params": cfg.get("params"),
                "status": read_study_status(d),
                "results": read_json(d / "results.json"),
            }
        )
    out.sort(key=lambda r: r.get("created") or 0, reverse=True)
    return out


def load_figure(path: str | os.PathLike):
    """A saved plotly figure (the .json written by `save_figure`)."""
    import plotly.io as pio

    return pio.from_json(Path(path).read_text())


# Tables ----------
def write_csv(path: str | os.PathLike, rows: list[dict]) -> str:
    """Rows of dicts to CSV (columns in order of first appearance)."""
    cols: list[str] = []
    for r in rows:
        for k in r:
            if k not in cols:
                cols.append(k)
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        for r in rows:
            w.writerow({k: _cell(r.get(k)) for k in cols})
    os.replace(tmp, path)
    return str(path)


def _cell(v):
    if isinstance(v, float | np.floating):
        v = float(v)
        return "" if not math.isfinite(v) else f"{v:.6g}"
    if isinstance(v, np.integer):
        return int(v)
    return "" if v is None else v


def summary(values) -> dict:
    """mean, std, median, min, max of a list of numbers (floats)."""
    a = np.asarray(values, np.float64)
    return {
        "mean": float(a.mean()),
        "std": float(a.std()),
        "median": float(np.median(a)),
        "min": float(a.min()),
        "max": float(a.max()),
        "n": int(a.size),
    }


# Figures ----------
def save_figure(fig, directory: str | os.PathLike, name: str) -> dict:
    """Write `<name>.json` (plotly) and `<name>.png`; returns their paths.

    PNG via kaleido when it is installed, else via matplotlib (`plotly_to_png`); when
    neither can draw it the path is None and `png_error` says why.
    """
    directory = Path(directory)
    jpath = directory / f"{name}.json"
    tmp = directory / f".{name}.json.tmp"
    tmp.write_text(fig.to_json())
    os.replace(tmp, jpath)
    ppath = directory / f"{name}.png"
    out: dict[str, Any] = {"json": str(jpath), "png": str(ppath)}
    try:
        write_png(fig, ppath)
    except Exception as e:  # noqa: BLE001 - a missing picture never fails a study
        out["png"] = None
        out["png_error"] = f"{type(e).__name__}: {e}"
    return out


def write_png(fig, path: str | os.PathLike) -> None:
    try:
        import kaleido  # noqa: F401
    except ImportError:
        plotly_to_png(fig, path)
        return
    fig.write_image(str(path))


_PALETTE = (
    "#636efa",
    "#ef553b",
    "#00cc96",
    "#ab63fa",
    "#ffa15a",
    "#19d3f3",
    "#ff6692",
    "#b6e880",
    "#ff97ff",
    "#fecb52",
)


def _axis_suffix(ref: str | None) -> str:
    return "" if not ref or ref in ("x", "y") else ref[1:]


def plotly_to_png(fig, path: str | os.PathLike, dpi: int = 100) -> None:
    """Draw a plotly figure with matplotlib (Agg) and save it as PNG.

    Supports Scatter (lines, markers, error_y), Bar, Box, Violin and Heatmap traces,
    subplot domains, axis titles, log axes, hidden axes, the figure title and
    paper-referenced annotations (subplot titles).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    lay = fig.layout
    width = lay.width or 1000
    height = lay.height or 500
    mfig = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    FigureCanvasAgg(mfig)
    left, right, bottom, top = 0.07, 0.99, 0.12, 0.86
    axes: dict[tuple[str, str], Any] = {}
    cats: dict[tuple[str, str], list] = {}
    legend_axes = set()

    def get_ax(xref, yref):
        key = (_axis_suffix(xref), _axis_suffix(yref))
        if key in axes:
            return axes[key], key
        xa = lay[f"xaxis{key[0]}"]
        ya = lay[f"yaxis{key[1]}"]
        x0, x1 = xa.domain or (0, 1)
        y0, y1 = ya.domain or (0, 1)
        w, h = right - left, top - bottom
        rect = [
            left + x0 * w,
            bottom + y0 * h,
            (x1 - x0) * w * 0.94,
            (y1 - y0) * h * 0.9,
        ]
        ax = mfig.add_axes(rect)
        if xa.title and xa.title.text:
            ax.set_xlabel(xa.title.text, fontsize=9)
        if ya.title and ya.title.text:
            ax.set_ylabel(ya.title.text, fontsize=9)
        if xa.type == "log":
            ax.set_xscale("log", base=2 if xa.dtick == math.log10(2) else 10)
        if ya.type == "log":
            ax.set_yscale("log")
        if xa.visible is False or xa.showticklabels is False:
            ax.set_xticks([])
        if ya.visible is False or ya.showticklabels is False:
            ax.set_yticks([])
        ax.tick_params(labelsize=8)
        axes[key] = ax
        cats[key] = list(xa.categoryarray) if xa.categoryarray is not None else []
        return ax, key

    def positions(key, xs):
        pos = []
        for x in xs:
            if x not in cats[key]:
                cats[key].append(x)
            pos.append(cats[key].index(x))
        return pos

    for i, tr in enumerate(fig.data):
        ax, key = get_ax(getattr(tr, "xaxis", None), getattr(tr, "yaxis", None))
        color = None
        marker = getattr(tr, "marker", None)
        if marker is not None and isinstance(marker.color, str):
            color = marker.color
        line = getattr(tr, "line", None)
        if color is None and line is not None and isinstance(line.color, str):
            color = line.color
        color = color or _PALETTE[i % len(_PALETTE)]
        label = tr.name if tr.showlegend is not False and tr.name else None
        kind = tr.type
        if kind == "scatter":
            x = np.asarray(tr.x if tr.x is not None else range(len(tr.y)))
            y = np.asarray(tr.y, np.float64)
            mode = tr.mode or "lines+markers"
            if x.dtype.kind in "OUS":
                x = np.asarray(positions(key, list(x)))
            dashed = line is not None and line.dash in ("dash", "dot", "dashdot")
            ls = ("--" if dashed else "-") if "lines" in mode else "None"
            mk = "o" if "markers" in mode else None
            err = None
            if tr.error_y is not None and tr.error_y.array is not None:
                err = np.asarray(tr.error_y.array, np.float64)
            if err is not None:
                ax.errorbar(
                    x,
                    y,
                    yerr=err,
                    color=color,
                    label=label,
                    marker=mk,
                    ms=4,
                    capsize=3,
                    linestyle=ls,
                )
            else:
                ax.plot(x, y, color=color, label=label, marker=mk, ms=4, linestyle=ls)
        elif kind == "bar":
            x = list(tr.x)
            pos = positions(key, x)
            err = (
                np.asarray(tr.error_y.array, np.float64)
                if tr.error_y is not None and tr.error_y.array is not None
                else None
            )
            nbars = sum(
                1
                for t in fig.data
                if t.type == "bar"
                and (_axis_suffix(t.xaxis), _axis_suffix(t.yaxis)) == key
            )
            j = sum(
                1
                for t in fig.data[:i]
                if t.type == "bar"
                and (_axis_suffix(t.xaxis), _axis_suffix(t.yaxis)) == key
            )
            bw = 0.8 / max(nbars, 1)
            mc = marker.color if marker is not None else None
            bar_color = (
                list(mc)
                if isinstance(mc, list | tuple) and len(mc) == len(x)
                else color
            )
            ax.bar(
                np.asarray(pos) - 0.4 + bw * (j + 0.5),
                np.asarray(tr.y, float),
                width=bw,
                yerr=err,
                color=bar_color,
                label=label,
                capsize=3,
            )
        elif kind in ("box", "violin"):
            y = np.asarray(tr.y, np.float64)
            xs = list(tr.x) if tr.x is not None else [tr.name or str(i)] * len(y)
            groups: dict = {}
            for xv, yv in zip(xs, y, strict=True):
                groups.setdefault(xv, []).append(yv)
            pos = positions(key, list(groups))
            data = [np.asarray(v) for v in groups.values()]
            if kind == "box":
                bp = ax.boxplot(
                    data, positions=pos, widths=0.5, patch_artist=True, showfliers=False
                )
                for b in bp["boxes"]:
                    b.set_facecolor(color)
                    b.set_alpha(0.4)
                jitter = np.random.default_rng(i)
                for p, d in zip(pos, data, strict=True):
                    xs = p + jitter.uniform(-0.12, 0.12, len(d))
                    ax.plot(xs, d, "o", color=color, ms=3, alpha=0.8)
            else:
                ok = [k for k, d in enumerate(data) if np.ptp(d) > 0]
                if ok:
                    vp = ax.violinplot(
                        [data[k] for k in ok],
                        positions=[pos[k] for k in ok],
                        showmedians=True,
                    )
                    for b in vp["bodies"]:
                        b.set_facecolor(color)
                        b.set_alpha(0.5)
                for p, d in zip(pos, data, strict=True):
                    ax.plot([p] * len(d), d, ".", color=color, ms=3)
            if label:
                ax.plot([], [], "s", color=color, label=label)
        elif kind == "heatmap":
            z = np.asarray(tr.z, np.float64)
            kw = {}
            if tr.zmin is not None and tr.zmax is not None:
                kw = {"vmin": tr.zmin, "vmax": tr.zmax}
            ya = lay[f"yaxis{key[1]}"]
            origin = "upper" if ya.autorange == "reversed" else "lower"
            ax.imshow(
                z, cmap=_colormap(tr.colorscale), aspect="auto", origin=origin, **kw
            )
            ax.set_xticks([])
            ax.set_yticks([])
        else:
            continue
        if label and kind != "heatmap":
            legend_axes.add(key)
    # Axes that plotly links (shared_yaxes / matches) share their limits here.
    groups: dict[str, list] = {}
    for (xs, ys), ax in axes.items():
        ya = lay[f"yaxis{ys}"]
        groups.setdefault(_axis_suffix(ya.matches) if ya.matches else ys, []).append(ax)
    for group in groups.values():
        if len(group) > 1:
            lims = [a.get_ylim() for a in group]
            lo, hi = min(v[0] for v in lims), max(v[1] for v in lims)
            for a in group:
                a.set_ylim(lo, hi)
    for key, ax in axes.items():
        if cats[key]:
            ax.set_xticks(range(len(cats[key])))
            labels = [str(c) for c in cats[key]]
            crowded = len(labels) > 6 or sum(map(len, labels)) > 48
            ax.set_xticklabels(
                labels,
                fontsize=8,
                rotation=25 if crowded else 0,
                ha="right" if crowded else "center",
            )
        if key in legend_axes:
            ax.legend(fontsize=7, loc="best")
        ax.grid(alpha=0.3)
    for shape in lay.shapes or ():
        if shape.type == "line" and shape.y0 == shape.y1:
            ax, _ = get_ax(shape.xref, shape.yref)
            ax.axhline(shape.y0, color=(shape.line.color or "gray"), ls="--", lw=1)
    for ann in lay.annotations or ():
        if ann.xref == "paper" and ann.yref == "paper" and ann.text:
            mfig.text(
                left + ann.x * (right - left),
                bottom + ann.y * (top - bottom) + 0.01,
                _strip_html(ann.text),
                ha="center",
                va="bottom",
                fontsize=9,
            )
    if lay.title and lay.title.text:
        mfig.suptitle(_strip_html(lay.title.text), fontsize=11)
    mfig.savefig(os.fspath(path), dpi=dpi, bbox_inches="tight", pad_inches=0.15)


def _colormap(colorscale):
    """A matplotlib colormap from a plotly colorscale ((position, colour), ...)."""
    from matplotlib.colors import LinearSegmentedColormap, to_rgb

    if not colorscale:
        return "viridis"
    stops = []
    for pos, col in colorscale:
        col = str(col).strip()
        if col.startswith("rgb"):
            vals = [
                float(v)
                for v in col[col.index("(") + 1 : col.index(")")].split(",")[:3]
            ]
            rgb = tuple(v / 255.0 for v in vals)
        else:
            rgb = to_rgb(col)
        stops.append((float(pos), rgb))
    return LinearSegmentedColormap.from_list("plotly", stops)


def _strip_html(text: str) -> str:
    import re

    return re.sub(r"<[^>]+>", " ", text.replace("<br>", "\n")).strip()


# Evolution of solutions that are not run-store datasets ----------
def evolve(driver, es_state, es_params, generations: int, on_chunk=None):
    """Run an `engine.driver.EsDriver` from generation 0 to `generations`.

    Returns (state, rows, evals): `rows` one metrics dict per generation, `evals`
    (generation, driver.evaluate(state, generation)) at generation 0, every
    `driver.eval_every` generations and the end. `on_chunk(gen, rows, evals)` is
    called after each chunk.
    """
    rows: list[dict] = []
    evals: list[tuple[int, Any]] = []
    if driver.evaluate is not None:
        evals.append((0, driver.evaluate(es_state, 0)))

    def progress(res):
        rows.extend(res.metrics)
        if res.evaluation is not None:
            evals.append((res.generation, res.evaluation))
        if on_chunk is not None:
            on_chunk(res.generation, rows, evals)

    es_state, _, _ = driver.run(es_state, es_params, 0, generations, progress)
    return es_state, rows, evals


# HaDES runs inside a study ----------
def distil(
    cfg, progress_fn: ProgressFn | None = None, study: str = "", label: str = ""
):
    """Run HaDES for `cfg` (a `Distiller`, compiled programs shared in-process).

    Returns (distiller, es_state, rows, evals): `rows` one dict per generation
    (population fitness), `evals` (generation, mean-dataset return) pairs at every
    `outer.eval_every` boundary and at the end.
    """
    from engine.runs.runner import shared_distiller

    d = shared_distiller(cfg)
    rows: list[dict] = []
    evals: list[tuple[int, float]] = []
    total = cfg.outer.generations

    def on_chunk(res):
        rows.extend(res.metrics)
        if res.mean_dataset_return is not None:
            evals.append((res.generation, res.mean_dataset_return))
        report(
            progress_fn,
            study,
            f"distil {label}".strip(),
            res.generation,
            total,
            mean_dataset_return=res.mean_dataset_return,
        )

    es_state, _, _ = d.run(progress_fn=on_chunk)
    return d, es_state, rows, evals


def load_dataset_ref(ref, runs_root=None):
    """A `Dataset` from a Dataset, an .npz path, a paper .pkl or a run id/dir."""
    from engine import dataset as ds_lib

    if isinstance(ref, ds_lib.Dataset):
        return ref
    p = Path(os.fspath(ref)).expanduser()
    if p.suffix == ".pkl":
        from engine.paper_import import import_paper

        return import_paper(p)[0]
    if p.is_file():
        return ds_lib.load(p)
    from engine.runs import RunStore

    store = RunStore(runs_root) if runs_root is not None else RunStore()
    return ds_lib.load(store.resolve(os.fspath(ref)) / "dataset.npz")
