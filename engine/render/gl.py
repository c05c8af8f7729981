"""Headless OpenGL for MuJoCo: choose `MUJOCO_GL` (egl or osmesa) and make renderers.

MuJoCo reads `MUJOCO_GL` when its GL module is first imported, and PyOpenGL binds
one platform per process, so the choice is made once per process, before the first
`mujoco.Renderer`:

1. A `MUJOCO_GL` already set in the environment is respected (no probing).
2. Otherwise each candidate is tried in a fresh subprocess that renders a 16x16
   image: `egl` first where a GPU driver is present (`/dev/nvidia*`,
   `/dev/dri/renderD*`), else `osmesa` first (software rendering, Debian package
   `libosmesa6`), then the other one. The first that works is written to
   `os.environ["MUJOCO_GL"]` (and `PYOPENGL_PLATFORM`).
3. If `mujoco` was imported before the choice (Brax imports it), MuJoCo's GL module
   is reloaded so that it picks up the new value.

When nothing works, `RenderError` says which packages to install.
"""

from __future__ import annotations

import glob
import importlib
import os
import subprocess
import sys
import warnings

BACKENDS = ("egl", "osmesa")
INSTALL_HINT = (
    "install the Debian/Ubuntu package libosmesa6 for software rendering on CPU "
    "(apt-get install libosmesa6), or a GPU driver with EGL (libegl1) and set "
    "MUJOCO_GL=egl"
)

_PROBE = """
import mujoco
m = mujoco.MjModel.from_xml_string(
    '<mujoco><worldbody><light pos="0 0 3"/><geom type="sphere" size=".1"/>'
    '</worldbody></mujoco>')
d = mujoco.MjData(m)
mujoco.mj_forward(m, d)
r = mujoco.Renderer(m, 16, 16)
r.update_scene(d)
px = r.render()
r.close()
assert px.shape == (16, 16, 3) and px.std() > 0, 'blank probe image'
print('ok')
"""

_chosen: str | None = None


class RenderError(RuntimeError):
    """A picture or video cannot be made; the message says why and what to install."""


def gpu_driver_present() -> bool:
    """True when a GPU render node is visible (EGL is then the natural backend)."""
    return bool(glob.glob("/dev/nvidia[0-9]*") or glob.glob("/dev/dri/renderD*"))


def candidates() -> tuple[str, ...]:
    """Backends in the order they are tried."""
    return BACKENDS if gpu_driver_present() else tuple(reversed(BACKENDS))


def probe(backend: str, timeout: float = 120.0) -> str | None:
    """None if MuJoCo renders with `backend` in a fresh process, else the error."""
    env = {k: v for k, v in os.environ.items() if k != "PYOPENGL_PLATFORM"}
    env["MUJOCO_GL"] = backend
    try:
        with warnings.catch_warnings():
            # fork+exec is safe; JAX warns about any fork.
            warnings.filterwarnings(
                "ignore", message="os.fork", category=RuntimeWarning
            )
            res = subprocess.run(
                [sys.executable, "-c", _PROBE],
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"{type(e).__name__}: {e}"
    if res.returncode == 0 and "ok" in res.stdout:
        return None
    lines = [x for x in (res.stderr or res.stdout).strip().splitlines() if x.strip()]
    return lines[-1] if lines else f"exit code {res.returncode}"


def _activate(backend: str) -> None:
    """Make an already imported mujoco use `backend` (reload its GL module)."""
    if backend in BACKENDS:
        os.environ.setdefault("PYOPENGL_PLATFORM", backend)
    if "mujoco" not in sys.modules:
        return
    try:
        from mujoco.rendering.classic import gl_context
    except ImportError:  # a mujoco without the classic renderer layout
        return
    if getattr(gl_context, "_MUJOCO_GL", backend) != backend:
        importlib.reload(gl_context)


def gl_backend() -> str:
    """The MuJoCo GL backend of this process (chosen and activated on first call).

    Raises:
        RenderError: no headless OpenGL works; names the packages to install.
    """
    global _chosen
    if _chosen is not None:
        return _chosen
    preset = os.environ.get("MUJOCO_GL", "").strip().lower()
    if preset:
        chosen = preset
    else:
        errors = {}
        for backend in candidates():
            err = probe(backend)
            if err is None:
                chosen = backend
                break
            errors[backend] = err
        else:
            tried = "; ".join(f"MUJOCO_GL={b}: {e}" for b, e in errors.items())
            raise RenderError(
                f"no headless OpenGL backend works ({tried}). "
                f"To render Brax/MuJoCo frames, {INSTALL_HINT}."
            )
        os.environ["MUJOCO_GL"] = chosen
    _activate(chosen)
    _chosen = chosen
    return chosen


def make_renderer(model, width: int, height: int):
    """A `mujoco.Renderer` of `width` x `height` pixels; RenderError if GL fails.

    The model's offscreen buffer is enlarged when needed (pass a model you own).
    """
    backend = gl_backend()
    import mujoco

    vis = model.vis.global_
    vis.offwidth = max(int(vis.offwidth), int(width))
    vis.offheight = max(int(vis.offheight), int(height))
    try:
        return mujoco.Renderer(model, height=int(height), width=int(width))
    except Exception as e:  # GL errors come as several types (FatalError, OSError..)
        raise RenderError(
            f"MuJoCo cannot render with MUJOCO_GL={backend}: "
            f"{type(e).__name__}: {e}. {INSTALL_HINT}."
        ) from e
