"""Rollout videos: a policy trained on a dataset, acting in one environment.

The rollout is one jitted `engine.rollout.rollout` of a single env that records, at
every step, the state before acting (Brax: the generalised positions `q`; gymnax:
the raw observation), the action, reward and done. Frames are drawn afterwards,
outside jit, from those numpy arrays, for the steps of the first episode (or
`max_steps`). Frame rate: 1 / env dt (real time), with every k-th step kept so that
at most `frame_cap` frames remain and the rate stays at or below `MAX_FPS`.
"""

from __future__ import annotations

import math
import time

import numpy as np

from engine.dataset import Dataset
from engine.render import classic, minatar, text
from engine.render.video import write_video

MAX_FPS = 60.0


def frame_schedule(steps: int, dt: float, frame_cap: int, max_fps: float = MAX_FPS):
    """(indices of the steps to draw, frames per second, stride) for real time.

    Every `stride`-th step is kept (fewest that leaves <= `frame_cap` frames and
    <= `max_fps`), plus the last step so the final return shows.
    """
    native = 1.0 / float(dt)
    cap = max(1, int(frame_cap))
    stride = max(1, math.ceil(steps / cap), math.ceil(native / max_fps - 1e-9))
    idx = np.arange(0, steps, stride)
    if steps and idx[-1] != steps - 1:  # always show the last step (final return)
        if len(idx) < cap:
            idx = np.append(idx, steps - 1)
        else:
            idx[-1] = steps - 1
    return idx, native / stride, stride


def _run(ds: Dataset, key, max_steps: int | None, overrides: dict | None):
    """Train a policy on `ds` and record one env's first episode (numpy arrays)."""
    import jax

    from engine.evaluate import config_for_dataset, train_policy
    from engine.rollout import rollout

    cfg = config_for_dataset(ds, overrides)
    spec = ds.spec
    if max_steps is None:
        max_steps = (
            cfg.env.episode_length if spec.family == "brax" else spec.max_episode_steps
        )
    k_train, k_roll = jax.random.split(key)
    problem, params = train_policy(ds, k_train, cfg)
    brax = spec.family == "brax"

    def record(states, obs, actions, rewards, dones):
        pos = states.pipeline_state.q if brax else obs
        return pos[0], obs[0], actions[0], rewards[0], dones[0]

    @jax.jit
    def run(key, params):
        _, rec = rollout(
            key,
            problem.env,
            problem.policy_fn(params),
            1,
            int(max_steps),
            problem.norm,
            record_fn=record,
        )
        return rec

    pos, obs, actions, rewards, dones = (np.asarray(x) for x in run(k_roll, params))
    ended = np.flatnonzero(dones)
    steps = int(ended[0]) + 1 if ended.size else int(max_steps)
    return pos[:steps], obs[:steps], actions[:steps], rewards[:steps], bool(ended.size)


def _action_text(spec, a) -> str:
    if spec.discrete:
        return spec.action_name(int(a))
    a = np.clip(
        np.asarray(a, np.float64).reshape(-1), spec.action_low, spec.action_high
    )
    if a.size <= 2:
        return "action " + " ".join(f"{v:+.2f}" for v in a)
    return ""


def draw_frames(
    ds_env: str, pos, actions, rewards, idx, size=(320, 240), shadows: bool = False
) -> np.ndarray:
    """(T, H, W, 3) frames for the recorded steps `idx`, with step and return.

    Brax frames carry the text in a translucent box over the sky; classic-control
    and MinAtar frames in a band above the picture (nothing is hidden).
    """
    from engine.envs.registry import get_spec

    spec = get_spec(ds_env)
    w, h = int(size[0]), int(size[1])
    total = len(rewards)
    returns = np.cumsum(np.asarray(rewards, np.float64))
    band = max(14, min(26, h // 10))
    frames = []

    def words(t):
        act = _action_text(spec, actions[t])
        return [f"step {t + 1}/{total}", f"return {returns[t]:.1f}"] + (
            [act] if act else []
        )

    if spec.family == "brax":
        from engine.render.brax_pose import Scene

        with Scene(ds_env, (w, h), shadows=shadows) as scene:
            for t in idx:
                img = scene.render_qpos(pos[t])
                frames.append(text.overlay(img, [spec.name, *words(t)]))
    elif spec.family == "minatar":
        chans = [c.split("[")[0] for c in spec.feature_names[: spec.obs_shape[-1]]]
        dark = tuple(int(v) for v in minatar.BACKGROUND)
        for t in idx:
            img = minatar.draw(pos[t], chans, (w, h - band))
            line = "  ".join(words(t))
            frames.append(text.header(img, line, band, bg=dark, fill=(235, 235, 235)))
    else:
        for t in idx:
            a = actions[t] if spec.discrete else float(np.ravel(actions[t])[0])
            img = classic.draw(ds_env, pos[t], (w, h - band), a)
            frames.append(text.header(img, "  ".join(words(t)), band))
    return np.stack(frames)


def rollout_frames(
    ds: Dataset,
    key=None,
    seed: int = 0,
    max_steps: int | None = None,
    frame_cap: int = 300,
    size=(320, 240),
    shadows: bool = False,
    overrides: dict | None = None,
):
    """Frames of a policy trained on `ds` acting in its env, until the first episode
    ends or `max_steps`.

    Args:
        ds: the dataset (its stored config says how to train and act).
        key: PRNG key (default `PRNGKey(seed)`): policy init and rollout.
        seed: used when `key` is None.
        max_steps: step limit (default: the env's episode length).
        frame_cap: at most this many frames (steps are subsampled evenly).
        size: (width, height) of a frame.
        shadows: Brax only: shadows and reflections (about 5x slower on CPU).
        overrides: config overrides, e.g. {"inner.steps": 50}.

    Returns:
        (frames (T, H, W, 3) uint8, info) with info: env, episode_return, steps,
        episode_ended, fps, stride, frames, seconds (rollout and drawing).
    """
    import jax

    key = jax.random.PRNGKey(seed) if key is None else key
    t0 = time.perf_counter()
    pos, _, actions, rewards, ended = _run(ds, key, max_steps, overrides)
    t1 = time.perf_counter()
    steps = len(rewards)
    idx, fps, stride = frame_schedule(steps, ds.spec.dt, frame_cap)
    frames = draw_frames(ds.env, pos, actions, rewards, idx, size, shadows)
    t2 = time.perf_counter()
    info = {
        "env": ds.env,
        "episode_return": float(np.sum(rewards, dtype=np.float64)),
        "steps": steps,
        "episode_ended": ended,
        "fps": float(fps),
        "stride": int(stride),
        "frames": len(frames),
        "size": [int(frames.shape[2]), int(frames.shape[1])],
        "seconds_rollout": round(t1 - t0, 3),
        "seconds_draw": round(t2 - t1, 3),
    }
    return frames, info


def render_rollout(ds: Dataset, out_path, **kw) -> dict:
    """`rollout_frames(ds, **kw)` written to `out_path` (.mp4, or .gif); returns the
    info dict with `path` (the file written: a .gif when ffmpeg is missing)."""
    frames, info = rollout_frames(ds, **kw)
    info["path"] = write_video(frames, out_path, info["fps"])
    return info
