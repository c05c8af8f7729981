"""A talk clip: the dataset evolving over a run, then a policy trained on it acting.

Part 1, one still per checkpoint: the synthetic states drawn as the environment
shows them (left) beside the run's fitness curve with a marker at that generation
(right), captioned with the environment, N, the generation and the mean-dataset
return. Part 2: a fresh policy trained on the final dataset acting in the
environment (`engine.render.episode.rollout_frames`), beside the full curve.

Written as H.264 (`write_video`) and, on request, a GIF at half size. Inputs are
plain: `[(generation, Dataset)]` oldest first (the last is the final dataset) and
the run's metrics rows; `engine/talk_cli.py` and the dashboard gather them from a
run folder or a demo folder.
"""

from __future__ import annotations

import math
import time

import numpy as np
from PIL import Image, ImageDraw

from engine.dataset import Dataset
from engine.render import text
from engine.render.gl import RenderError

SIZE = (960, 540)
FPS = 15.0
HEADER = 60
SPLIT = 0.6  # share of the width for the pictures
MAX_SNAPSHOTS = 24
DATASET_SECONDS = 8.0  # part 1 lasts about this long, whatever the checkpoint count
FINAL_HOLD_SECONDS = 1.0
GIF_SCALE = 0.5
GIF_FPS = 10.0
INK = (25, 25, 25)
GREY = (95, 95, 95)


class TalkError(ValueError):
    """A talk clip cannot be made from these inputs; the message says why."""


def select_generations(gens: list[int], limit: int = MAX_SNAPSHOTS) -> list[int]:
    """At most `limit` generations, evenly spread, the first and last kept."""
    gens = sorted(set(int(g) for g in gens))
    if len(gens) <= limit:
        return gens
    step = (len(gens) - 1) / (limit - 1)
    return sorted({gens[round(i * step)] for i in range(limit)})


def hold_frames(n_snapshots: int, fps: float = FPS) -> int:
    """Frames each checkpoint's still is shown."""
    return int(min(fps, max(3, round(fps * DATASET_SECONDS / max(1, n_snapshots)))))


def expected_frames(n_snapshots: int, rollout_frames: int, fps: float = FPS) -> int:
    """The clip's frame count for `n_snapshots` stills and a rollout part of
    `rollout_frames` frames (after resampling to `fps`)."""
    return (
        n_snapshots * hold_frames(n_snapshots, fps)
        + round(FINAL_HOLD_SECONDS * fps)
        + rollout_frames
    )


def generation_rows(rows: list[dict]) -> list[dict]:
    return [r for r in rows if "event" not in r and r.get("generation") is not None]


def return_at(rows: list[dict], generation: int) -> tuple[float | None, str]:
    """(the mean-dataset return at or before `generation`, what it is), falling
    back to the population mean fitness."""
    best = None
    for r in generation_rows(rows):
        if r["generation"] <= generation and r.get("mean_dataset_return") is not None:
            best = r
    if best is not None:
        return float(best["mean_dataset_return"]), "mean-dataset return"
    pop = [
        r
        for r in generation_rows(rows)
        if r["generation"] <= generation and r.get("fitness_mean") is not None
    ]
    if pop:
        return float(pop[-1]["fitness_mean"]), "population mean fitness"
    return None, ""


# Pictures ------------------------------------------------------------------------
def _unnormalise_with(final: Dataset):
    """raw(ds) for every snapshot: each dataset's own statistics, else statistics
    re-estimated once from the final dataset (running normalisation stores none),
    so every still is drawn on the same scale."""
    from engine.render.states import EPS, raw_states, running_stats

    stats = None
    if final.obs_mean is None and final.obs_norm == "running":
        stats = running_stats(final)

    def raw(ds: Dataset) -> np.ndarray:
        if stats is None or ds.obs_mean is not None:
            return raw_states(ds, estimate=False)[0]
        shape = ds.spec.obs_shape
        mean = np.asarray(stats[0], np.float64).reshape(shape)
        var = np.asarray(stats[1], np.float64).reshape(shape)
        return np.asarray(ds.states, np.float64) * np.sqrt(var + EPS) + mean

    return raw


