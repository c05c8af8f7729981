"""Observation normalisation: none, constant statistics, or running statistics.

Running statistics start at mean 0, var 1, count 1e-4 and are updated with the batch
of env observations at reset and at every step, restarted for every evaluation (as the
paper). Normalised obs = (obs - mean) / sqrt(var + 1e-8).
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp

EPS = 1e-8


class RunningStats(NamedTuple):
    mean: jnp.ndarray
    var: jnp.ndarray
    count: jnp.ndarray


def init_running(obs_shape) -> RunningStats:
    return RunningStats(
        jnp.zeros(obs_shape, jnp.float32),
        jnp.ones(obs_shape, jnp.float32),
        jnp.asarray(1e-4, jnp.float32),
    )


def update_running(stats: RunningStats, batch: jnp.ndarray) -> RunningStats:
    """Parallel mean/var update with a batch (batch, *obs_shape)."""
    b_mean = batch.mean(0)
    b_var = batch.var(0)
    b_count = batch.shape[0]
    delta = b_mean - stats.mean
    tot = stats.count + b_count
    mean = stats.mean + delta * b_count / tot
    m2 = (
        stats.var * stats.count
        + b_var * b_count
        + delta**2 * stats.count * b_count / tot
    )
    return RunningStats(mean, m2 / tot, tot)


def apply(obs: jnp.ndarray, mean: jnp.ndarray, var: jnp.ndarray) -> jnp.ndarray:
    return (obs - mean) / jnp.sqrt(var + EPS)
