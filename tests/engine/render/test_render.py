"""Pictures and videos: one rollout and one dataset figure per environment family.

Datasets are tiny and handmade (a 1x16 policy trained for 5 steps) so the file runs
in about a minute on 2 CPU cores; most of it is compiling the Brax hopper rollout.
"""

from __future__ import annotations

import os

import imageio.v3 as iio
import numpy as np
import pytest

from engine.dataset import Dataset
from engine.envs.registry import get_spec
from engine.render import (
    RenderError,
    classic,
    gl,
    gl_backend,
    minatar,
    raw_states,
    render_rollout,
    render_states,
    state_images,
    write_video,
)
from engine.render.episode import frame_schedule

# imageio reads mp4 through an ffmpeg subprocess (fork+exec), which JAX warns about.
pytestmark = pytest.mark.filterwarnings("ignore:os.fork:RuntimeWarning")

from conftest import REFERENCE, ROOT  # noqa: E402

HOPPER_D4 = REFERENCE / "datasets" / "brax-hopper-D4-constnorm-hadesR-seed0.pkl"
SMALL = {"config": {"inner": {"width": 16, "depth": 1, "steps": 5}}}
FAMILIES = ("CartPole-v1", "Breakout-MinAtar", "hopper")


def make_dataset(env: str, n: int = 4, seed: int = 0) -> Dataset:
    """Random states that look like the env's own (raw, no normalisation)."""
    spec = get_spec(env)
    rng = np.random.default_rng(seed)
    if spec.family == "minatar":
        states = rng.uniform(-0.2, 1.2, (n, *spec.obs_shape))
    elif spec.family == "brax":
        states = rng.normal(0, 0.3, (n, *spec.obs_shape))
        states[:, 0] += 1.25  # torso height
    else:
        states = rng.normal(0, 0.5, (n, *spec.obs_shape))
    states = states.astype(np.float32)
    if spec.discrete:
        return Dataset(
            env,
            states,
            np.arange(n, dtype=np.int32) % spec.action_dim,
            "onehot",
            meta=SMALL,
        )
    labels = rng.normal(0, 1.5, (n, spec.action_dim)).astype(np.float32)
    return Dataset(env, states, labels, "continuous", meta=SMALL)


def assert_not_blank(img: np.ndarray):
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[-1] == 3
    assert img.astype(np.float64).var() > 10.0


