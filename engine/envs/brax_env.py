"""Brax environments behind the engine's single-env interface.

`brax.envs.create` wraps the env with EpisodeWrapper (episode length) and
AutoResetWrapper (a finished env returns to its cached first state), as the paper.
"""

from __future__ import annotations

import contextlib
import functools
import io
import sys
import warnings

import jax
import jax.numpy as jnp

from engine.envs.spec import EnvSpec

# Printed by MuJoCo when its optional Warp (NVIDIA GPU) backend is not installed,
# on every import of Brax: nothing a user of the engine can act on.
_IMPORT_NOISE = ("Failed to import warp", "Failed to import mujoco_warp")


def import_brax_envs():
    """`brax.envs`, without MuJoCo's "Failed to import warp" lines (other output of
    the import is printed as usual)."""
    if "mujoco.mjx.warp" not in sys.modules:
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            import mujoco.mjx.warp  # noqa: F401
        for line in buf.getvalue().splitlines():
            if not line.startswith(_IMPORT_NOISE):
                print(line)
    from brax import envs

    return envs


@contextlib.contextmanager
def models_on_this_process():
    """Brax builds its system with `mujoco.mjx.put_model(mj)`, which puts the
    model on `jax.devices()[0]` when given no device (mujoco 3.x). In a run over
    several processes that device is process 0's: every other process would hold
    its environment on a device it cannot read (jax refuses to compile it). While
    an environment is built here, put_model defaults to this process's first
    device. Nothing changes in a single process."""
    if jax.process_count() == 1:
        yield
        return
    from mujoco import mjx

    put_model = mjx.put_model
    mjx.put_model = functools.partial(put_model, device=jax.local_devices()[0])
    try:
        yield
    finally:
        mjx.put_model = put_model


class BraxEnv:
    def __init__(
        self, spec: EnvSpec, backend: str = "positional", episode_length: int = 1000
    ):
        with warnings.catch_warnings(), models_on_this_process():
            warnings.simplefilter("ignore")
            envs = import_brax_envs()
            self.env = envs.create(
                spec.name,
                episode_length=episode_length,
                auto_reset=True,
                backend=backend,
            )
        self.spec = spec
        self.backend = backend

    def reset(self, key: jax.Array):
        state = self.env.reset(key)
        return state, state.obs

    def step(self, key: jax.Array, state, action: jax.Array):
        action = jnp.clip(action, -1.0, 1.0)
        state = self.env.step(state, action)
        return state, state.obs, state.reward, state.done > 0.5
