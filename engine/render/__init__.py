"""Pictures of datasets and rollouts for every environment family, offline.

- `render_states(ds, out_path)`: the whole dataset as one PNG figure (a grid of the
  states as the env would show them, each with its label); `state_images(ds)`: one
  image per state.
- `rollout_frames(ds)` / `render_rollout(ds, "video.mp4")`: a policy trained on the
  dataset acting in its env, as frames with step and return drawn on them, and as an
  H.264 mp4 (or GIF); `write_video(frames, path, fps)`.
- `gl_backend()`: the headless OpenGL backend MuJoCo uses (egl or osmesa), chosen
  automatically; `RenderError` when pictures cannot be made.

Classic control is drawn with Pillow, MinAtar as coloured 10x10 grids, Brax robots
with `mujoco.Renderer` (headless). Rendering runs outside jit on numpy arrays.
Submodules: `classic`, `minatar`, `brax_pose`, `states`, `episode`, `video`, `text`,
`gl`. Importing this package is light (no JAX, Brax or MuJoCo until used).
"""

from engine.render.episode import render_rollout, rollout_frames
from engine.render.gl import RenderError, gl_backend
from engine.render.states import raw_states, render_states, state_images
from engine.render.video import write_video

__all__ = [
    "RenderError",
    "gl_backend",
    "raw_states",
    "render_rollout",
    "render_states",
    "rollout_frames",
    "state_images",
    "write_video",
]
