"""Synthetic states as pictures: one image per state with its label, and a figure.

States live in the normalised observation space the policy sees; they are first
un-normalised with the dataset's statistics (`raw_states`). A dataset with running
normalisation stores no statistics: by default they are re-estimated as the policy
would see them at the end of one evaluation (a policy trained on the dataset, rolled
out with the dataset's fitness settings, mean/var of every observation it met).
"""

from __future__ import annotations

import math
import os

import numpy as np
from PIL import Image

from engine.dataset import Dataset
from engine.render import classic, minatar, text

EPS = 1e-8  # as engine.normalize (not imported here: it pulls in JAX)

CLASSIC_NOTES = {
    "CartPole-v1": "blue: cart velocity   purple: pole-tip velocity   green: label "
    "(push)   red ticks: x = +-2.4 limits",
    "Acrobot-v1": "purple: joint and tip velocities   green: label torque on the "
    "middle joint   dashed: goal height",
    "MountainCar-v0": "blue: velocity along the slope   green: label (push)   "
    "flag: goal",
    "MountainCarContinuous-v0": "blue: velocity along the slope   green: label force   "
    "flag: goal",
    "Pendulum-v1": "purple: tip velocity   green: label torque (counter-clockwise > 0)",
}
BRAX_NOTE = (
    "pose from the observed joint positions with the root at x = 0 "
    "(velocities not drawn); bars: action labels, dashed: the executed range "
    "[-1, 1] (the env clips actions)"
)


def running_stats(ds: Dataset, seed: int = 0):
    """(mean, var) of the observations a policy trained on `ds` meets in one
    evaluation (its fitness rollout): the running statistics it would end with."""
    import jax

    from engine.evaluate import config_for_dataset, train_policy
    from engine.rollout import rollout

    cfg = config_for_dataset(ds)
    k_train, k_roll = jax.random.split(jax.random.PRNGKey(seed))
    problem, params = train_policy(ds, k_train, cfg)
    f = cfg.fitness

    @jax.jit
    def run(key, params):
        _, obs = rollout(
            key,
            problem.env,
            problem.policy_fn(params),
            f.num_envs,
            f.num_steps,
            problem.norm,
            record_fn=lambda s, o, a, r, d: o,
        )
        obs = obs.reshape((-1, *problem.spec.obs_shape))
        return obs.mean(0), obs.var(0)

    mean, var = run(k_roll, params)
    return np.asarray(mean, np.float32), np.asarray(var, np.float32)


def raw_states(ds: Dataset, estimate: bool = True) -> tuple[np.ndarray, str]:
    """(raw observations (N, *obs_shape), a note saying how they were obtained)."""
    shape = ds.spec.obs_shape
    states = np.asarray(ds.states, np.float64)
    if ds.obs_mean is not None and ds.obs_var is not None:
        mean = np.asarray(ds.obs_mean, np.float64).reshape(shape)
        var = np.asarray(ds.obs_var, np.float64).reshape(shape)
        return (
            states * np.sqrt(var + EPS) + mean,
            f"un-normalised with the dataset's {ds.obs_norm} statistics",
        )
    if ds.obs_norm == "none":
        return states, "raw observations (no normalisation)"
    if estimate:
        mean, var = running_stats(ds)
        mean = mean.astype(np.float64).reshape(shape)
        var = var.astype(np.float64).reshape(shape)
        return (
            states * np.sqrt(var + EPS) + mean,
            "un-normalised with running statistics re-estimated from one "
            "evaluation rollout (none stored)",
        )
    return (
        states,
        f"{ds.obs_norm} normalisation without stored statistics: drawn as stored",
    )


def _softmax(x):
    z = np.exp(x - x.max(-1, keepdims=True))
    return z / z.sum(-1, keepdims=True)


def label_text(ds: Dataset, i: int) -> str:
    spec = ds.spec
    if ds.label_kind == "onehot":
        return spec.action_name(int(ds.labels[i]))
    if ds.label_kind == "soft":
        p = _softmax(np.asarray(ds.labels[i], np.float64))
        return " ".join(f"{spec.action_name(a)} {p[a]:.2f}" for a in range(len(p)))
    v = np.asarray(ds.labels[i], np.float64)
    return " ".join(f"{spec.action_name(a)} {v[a]:+.2f}" for a in range(len(v)))


def label_action(ds: Dataset, i: int):
    """The label as the drawing shows it: action index, or continuous values."""
    if ds.label_kind == "onehot":
        return int(ds.labels[i])
    if ds.label_kind == "soft":
        return int(np.argmax(ds.labels[i]))
    return np.asarray(ds.labels[i], np.float64)


def _feature_words(ds: Dataset, raw: np.ndarray, count: int | None = None) -> list[str]:
    spec = ds.spec
    n = raw.size if count is None else min(count, raw.size)
    return [f"{spec.feature_name(j)} {raw[j]:+.2f}" for j in range(n)]


