"""Brax environments behind the engine's single-env interface.

`brax.envs.create` wraps the env with EpisodeWrapper (episode length) and
AutoResetWrapper (a finished env returns to its cached first state), as the paper.
"""

from __future__ import annotations

import contextlib
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


class BraxEnv:
    def __init__(
        self, spec: EnvSpec, backend: str = "positional", episode_length: int = 1000
    ):
        with warnings.catch_warnings():
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
