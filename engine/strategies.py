"""Evolution strategies from evosax 0.3, set up to match the paper's semantics.

evosax minimises: the outer loop passes minus the return. `STRATEGIES` (declared in
`engine.strategy_registry`, which configs validate against without importing this
module) names the algorithms a config may choose.

Live knobs stay out of shapes and static arguments so they change without a
recompile: the ES learning rate lives in the optimizer state (optax
`inject_hyperparams`), sigma lives in `state.std` (strategies that recompute std from
a schedule get it restored after each `tell`), and SNES's temperature sets
`params.weights`.
"""

from __future__ import annotations

import inspect

import jax
import jax.numpy as jnp
import optax
from evosax.algorithms import distribution_based_algorithms
from evosax.core import fitness_shaping as shaping

from engine.config import OuterConfig
from engine.strategy_registry import STRATEGIES  # noqa: F401 - the registry

SHAPING_FNS = {
    "identity": shaping.identity_fitness_shaping_fn,
    "centered_rank": shaping.centered_rank_fitness_shaping_fn,
    "z_score": shaping.standardize_fitness_shaping_fn,
    "normalize": shaping.normalize_fitness_shaping_fn,
}


def snes_weights(population_size: int, temperature: float) -> jax.Array:
    """Paper's SNES weights: softmax(-T * centred rank), best first, no baseline."""
    centred = jnp.arange(population_size) / (population_size - 1) - 0.5
    return jax.nn.softmax(-temperature * centred)


class Strategy:
    """An evosax algorithm plus the knobs HaDES tunes live."""

    def __init__(self, outer: OuterConfig, solution):
        self.outer = outer
        cls = distribution_based_algorithms[outer.strategy]
        sig = inspect.signature(cls.__init__).parameters
        kwargs = {}
        if "optimizer" in sig:
            if outer.optimizer == "adam":
                opt = optax.inject_hyperparams(optax.adam)(
                    learning_rate=outer.lr,
                    b1=outer.adam_b1,
                    b2=outer.adam_b2,
                    eps=outer.adam_eps,
                )
            else:
                opt = optax.inject_hyperparams(optax.sgd)(learning_rate=outer.lr)
            kwargs["optimizer"] = opt
        default_shaping = sig.get("fitness_shaping_fn")
        self.uses_weights = (
            default_shaping is not None
            and default_shaping.default is shaping.weights_fitness_shaping_fn
        )
        if "fitness_shaping_fn" in sig and not self.uses_weights:
            kwargs["fitness_shaping_fn"] = SHAPING_FNS[outer.fitness_shaping]
        if "use_antithetic_sampling" in sig:
            kwargs["use_antithetic_sampling"] = outer.antithetic
        self.uses_schedule = "std_schedule" in sig
        if self.uses_schedule:
            kwargs["std_schedule"] = optax.constant_schedule(outer.sigma)
        self.es = cls(outer.population, solution, **kwargs)
        self.has_lr = "optimizer" in sig

    @property
    def num_dims(self) -> int:
        return self.es.num_dims

    def default_params(self, temperature: float | None = None):
        params = self.es.default_params
        if hasattr(params, "std_init"):
            params = params.replace(std_init=jnp.asarray(self.outer.sigma, jnp.float32))
        if self.outer.strategy == "SNES":
            t = self.outer.temperature if temperature is None else temperature
            params = params.replace(weights=snes_weights(self.outer.population, t))
        return params

    def init(self, key, mean, params):
        state = self.es.init(key, mean, params)
        if hasattr(state, "std"):
            state = state.replace(std=jnp.full_like(state.std, self.outer.sigma))
        return strip_weak_types(state)

    # Live knobs ---------------------------------------------------------------
    def sigma(self, state) -> jax.Array:
        return jnp.mean(state.std) if hasattr(state, "std") else jnp.nan

    def lr(self, state) -> jax.Array:
        hp = getattr(getattr(state, "opt_state", None), "hyperparams", None)
        return hp["learning_rate"] if hp is not None else jnp.nan

    def set_sigma(self, state, sigma: float):
        """Set sigma; a per-dimension std is rescaled to that mean."""
        if not hasattr(state, "std"):
            raise ValueError(f"{self.outer.strategy} has no sigma to tune")
        scale = sigma / jnp.maximum(jnp.mean(state.std), 1e-30)
        return state.replace(std=(state.std * scale).astype(state.std.dtype))

    def set_lr(self, state, lr: float):
        if not self.has_lr:
            raise ValueError(f"{self.outer.strategy} has no learning rate to tune")
        opt_state = state.opt_state
        hp = dict(opt_state.hyperparams)
        hp["learning_rate"] = jnp.asarray(lr, hp["learning_rate"].dtype)
        return state.replace(opt_state=opt_state._replace(hyperparams=hp))

    def set_knob(self, state, params, name: str, value: float):
        """(state, params) with live knob `name` (lr, sigma, temperature) set to
        `value`; ValueError when this strategy has no such knob."""
        if name == "lr":
            return self.set_lr(state, value), params
        if name == "sigma":
            return self.set_sigma(state, value), params
        if name == "temperature":
            if self.outer.strategy != "SNES":
                raise ValueError(
                    f"{self.outer.strategy} has no temperature (SNES only)"
                )
            return state, self.default_params(temperature=value)
        raise ValueError(f"unknown knob {name}")

    def decay(self, state):
        """Per-generation sigma and lr decay with floors (no-op at decay 1)."""
        o = self.outer
        if o.sigma_decay != 1.0 and hasattr(state, "std"):
            state = state.replace(
                std=jnp.maximum(state.std * o.sigma_decay, o.sigma_floor)
            )
        if o.lr_decay != 1.0 and self.has_lr:
            lr = jnp.maximum(self.lr(state) * o.lr_decay, o.lr_floor)
            state = self.set_lr(state, lr)
        return state

    def ask(self, key, state, params):
        return self.es.ask(key, state, params)

    def tell(self, key, population, loss, state, params):
        """Update with `loss` (minimised); keeps the live sigma, applies decay."""
        std = getattr(state, "std", None)
        state, metrics = self.es.tell(key, population, loss, state, params)
        if self.uses_schedule:
            state = state.replace(std=std)
        return self.decay(state), metrics

    def get_mean(self, state):
        return self.es.get_mean(state)


def strip_weak_types(tree):
    """Give every leaf a concrete dtype so the first jitted chunk does not retrace."""
    return jax.tree.map(
        lambda x: (
            jnp.asarray(x, dtype=jnp.asarray(x).dtype)
            if not isinstance(x, jax.Array) or x.weak_type
            else x
        ),
        tree,
    )
