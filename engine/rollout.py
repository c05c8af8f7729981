"""Batched rollouts of a policy with per-episode return bookkeeping.

One `lax.scan` over time of `num_envs` vmapped environments that auto-reset. Every
env keeps the sum and count of the episodes it finished inside the window, the return
of its last finished episode, and the partial return of the episode still running, so
a fitness never scores an unfinished episode as 0.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from engine import normalize


class EpisodeStats(NamedTuple):
    completed_sum: jax.Array  # (envs,) sum of returns of finished episodes
    completed_count: jax.Array  # (envs,) number of finished episodes
    last_completed: jax.Array  # (envs,) return of the last finished episode
    partial: jax.Array  # (envs,) return so far of the running episode


class ObsNorm(NamedTuple):
    """Observation normalisation: `mode` is static, mean/var are constant stats."""

    mode: str  # none | constant | running
    mean: jax.Array | None = None
    var: jax.Array | None = None


def reduce_returns(stats: EpisodeStats, reduction: str) -> jax.Array:
    """Scalar fitness from episode statistics (see FitnessConfig.reduction)."""
    if reduction == "mean_completed":
        total = stats.completed_count.sum()
        return jnp.where(
            total > 0,
            stats.completed_sum.sum() / jnp.maximum(total, 1),
            stats.partial.mean(),
        )
    if reduction == "last_completed":
        per_env = jnp.where(
            stats.completed_count > 0, stats.last_completed, stats.partial
        )
        return per_env.mean()
    raise ValueError(f"unknown reduction {reduction!r}")


def rollout(
    key: jax.Array,
    env,
    policy_fn: Callable,
    num_envs: int,
    num_steps: int,
    norm: ObsNorm,
    record_fn: Callable | None = None,
):
    """Run `policy_fn(key, normalised_obs) -> actions` for `num_steps` steps.

    Returns (EpisodeStats, recorded) where recorded stacks `record_fn(env_states,
    raw_obs, actions, rewards, dones)` over time (None without a record_fn).
    """
    k_reset, k_steps = jax.random.split(key)
    states, obs = jax.vmap(env.reset)(jax.random.split(k_reset, num_envs))
    running = normalize.init_running(obs.shape[1:])
    if norm.mode == "running":
        running = normalize.update_running(running, obs)
    zeros = jnp.zeros((num_envs,), jnp.float32)
    stats = EpisodeStats(zeros, zeros, zeros, zeros)

    def step(carry, key):
        states, obs, running, stats = carry
        k_act, k_env = jax.random.split(key)
        if norm.mode == "running":
            nobs = normalize.apply(obs, running.mean, running.var)
        elif norm.mode == "constant":
            nobs = normalize.apply(obs, norm.mean, norm.var)
        else:
            nobs = obs
        actions = policy_fn(k_act, nobs)
        new_states, new_obs, reward, done = jax.vmap(env.step)(
            jax.random.split(k_env, num_envs), states, actions
        )
        episode = stats.partial + reward
        donef = done.astype(jnp.float32)
        stats = EpisodeStats(
            completed_sum=stats.completed_sum + donef * episode,
            completed_count=stats.completed_count + donef,
            last_completed=jnp.where(done, episode, stats.last_completed),
            partial=episode * (1.0 - donef),
        )
        if norm.mode == "running":
            running = normalize.update_running(running, new_obs)
        out = None
        if record_fn is not None:
            out = record_fn(states, obs, actions, reward, done)
        return (new_states, new_obs, running, stats), out

    (_, _, _, stats), recorded = jax.lax.scan(
        step, (states, obs, running, stats), jax.random.split(k_steps, num_steps)
    )
    return stats, recorded