def state_images(
    ds: Dataset, size=(240, 240), raw: np.ndarray | None = None, estimate: bool = True
) -> list[np.ndarray]:
    """One RGB image per state: the state as the env would show it, and its label.

    Args:
        ds: the dataset.
        size: (width, height) of the drawing of one state; Brax cells add torque bars
            to the right and every cell a caption below.
        raw: un-normalised states to draw (default: `raw_states(ds)`).
        estimate: re-estimate missing running statistics (see `raw_states`).
    """
    spec = ds.spec
    if raw is None:
        raw, _ = raw_states(ds, estimate)
    w, h = int(size[0]), int(size[1])
    fs = max(10, min(13, w // 20))
    pictures, captions = [], []
    if spec.family == "brax":
        from engine.render import brax_pose

        names = brax_pose.actuator_names(ds.env)
        scale = max(1.0, float(np.abs(ds.labels).max()))
        with brax_pose.Scene(ds.env, (w, h), shadows=True) as scene:
            for i in range(ds.size):
                pose = scene.render_obs(raw[i])
                bars = brax_pose.torque_bars(
                    ds.labels[i], names, (max(110, int(w * 0.6)), h), scale
                )
                pictures.append(np.concatenate([pose, bars], axis=1))
                npos = brax_pose.position_count(ds.env) if spec.feature_names else 0
                captions.append(
                    [f"#{i}"]
                    + text.wrap(
                        _feature_words(ds, raw[i].reshape(-1), npos),
                        pictures[-1].shape[1] - 8,
                        fs,
                    )
                )
    elif spec.family == "minatar":
        chans = spec.feature_names[: spec.obs_shape[-1]]
        chans = [c.split("[")[0] for c in chans]
        for i in range(ds.size):
            pictures.append(minatar.draw(raw[i], chans, (w, h)))
            lo, hi = minatar.value_range(raw[i])
            captions.append(
                [f"#{i}  label: {label_text(ds, i)}", f"values {lo:+.2f} .. {hi:+.2f}"]
            )
    else:
        for i in range(ds.size):
            act = label_action(ds, i)
            if not spec.discrete:
                act = float(np.asarray(act).reshape(-1)[0])
            pictures.append(classic.draw(ds.env, raw[i], (w, h), act))
            captions.append(
                [f"#{i}  label: {label_text(ds, i)}"]
                + text.wrap(_feature_words(ds, raw[i].reshape(-1)), w - 8, fs)
            )
    lines = max(len(c) for c in captions)
    return [
        text.caption(p, c, fs, min_lines=lines)
        for p, c in zip(pictures, captions, strict=True)
    ]


def _default_cols(ds: Dataset) -> int:
    """One row up to four states, then a square-ish grid at least four wide."""
    n = ds.size
    return n if n <= 4 else max(4, math.ceil(math.sqrt(n)))


def _footer(ds: Dataset, raw: np.ndarray, width: int) -> list[np.ndarray]:
    spec = ds.spec
    fs = 13
    if spec.family == "brax":
        return [_text_band(text.wrap(BRAX_NOTE.split(" "), width - 16, fs, " "), width)]
    if spec.family == "minatar":
        chans = [c.split("[")[0] for c in spec.feature_names[: spec.obs_shape[-1]]]
        lo, hi = float(raw.min()), float(raw.max())
        note = (
            f"MinAtar grid, {minatar.MAPPING}; values range {lo:+.2f} .. "
            f"{hi:+.2f} (outside [0, 1] saturates)"
        )
        return [
            minatar.legend(chans, width),
            _text_band(text.wrap(note.split(" "), width - 16, fs, " "), width),
        ]
    note = CLASSIC_NOTES.get(ds.env, "")
    return [_text_band(text.wrap(note.split(" "), width - 16, fs, " "), width)]


def _text_band(lines: list[str], width: int, size: int = 13) -> np.ndarray:
    lh = text.line_height(size)
    img = Image.new("RGB", (width, lh * len(lines) + 6), text.PAPER)
    for i, t in enumerate(lines):
        text.draw(img, (8, 3 + i * lh), t, size)
    return np.asarray(img)


def render_states(
    ds: Dataset,
    out_path=None,
    cols: int | None = None,
    size=(240, 240),
    estimate: bool = True,
) -> np.ndarray:
    """The whole dataset as one figure (H, W, 3) uint8: a grid of labelled states
    with a title and a legend; written as PNG when `out_path` is given."""
    raw, how = raw_states(ds, estimate)
    cells = state_images(ds, size, raw=raw)
    cols = max(1, min(int(cols or _default_cols(ds)), ds.size))
    rows = math.ceil(len(cells) / cols)
    ch = max(c.shape[0] for c in cells)
    cw = max(c.shape[1] for c in cells)
    pad = 8
    width = cols * cw + (cols + 1) * pad
    grid = Image.new("RGB", (width, rows * ch + (rows + 1) * pad), (235, 235, 235))
    for k, cell in enumerate(cells):
        r, c = divmod(k, cols)
        grid.paste(Image.fromarray(cell), (pad + c * (cw + pad), pad + r * (ch + pad)))
    source = ds.meta.get("file") or ds.meta.get("source") or ""
    title = (
        f"{ds.env}   N = {ds.size}   {ds.label_kind} labels   obs norm: {ds.obs_norm}"
    )
    sub = f"states {how}" + (f"   source: {source}" if source else "")
    head = Image.new("RGB", (width, 48), text.PAPER)
    text.draw(head, (8, 5), text.fit(title, width - 16, 17), 17)
    text.draw(head, (8, 28), text.fit(sub, width - 16, 13), 13, fill=(90, 90, 90))
    parts = [np.asarray(head), np.asarray(grid), *_footer(ds, raw, width)]
    fig = np.concatenate(parts, axis=0)
    if out_path is not None:
        d = os.path.dirname(os.path.abspath(os.fspath(out_path)))
        os.makedirs(d, exist_ok=True)
        Image.fromarray(fig).save(os.fspath(out_path), format="PNG", optimize=True)
    return fig