def _fit(img: np.ndarray, box: tuple[int, int], bg=(255, 255, 255)) -> np.ndarray:
    """`img` scaled to fit in `box` (w, h), centred on a `bg` canvas."""
    w, h = box
    ih, iw = img.shape[:2]
    s = min(w / iw, h / ih)
    nw, nh = max(1, int(iw * s)), max(1, int(ih * s))
    resample = Image.NEAREST if s >= 2 else Image.LANCZOS
    small = Image.fromarray(np.ascontiguousarray(img[..., :3])).resize(
        (nw, nh), resample
    )
    canvas = Image.new("RGB", (w, h), bg)
    canvas.paste(small, ((w - nw) // 2, (h - nh) // 2))
    return np.asarray(canvas)


def dataset_panel(ds: Dataset, raw: np.ndarray, box: tuple[int, int]) -> np.ndarray:
    """The states of `ds` as a grid of labelled pictures fitted into `box`, with
    the column count that draws them largest."""
    from engine.render.states import state_images

    n = ds.size
    cell = 200 if n <= 4 else 140 if n <= 16 else 100
    cells = state_images(ds, (cell, cell), raw=raw)
    ch = max(c.shape[0] for c in cells)
    cw = max(c.shape[1] for c in cells)
    pad = 6

    def shape(cols):
        rows = math.ceil(n / cols)
        return cols * cw + (cols + 1) * pad, rows * ch + (rows + 1) * pad

    cols = max(
        range(1, n + 1),
        key=lambda c: min(box[0] / shape(c)[0], box[1] / shape(c)[1]),
    )
    grid = Image.new("RGB", shape(cols), "white")
    for k, c in enumerate(cells):
        r, q = divmod(k, cols)
        grid.paste(Image.fromarray(c), (pad + q * (cw + pad), pad + r * (ch + pad)))
    return _fit(np.asarray(grid), box)


class Curve:
    """The fitness curve drawn once (matplotlib); a marker per frame (Pillow)."""

    def __init__(self, rows: list[dict], box: tuple[int, int]):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        w, h = box
        fig = Figure(figsize=(w / 100, h / 100), dpi=100)
        canvas = FigureCanvasAgg(fig)
        ax = fig.add_axes([0.16, 0.14, 0.8, 0.74])
        g = generation_rows(rows)
        xs = [r["generation"] for r in g]
        pop = [r.get("fitness_mean") for r in g]
        ax.plot(xs, [np.nan if v is None else v for v in pop], lw=1.6, color="#4c78a8")
        ev = [(r["generation"], r.get("mean_dataset_return")) for r in g]
        ev = [(x, y) for x, y in ev if y is not None]
        if ev:
            ax.plot(*zip(*ev, strict=True), "o-", ms=4, lw=1.2, color="#f58518")
        ax.set_xlabel("generation", fontsize=10)
        ax.set_ylabel("return", fontsize=10)
        ax.tick_params(labelsize=9)
        ax.set_title("fitness over the run", fontsize=11)
        ax.legend(
            ["population mean"] + (["mean dataset"] if ev else []),
            fontsize=8,
            loc="lower right",
        )
        ax.grid(alpha=0.3)
        if not xs:
            ax.set_xlim(0, 1)
        canvas.draw()
        self.image = np.asarray(canvas.buffer_rgba())[..., :3].copy()
        self._ax = ax
        self._fig_h = self.image.shape[0]
        (self._y0, self._y1) = ax.get_ylim()

    def at(self, generation: int | None) -> np.ndarray:
        """The curve with a vertical marker at `generation`."""
        img = Image.fromarray(self.image)
        if generation is not None:
            x, _ = self._ax.transData.transform((generation, self._y0))
            _, top = self._ax.transData.transform((generation, self._y1))
            _, bottom = self._ax.transData.transform((generation, self._y0))
            d = ImageDraw.Draw(img)
            px = int(round(x))
            d.line(
                [(px, self._fig_h - top), (px, self._fig_h - bottom)],
                fill=(214, 39, 40),
                width=3,
            )
        return np.asarray(img)


def _header(width: int, title: str, sub: str) -> np.ndarray:
    band = Image.new("RGB", (width, HEADER), "white")
    text.draw(band, (14, 8), text.fit(title, width - 28, 22), 22, fill=INK)
    text.draw(band, (14, 36), text.fit(sub, width - 28, 15), 15, fill=GREY)
    return np.asarray(band)


def _frame(header: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    return np.concatenate([header, np.concatenate([left, right], axis=1)], axis=0)


def resample(frames: np.ndarray, src_fps: float, fps: float) -> np.ndarray:
    """Frames shown at `fps` that play as `frames` did at `src_fps`."""
    n = max(1, round(len(frames) * fps / src_fps))
    idx = np.minimum((np.arange(n) * src_fps / fps).astype(int), len(frames) - 1)
    return frames[idx]


# The clip ------------------------------------------------------------------------
def talk_frames(
    snapshots: list[tuple[int, Dataset]],
    rows: list[dict],
    seed: int = 0,
    size=SIZE,
    fps: float = FPS,
    frame_cap: int = 150,
    progress_fn=None,
):
    """(frames (T, H, W, 3) uint8, info) of the clip; see the module docstring."""
    if not snapshots:
        raise TalkError(
            "no checkpoints: the talk clip shows the dataset at the run's checkpoints"
        )
    say = progress_fn or (lambda frac, msg: None)
    t0 = time.perf_counter()
    w, h = int(size[0]) // 2 * 2, int(size[1]) // 2 * 2
    lw = int(w * SPLIT) // 2 * 2
    box_l, box_r = (lw, h - HEADER), (w - lw, h - HEADER)
    final_gen, final = snapshots[-1]
    total = max(
        [final_gen] + [r["generation"] for r in generation_rows(rows)],
    )
    curve = Curve(rows, box_r)
    raw = _unnormalise_with(final)
    hold = hold_frames(len(snapshots), fps)
    frames = []
    head = f"{final.env}   N = {final.size}"
    for k, (gen, ds) in enumerate(snapshots):
        say(0.05 + 0.45 * k / len(snapshots), f"drawing generation {gen}")
        ret, what = return_at(rows, gen)
        sub = f"the evolved dataset at generation {gen} of {total}" + (
            f"   {what} {ret:.1f}" if ret is not None else ""
        )
        still = _frame(
            _header(w, f"{head}   generation {gen}", sub),
            dataset_panel(ds, raw(ds), box_l),
            curve.at(gen),
        )
        count = hold + (
            round(FINAL_HOLD_SECONDS * fps) if k == len(snapshots) - 1 else 0
        )
        frames.extend([still] * count)
    n_data = len(frames)
    say(0.55, "training a policy on the final dataset and rolling it out")
    from engine.render.episode import rollout_frames

    rframes, rinfo = rollout_frames(final, seed=seed, frame_cap=frame_cap, size=box_l)
    say(0.85, "composing the rollout")
    rframes = resample(rframes, rinfo["fps"], fps)
    sub = (
        f"a fresh policy trained on the final dataset (generation {final_gen}): "
        f"episode return {rinfo['episode_return']:.1f} over {rinfo['steps']} steps"
    )
    header = _header(w, f"{head}   policy trained on the final dataset", sub)
    right = curve.at(final_gen)
    for f in rframes:
        frames.append(_frame(header, _fit(f, box_l, bg=(0, 0, 0)), right))
    out = np.stack(frames)
    info = {
        "env": final.env,
        "size": final.size,
        "generations": [g for g, _ in snapshots],
        "final_generation": final_gen,
        "fps": float(fps),
        "frames": int(len(out)),
        "dataset_frames": n_data,
        "rollout_frames": int(len(rframes)),
        "hold_frames": hold,
        "episode_return": rinfo["episode_return"],
        "steps": rinfo["steps"],
        "seed": seed,
        "frame_size": [w, h],
        "seconds": round(time.perf_counter() - t0, 2),
    }
    return out, info


def render_talk(
    snapshots: list[tuple[int, Dataset]],
    rows: list[dict],
    out_path,
    gif_path=None,
    **kw,
) -> dict:
    """Write the clip to `out_path` (.mp4 H.264, or .gif) and, with `gif_path`, a
    half-size GIF too; returns the info dict with `path` (and `gif`)."""
    from engine.render.video import write_gif, write_video

    frames, info = talk_frames(snapshots, rows, **kw)
    info["path"] = write_video(frames, out_path, info["fps"])
    if gif_path is not None:
        info["gif"] = write_gif(
            small_frames(frames, info["fps"]), gif_path, min(GIF_FPS, info["fps"])
        )
    return info


def small_frames(frames: np.ndarray, fps: float) -> np.ndarray:
    """Half-size frames at most `GIF_FPS` per second (GIFs grow fast)."""
    frames = resample(frames, fps, min(GIF_FPS, fps))
    h, w = frames.shape[1:3]
    size = (int(w * GIF_SCALE), int(h * GIF_SCALE))
    return np.stack(
        [np.asarray(Image.fromarray(f).resize(size, Image.LANCZOS)) for f in frames]
    )


__all__ = ["RenderError", "TalkError", "render_talk", "talk_frames"]
