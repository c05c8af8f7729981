"""Policies trained by the inner loop.

An MLP with flax's standard module names (Dense_0, Dense_1, ..., `log_std`) so a flax
init made by the paper's code can be reproduced bit for bit. Continuous actions: a
Gaussian with a state-independent log-std. Discrete actions: a categorical.
"""

from __future__ import annotations

from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from engine.config import InnerConfig
from engine.envs.spec import EnvSpec

ACTIVATIONS: dict[str, Callable] = {
    "tanh": nn.tanh,
    "relu": nn.relu,
    "gelu": nn.gelu,
    "silu": nn.silu,
    "elu": nn.elu,
}


def orthogonal(scale: float):
    """flax's orthogonal initializer, whose vmapped calls on CPU run one matrix
    after another (`lax.map`), each a LAPACK call of its own: the same bits.

    Why: jaxlib 0.10's batched LAPACK kernels (the QR behind this initializer)
    split the batch over XLA's CPU thread pool and wait for the pieces on a pool
    thread. Two such calls at once (two programs, e.g. the dashboard's run and a
    Rollouts evaluation, or independent thunks of one program) hold every thread
    of a 2-core pool and wait forever (seen: threads parked in
    `ParallelBatchMap`, 0% CPU). A batch of one runs inline, on the thread that
    called it. JAX 0.11 removes the parallel path; accelerators keep the batch."""
    init = nn.initializers.orthogonal(scale)

    def one_at_a_time(key, shape, dtype=jnp.float32):
        if jax.default_backend() != "cpu":
            return init(key, shape, dtype)

        @jax.custom_batching.custom_vmap
        def one(k):
            return init(k, shape, dtype)

        @one.def_vmap
        def _batched(axis_size, in_batched, k):
            if not in_batched[0]:
                return one(k), False
            return jax.lax.map(one, k), True

        return one(key)

    return one_at_a_time


class MLPPolicy(nn.Module):
    """MLP on the flattened observation; returns logits, or (mean, log_std)."""

    action_dim: int
    discrete: bool
    width: int = 512
    depth: int = 2
    activation: str = "tanh"

    @nn.compact
    def __call__(self, x):
        act = ACTIVATIONS[self.activation]
        x = x.reshape((*x.shape[: x.ndim - 1], -1)) if x.ndim > 1 else x
        for _ in range(self.depth):
            x = nn.Dense(
                self.width,
                kernel_init=orthogonal(np.sqrt(2)),
                bias_init=nn.initializers.zeros,
            )(x)
            x = act(x)
        out = nn.Dense(
            self.action_dim,
            kernel_init=orthogonal(0.01),
            bias_init=nn.initializers.zeros,
        )(x)
        if self.discrete:
            return out
        log_std = self.param("log_std", nn.initializers.zeros, (self.action_dim,))
        return out, log_std


def make_policy(spec: EnvSpec, inner: InnerConfig) -> MLPPolicy:
    return MLPPolicy(
        action_dim=spec.action_dim,
        discrete=spec.discrete,
        width=inner.width,
        depth=inner.depth,
        activation=inner.activation,
    )


def flat_obs_dummy(spec: EnvSpec) -> jax.Array:
    """A zero observation, flattened, to initialise parameters."""
    return jnp.zeros((spec.obs_size,), jnp.float32)


def init_params(policy: MLPPolicy, spec: EnvSpec, key: jax.Array):
    return policy.init(key, flat_obs_dummy(spec))


def act(policy: MLPPolicy, spec: EnvSpec, params, key, obs, greedy: bool):
    """Actions for a batch of (normalised) observations (batch, *obs_shape)."""
    obs = obs.reshape((obs.shape[0], -1))
    if spec.discrete:
        logits = policy.apply(params, obs)
        if greedy:
            return jnp.argmax(logits, axis=-1)
        return jax.random.categorical(key, logits, axis=-1)
    mean, log_std = policy.apply(params, obs)
    if greedy:
        return mean
    return mean + jnp.exp(log_std) * jax.random.normal(key, mean.shape)


def param_count(params) -> int:
    return int(sum(np.prod(x.shape) for x in jax.tree.leaves(params)))
