"""Brax robots drawn with MuJoCo's headless renderer: poses from observations.

Brax 0.14 builds every system from MJCF and keeps the `mujoco.MjModel` as
`env.sys.mj_model`; we render a copy of it with `mujoco.Renderer` (EGL or OSMesa, see
`engine.render.gl`).

Pose from an observation (the env's `_get_obs`, default
`exclude_current_positions_from_observation=True`):
- hopper, walker2d: obs = qpos[1:] with qpos[1] replaced by the torso's world height,
  then velocities. The root x is fixed at 0; the root slide is set so that the torso
  is at the observed height.
- halfcheetah: obs = qpos[1:] then velocities; root x fixed at 0.
- ant, humanoid, humanoidstandup: obs = qpos[2:] (height, quaternion, joints) then
  velocities and more; root x, y fixed at 0; the quaternion is normalised (identity
  when it is ~0, as a synthetic state may have it).
- reacher: obs = cos(q0, q1), sin(q0, q1), target x, y, ...; angles by atan2.
- inverted_double_pendulum: obs = cart x, sin(q1, q2), cos(q1, q2), ...
Velocities are not drawn. Action labels are drawn as torque bars beside each pose:
one bar per actuator (named by its joint); the env executes clip(a, -1, 1), marked by
dashed lines.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import math

import numpy as np
from PIL import Image, ImageDraw

from engine.render import text
from engine.render.gl import RenderError, gl_backend, make_renderer

# Free-camera settings per env: distance, elevation, azimuth (90 looks along +y,
# the robot's x to the right), height of the look-at point, whether to follow x/y.
CAMERAS = {
    "hopper": dict(distance=2.9, elevation=-8.0, azimuth=90.0, z=0.9),
    "walker2d": dict(distance=3.1, elevation=-8.0, azimuth=90.0, z=0.95),
    "halfcheetah": dict(distance=3.4, elevation=-10.0, azimuth=90.0, z=0.4),
    "ant": dict(distance=5.0, elevation=-30.0, azimuth=90.0, z=0.3),
    "humanoid": dict(distance=4.0, elevation=-10.0, azimuth=90.0, z=0.9),
    "humanoidstandup": dict(distance=4.0, elevation=-15.0, azimuth=90.0, z=0.6),
    "reacher": dict(distance=0.75, elevation=-90.0, azimuth=90.0, z=0.0, follow=False),
    "inverted_double_pendulum": dict(
        distance=3.2, elevation=0.0, azimuth=90.0, z=0.6, follow=False
    ),
}
# Number of leading qpos entries left out of the observation.
_EXCLUDED = {
    "hopper": 1,
    "walker2d": 1,
    "halfcheetah": 1,
    "ant": 2,
    "humanoid": 2,
    "humanoidstandup": 2,
}
_HEIGHT_FROM_TORSO = ("hopper", "walker2d")
_FREE_ROOT = ("ant", "humanoid", "humanoidstandup")
ENVS = tuple(CAMERAS)

POS_BAR = (44, 160, 44)
NEG_BAR = (214, 39, 40)


@functools.cache
def base_model(env: str):
    """The env's `mujoco.MjModel` (from the Brax system; cached, do not modify)."""
    if env not in CAMERAS:
        raise RenderError(f"no pose drawing for Brax env {env!r}; known: {ENVS}")
    from engine.envs.registry import make_env

    return make_env(env).env.unwrapped.sys.mj_model


def actuator_names(env: str) -> list[str]:
    """Joint name of each actuator, in action order."""
    m = base_model(env)
    names = []
    for i in range(m.nu):
        j = int(m.actuator_trnid[i, 0])
        names.append(m.actuator(i).name or m.joint(j).name.removesuffix("_joint"))
    return names


def position_count(env: str) -> int:
    """Number of joint-position entries at the start of the observation."""
    return base_model(env).nq - _EXCLUDED.get(env, 0)


def _unit_quat(q) -> np.ndarray:
    q = np.asarray(q, np.float64)
    n = np.linalg.norm(q)
    return np.array([1.0, 0, 0, 0]) if n < 1e-6 else q / n


def qpos_from_obs(env: str, obs, model=None) -> np.ndarray:
    """qpos of the pose an observation describes (see the module docstring)."""
    import mujoco

    model = model if model is not None else base_model(env)
    obs = np.asarray(obs, np.float64).reshape(-1)
    nq = model.nq
    qpos = np.array(model.qpos0, np.float64)
    if env in _EXCLUDED:
        k = _EXCLUDED[env]
        qpos[:k] = 0.0
        qpos[k:] = obs[: nq - k]
        if env in _FREE_ROOT:
            qpos[3:7] = _unit_quat(qpos[3:7])
        if env in _HEIGHT_FROM_TORSO:
            # obs[0] is the torso's world height; qpos[1] is a slide from its default.
            height = qpos[1]
            qpos[1] = 0.0
            data = mujoco.MjData(model)
            data.qpos[:] = qpos
            mujoco.mj_kinematics(model, data)
            qpos[1] = height - data.xpos[1, 2]
    elif env == "reacher":
        qpos[0] = math.atan2(obs[2], obs[0])
        qpos[1] = math.atan2(obs[3], obs[1])
        qpos[2:4] = obs[4:6]
    elif env == "inverted_double_pendulum":
        qpos[0] = obs[0]
        qpos[1] = math.atan2(obs[1], obs[3])
        qpos[2] = math.atan2(obs[2], obs[4])
    else:
        raise RenderError(f"no pose drawing for Brax env {env!r}; known: {ENVS}")
    return qpos