def differ(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute pixel difference of two images of one size."""
    assert a.shape == b.shape
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


# --- pieces --------------------------------------------------------------------------


def test_gl_backend_is_headless_and_set():
    backend = gl_backend()
    assert backend in ("egl", "osmesa") or os.environ.get("MUJOCO_GL") == backend
    assert os.environ["MUJOCO_GL"] == backend


def test_no_gl_raises_error_naming_the_package(monkeypatch):
    monkeypatch.setattr(gl, "_chosen", None)
    monkeypatch.delenv("MUJOCO_GL", raising=False)
    monkeypatch.setattr(gl, "probe", lambda backend: "cannot open display")
    with pytest.raises(RenderError, match="libosmesa6"):
        gl.gl_backend()


def test_backend_chosen_after_mujoco_was_imported(tmp_path):
    """Brax imports mujoco before we choose: its GL module must be reloaded."""
    import subprocess
    import sys

    code = (
        "import mujoco\n"
        "from engine.render import gl\n"
        "b = gl.gl_backend()\n"
        'm = mujoco.MjModel.from_xml_string(\'<mujoco><worldbody><light pos="0 0 3"/>'
        '<geom type="box" size=".1 .1 .1"/></worldbody></mujoco>\')\n'
        "d = mujoco.MjData(m); mujoco.mj_forward(m, d)\n"
        "r = gl.make_renderer(m, 32, 24); r.update_scene(d); px = r.render()\n"
        "r.close(); print(b, px.shape, px.std() > 0)\n"
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MUJOCO_GL", "PYOPENGL_PLATFORM")
    }
    env["PYTHONPATH"] = str(ROOT)
    res = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert "(24, 32, 3) True" in res.stdout


@pytest.mark.parametrize("suffix", [".mp4", ".gif"])
def test_write_video_roundtrip_odd_size(tmp_path, suffix):
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (7, 25, 33, 3), dtype=np.uint8)
    path = write_video(frames, tmp_path / f"v{suffix}", fps=10)
    assert path.endswith(suffix)
    back = iio.imread(path)
    assert back.shape[0] == 7
    if suffix == ".mp4":
        assert back.shape[1:3] == (26, 34)  # padded to even for yuv420p
        meta = iio.immeta(path, plugin="pyav") if _has_pyav() else None
        if meta:
            assert meta.get("codec") in ("h264", "libx264")


def test_mp4_falls_back_to_gif_without_ffmpeg(tmp_path, monkeypatch):
    from engine.render import video

    def no_ffmpeg(*args, **kwargs):
        raise RenderError("no ffmpeg")

    monkeypatch.setattr(video, "write_mp4", no_ffmpeg)
    frames = np.zeros((3, 8, 8, 3), np.uint8)
    frames[1] = 255
    path = video.write_video(frames, tmp_path / "v.mp4", fps=5)
    assert path == str(tmp_path / "v.gif")
    assert iio.imread(path).shape[0] == 3


def _has_pyav() -> bool:
    try:
        import av  # noqa: F401
    except ImportError:
        return False
    return True


def test_frame_schedule_caps_frames_and_rate():
    idx, fps, stride = frame_schedule(1000, 0.008, 300)
    assert len(idx) <= 300 and fps <= 60 and idx[-1] == 999
    assert fps == pytest.approx(125 / stride)
    idx, fps, stride = frame_schedule(30, 0.02, 300)
    assert stride == 1 and fps == 50 and list(idx) == list(range(30))


@pytest.mark.parametrize("env", classic.ENVS)
def test_classic_drawings_differ_by_state(env):
    spec = get_spec(env)
    a = np.zeros(spec.obs_size)
    b = np.full(spec.obs_size, 0.3)
    if env in ("Acrobot-v1", "Pendulum-v1"):
        a[0] = b[0] = 1.0  # cos = 1
    act = 1 if spec.discrete else 0.5
    ia, ib = (
        classic.draw(env, a, (160, 120), act),
        classic.draw(env, b, (160, 120), act),
    )
    assert ia.shape == (120, 160, 3)
    assert_not_blank(ia)
    assert differ(ia, ib) > 0.5


def test_minatar_intensity_mapping():
    obs = np.zeros((10, 10, 4), np.float32)
    obs[0, 0, 0] = 1.0
    obs[0, 1, 0] = 0.5
    obs[0, 2, 0] = -3.0  # clipped to 0: background
    obs[0, 3, 0] = 7.0  # clipped to 1: full colour
    rgb = minatar.grid_rgb(
        obs, minatar.channel_colours(["paddle", "ball", "trail", "brick"])
    )
    full = np.asarray(minatar.NAMED["paddle"], np.float32)
    np.testing.assert_allclose(rgb[0, 0], full)
    np.testing.assert_allclose(rgb[0, 1], (full + minatar.BACKGROUND) / 2)
    np.testing.assert_allclose(rgb[0, 2], minatar.BACKGROUND)
    np.testing.assert_allclose(rgb[0, 3], full)


def test_hopper_pose_from_observation():
    from engine.render import brax_pose

    obs = np.array([1.1, 0.3, -0.5, -0.2, 0.4] + [0.0] * 6)
    q = brax_pose.qpos_from_obs("hopper", obs)
    assert q[0] == 0.0
    np.testing.assert_allclose(q[2:], obs[1:5])
    import mujoco

    model = brax_pose.base_model("hopper")
    data = mujoco.MjData(model)
    data.qpos[:] = q
    mujoco.mj_kinematics(model, data)
    assert data.xpos[1, 2] == pytest.approx(1.1)  # torso at the observed height


def test_states_are_unnormalised_with_dataset_statistics():
    ds = make_dataset("CartPole-v1")
    mean = np.array([1.0, 2.0, 3.0, 4.0], np.float32)
    var = np.array([4.0, 1.0, 0.25, 9.0], np.float32)
    normed = Dataset(ds.env, ds.states, ds.labels, "onehot", "constant", mean, var)
    raw, note = raw_states(normed)
    np.testing.assert_allclose(raw, ds.states * np.sqrt(var + 1e-8) + mean, rtol=1e-6)
    assert "constant" in note


def test_running_norm_statistics_are_reestimated():
    ds = make_dataset("CartPole-v1")
    running = Dataset(
        ds.env,
        ds.states,
        ds.labels,
        "onehot",
        "running",
        meta={
            "config": {**SMALL["config"], "fitness": {"num_envs": 2, "num_steps": 50}}
        },
    )
    raw, note = raw_states(running)
    assert raw.shape == ds.states.shape and np.all(np.isfinite(raw))
    assert not np.allclose(raw, ds.states)
    assert "re-estimated" in note
    kept, note = raw_states(running, estimate=False)
    np.testing.assert_array_equal(kept, ds.states)
    assert "as stored" in note


# --- one dataset figure and one rollout per family ----------------------------------


@pytest.mark.parametrize("env", FAMILIES)
def test_dataset_figure(tmp_path, env):
    ds = make_dataset(env)
    images = state_images(ds, size=(160, 160))
    assert len(images) == ds.size
    for img in images:
        assert_not_blank(img)
    assert differ(images[0], images[1]) > 1.0  # two different states, two pictures
    out = tmp_path / "fig.png"
    fig = render_states(ds, out)
    assert_not_blank(fig)
    back = iio.imread(out)
    assert back.shape == fig.shape


@pytest.mark.parametrize("env", FAMILIES)
def test_rollout_video(tmp_path, env):
    ds = make_dataset(env)
    info = render_rollout(
        ds, tmp_path / "roll.mp4", max_steps=60, frame_cap=20, size=(160, 120)
    )
    assert info["path"].endswith(".mp4")
    assert 1 <= info["steps"] <= 60 and 1 <= info["frames"] <= 20
    assert 0 < info["fps"] <= 60
    frames = iio.imread(info["path"])
    assert frames.shape == (info["frames"], 120, 160, 3)
    assert frames.astype(np.float64).var() > 10.0
    assert np.isfinite(info["episode_return"])


# --- the published hopper N = 4 dataset ---------------------------------------------


@pytest.mark.skipif(
    not HOPPER_D4.exists(), reason=f"shared reference datasets not found at {REFERENCE}"
)
def test_reference_hopper_d4_shows_four_distinct_poses(tmp_path):
    from engine.paper_import import import_paper

    ds, _ = import_paper(HOPPER_D4)
    assert ds.env == "hopper" and ds.size == 4
    images = state_images(ds, size=(200, 200))
    poses = [img[:200, :200] for img in images]
    for i in range(4):
        assert_not_blank(poses[i])
        for j in range(i):
            assert differ(poses[i], poses[j]) > 1.0, (i, j)
    fig = render_states(ds, tmp_path / "hopper.png")
    assert fig.shape[1] > fig.shape[0]  # one row of four
