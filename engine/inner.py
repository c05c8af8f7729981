"""Inner loop: full-batch behaviour cloning of a policy on the synthetic dataset.

Continuous actions: Gaussian negative log-likelihood of the label, summed over action
dimensions, mean over pairs. Discrete: cross-entropy against the label distribution
(one-hot or softmax of learned label logits), divided by the number of actions.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import optax

from engine.config import InnerConfig
from engine.envs.spec import EnvSpec
from engine.policy import MLPPolicy

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def make_optimizer(inner: InnerConfig) -> optax.GradientTransformation:
    if inner.optimizer == "sgd":
        opt = optax.sgd(inner.lr)
    else:
        opt = optax.adam(inner.lr, eps=inner.adam_eps)
    if inner.max_grad_norm > 0:
        opt = optax.chain(optax.clip_by_global_norm(inner.max_grad_norm), opt)
    return opt


def _pair_mean(per_pair: jax.Array, weights: jax.Array | None) -> jax.Array:
    if weights is None:
        return per_pair.mean()
    return (per_pair * weights).sum() / jnp.maximum(weights.sum(), 1e-12)


def bc_loss(
    policy: MLPPolicy, spec: EnvSpec, params, states, targets, weights=None
) -> jax.Array:
    """states (N, *obs_shape); targets (N, A): actions or class probabilities;
    weights (N,) or None (every pair counts the same)."""
    x = states.reshape((states.shape[0], -1))
    if spec.discrete:
        logits = policy.apply(params, x)
        ce = optax.softmax_cross_entropy(logits, targets)
        return _pair_mean(ce, weights) / spec.action_dim
    mean, log_std = policy.apply(params, x)
    z = (targets - mean) * jnp.exp(-log_std)
    nll = 0.5 * z**2 + log_std + _HALF_LOG_2PI
    return _pair_mean(nll.sum(-1), weights)


def make_bc_train(policy: MLPPolicy, spec: EnvSpec, inner: InnerConfig):
    """Returns train(params, states, targets, weights=None) -> (params, final_loss)."""
    opt = make_optimizer(inner)

    def loss_fn(params, states, targets, weights):
        return bc_loss(policy, spec, params, states, targets, weights)

    def train(params, states, targets, weights=None):
        def step(carry, _):
            params, opt_state = carry
            loss, grads = jax.value_and_grad(loss_fn)(params, states, targets, weights)
            updates, opt_state = opt.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), loss

        (params, _), losses = jax.lax.scan(
            step, (params, opt.init(params)), None, length=inner.steps
        )
        return params, losses[-1]

    return train
