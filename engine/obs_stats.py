"""Constant observation statistics: from a file or estimated with a random policy."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from engine import safe_files
from engine.envs.registry import SPECS
from engine.envs.spec import EnvSpec
from engine.rollout import ObsNorm, rollout

MAX_FILE_BYTES = 256 * 2**20
"""Largest statistics file (a dataset .npz may be one); only two small arrays of it
are read."""


def estimate(key, env, spec: EnvSpec, num_envs: int = 16, num_steps: int = 500):
    """Mean and variance (obs_shape) of observations under uniform random actions."""

    def random_policy(key, obs):
        n = obs.shape[0]
        if spec.discrete:
            return jax.random.randint(key, (n,), 0, spec.action_dim)
        return jax.random.uniform(
            key, (n, spec.action_dim), minval=spec.action_low, maxval=spec.action_high
        )

    @jax.jit
    def run(key):
        _, obs = rollout(
            key,
            env,
            random_policy,
            num_envs,
            num_steps,
            ObsNorm("none"),
            record_fn=lambda s, o, a, r, d: o,
        )
        obs = obs.reshape((-1, *spec.obs_shape))
        return obs.mean(0), obs.var(0)

    mean, var = run(key)
    return np.asarray(mean, np.float32), np.asarray(var, np.float32)


def read_npz(path, spec: EnvSpec | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(mean, var) float32 from an .npz with arrays `mean` and `var`, or a dataset
    .npz's `obs_mean` and `obs_var`. Each is checked before it is read: floats of
    `spec`'s observation size (of the largest observation of any env without one).
    Raises `safe_files.UnsafeFileError`."""
    size = (
        spec.obs_size if spec is not None else max(s.obs_size for s in SPECS.values())
    )
    with safe_files.NpzReader(path, "observation statistics", MAX_FILE_BYTES,
                              MAX_FILE_BYTES) as z:  # fmt: skip
        names = ("mean", "var") if "mean" in z else ("obs_mean", "obs_var")
        mean, var = (
            z.read(k, safe_files.FLOAT, max_bytes=8 * size).astype(np.float32)
            for k in names
        )
    return mean, var


def load_file(path: str, spec: EnvSpec):
    """`read_npz` for `env.stats_file`; shapes must match the env."""
    try:
        mean, var = read_npz(path, spec)
    except safe_files.UnsafeFileError as e:
        raise ValueError(
            f"env.stats_file={path!r} is unreadable: {e} (need an .npz with arrays "
            "'mean' and 'var', or a dataset .npz with constant statistics)"
        ) from None
    if mean.size != spec.obs_size or var.size != spec.obs_size:
        raise ValueError(
            f"env.stats_file={path!r} holds {mean.size} values; "
            f"{spec.name} observations have {spec.obs_size}"
        )
    return mean.reshape(spec.obs_shape), var.reshape(spec.obs_shape)


def for_config(cfg, env, spec: EnvSpec):
    """(mean, var) for a constant-normalised config, else (None, None)."""
    if cfg.env.normalize != "constant":
        return None, None
    if cfg.env.stats_file:
        return load_file(cfg.env.stats_file, spec)
    key = jax.random.fold_in(jax.random.PRNGKey(cfg.seed), 7919)
    return estimate(key, env, spec)


__all__ = ["estimate", "read_npz", "load_file", "for_config", "jnp"]
