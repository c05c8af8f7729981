"""Brax environments behind the engine's single-env interface.

`brax.envs.create` wraps the env with EpisodeWrapper (episode length) and
AutoResetWrapper (a finished env returns to its cached first state), as the paper.
"""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp

from engine.envs.spec import EnvSpec


class BraxEnv:
    def __init__(
        self, spec: EnvSpec, backend: str = "positional", episode_length: int = 1000
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from brax import envs

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