class Scene:
    """A headless MuJoCo renderer for one Brax env (close it, or use `with`).

    Args:
        env: Brax env name.
        size: (width, height) in pixels.
        shadows: shadows and reflections (about 5x slower on CPU).
    """

    def __init__(self, env: str, size=(320, 240), shadows: bool = False):
        gl_backend()  # before Brax imports mujoco, if it has not yet
        import mujoco

        self.env = env
        self.model = copy.copy(base_model(env))
        self.width, self.height = int(size[0]), int(size[1])
        self.renderer = make_renderer(self.model, self.width, self.height)
        flags = self.renderer.scene.flags
        flags[mujoco.mjtRndFlag.mjRND_SHADOW] = shadows
        flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = shadows
        self.data = mujoco.MjData(self.model)
        self.cam_cfg = CAMERAS[env]
        self.camera = mujoco.MjvCamera()
        self.camera.type = mujoco.mjtCamera.mjCAMERA_FREE
        self.camera.distance = self.cam_cfg["distance"]
        self.camera.elevation = self.cam_cfg["elevation"]
        self.camera.azimuth = self.cam_cfg["azimuth"]
        self.camera.lookat[:] = (0.0, 0.0, self.cam_cfg["z"])

    def render_qpos(self, qpos, follow: bool = True) -> np.ndarray:
        """(H, W, 3) uint8 image of the robot at `qpos`; the camera follows the torso
        in x (and y for 3-D robots) when `follow`."""
        import mujoco

        self.data.qpos[:] = np.asarray(qpos, np.float64)
        self.data.qvel[:] = 0.0
        mujoco.mj_forward(self.model, self.data)
        if follow and self.cam_cfg.get("follow", True):
            self.camera.lookat[0] = self.data.xpos[1, 0]
            if self.env in _FREE_ROOT:
                self.camera.lookat[1] = self.data.xpos[1, 1]
        else:
            self.camera.lookat[:] = (0.0, 0.0, self.cam_cfg["z"])
        self.renderer.update_scene(self.data, camera=self.camera)
        return np.array(self.renderer.render())

    def render_obs(self, obs) -> np.ndarray:
        """Image of the pose a raw observation describes (root at x = 0)."""
        return self.render_qpos(qpos_from_obs(self.env, obs, self.model), follow=False)

    def close(self) -> None:
        r, self.renderer = getattr(self, "renderer", None), None
        if r is not None:
            r.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        # At interpreter shutdown the GL libraries may be gone already.
        with contextlib.suppress(Exception):
            self.close()


def torque_bars(
    values,
    names,
    size=(150, 240),
    scale: float | None = None,
    title: str = "action label",
) -> np.ndarray:
    """Horizontal bars of one action label, one per actuator, centred at zero.

    The axis spans [-scale, scale] (default max(1, max |value|)); dashed lines mark
    the executed range [-1, 1]; each bar carries its joint name and value (above the
    bar when there is room, else in columns beside it).
    """
    values = np.asarray(values, np.float64).reshape(-1)
    w, h = int(size[0]), int(size[1])
    scale = float(scale or max(1.0, float(np.abs(values).max(initial=0.0))))
    img = Image.new("RGB", (w, h), text.PAPER)
    d = ImageDraw.Draw(img)
    n = max(1, len(values))
    fs = max(9, min(13, h // 18))
    lh = text.line_height(fs)
    text.draw(img, (w // 2, 2), text.fit(title, w - 4, fs), fs, anchor="ma")
    top, bottom = 4 + lh, h - 4
    slot = (bottom - top) / n
    stacked = slot >= 2 * lh + 3  # name/value line above each bar
    if not stacked:
        fs = max(7, min(fs, int(slot) - 1))
        lh = text.line_height(fs)
    value_w = text.text_size("+0.00", fs)[0] + 4
    name_w = 0 if stacked else int(w * 0.38)
    x0, x1 = 4 + name_w, w - 4 - (0 if stacked else value_w)
    cx = (x0 + x1) / 2
    half = (x1 - x0) / 2
    grey = (70, 70, 70)

    def xpos(v):
        return cx + half * max(-1.0, min(1.0, v / scale))

    for lim in (-1.0, 1.0):
        x = xpos(lim)
        for y in range(int(top), int(bottom), 6):
            d.line([(x, y), (x, min(y + 3, bottom))], fill=(150, 150, 150), width=1)
    d.line([(cx, top), (cx, bottom)], fill=(90, 90, 90), width=1)
    for i, v in enumerate(values):
        y0 = top + i * slot
        name = names[i] if i < len(names) else f"a{i}"
        if stacked:
            text.draw(img, (4, y0 + 1), text.fit(name, int(half) - 4, fs), fs, grey)
            text.draw(img, (w - 4, y0 + 1), f"{v:+.2f}", fs, grey, anchor="ra")
            bar_top, bar_bot = y0 + lh + 1, y0 + max(lh + 4, slot - 3)
        else:
            ym = y0 + slot / 2
            text.draw(img, (2, ym), text.fit(name, name_w - 2, fs), fs, grey, "lm")
            text.draw(img, (w - 2, ym), f"{v:+.2f}", fs, grey, anchor="rm")
            bar_top, bar_bot = y0 + 1, y0 + max(2.0, slot - 1)
        xa, xb = sorted((cx, xpos(v)))
        d.rectangle(
            [xa, bar_top, max(xb, xa + 1), bar_bot], fill=POS_BAR if v >= 0 else NEG_BAR
        )
    return np.asarray(img)
