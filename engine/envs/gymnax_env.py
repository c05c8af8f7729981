"""gymnax classic control and MinAtar behind the engine's single-env interface."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from engine.envs.spec import EnvSpec


class GymnaxEnv:
    """One gymnax environment; `step` auto-resets as gymnax does."""

    def __init__(self, spec: EnvSpec):
        import gymnax

        self.spec = spec
        self.env, self.params = gymnax.make(spec.name)

    def reset(self, key: jax.Array):
        """Returns (state, obs)."""
        obs, state = self.env.reset(key, self.params)
        return state, obs.astype(jnp.float32)

    def step(self, key: jax.Array, state, action: jax.Array):
        """Returns (state, obs, reward, done); done ends an episode (then reset)."""
        if not self.spec.discrete:
            action = jnp.clip(action, self.spec.action_low, self.spec.action_high)
        obs, state, reward, terminated, truncated, _ = self.env.step(
            key, state, action, self.params
        )
        done = jnp.logical_or(terminated, truncated)
        return state, obs.astype(jnp.float32), reward.astype(jnp.float32), done
