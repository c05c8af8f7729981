"""Outer loop: an evolution strategy over the flattened dataset (HaDES).

`Distiller` runs generations in jitted chunks (`lax.scan`); between chunks Python
calls `progress_fn`, writes checkpoints and reads control changes (as brax's
trainers do). The key of generation g is fold_in(run_key, g), so a run's result does
not depend on how it is chunked, stopped or resumed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from engine import dataset as ds_lib
from engine.config import HadesConfig
from engine.envs.registry import get_spec, make_env
from engine.fitness import Problem
from engine.obs_stats import for_config
from engine.strategies import Strategy

METRIC_NAMES = (
    "generation",
    "fitness_mean",
    "fitness_max",
    "fitness_min",
    "fitness_std",
    "best_fitness",
    "sigma",
    "lr",
    "nan_count",
    "bc_loss",
)


@dataclass
class ChunkResult:
    """What `progress_fn` receives after each chunk."""

    generation: int  # generations completed so far
    metrics: list[dict]  # one dict per generation of this chunk
    mean_dataset_return: float | None  # None when not evaluated this chunk
    seconds: float  # wall time of the chunk (compile excluded when cached)
    compiled: bool  # this chunk compiled (first chunk or a new chunk length)


def clean_fitness(fitness: jax.Array):
    """Replace NaN/inf by the worst finite value (0 if none); count them."""
    finite = jnp.isfinite(fitness)
    worst = jnp.min(jnp.where(finite, fitness, jnp.inf))
    worst = jnp.where(jnp.any(finite), worst, 0.0)
    return jnp.where(finite, fitness, worst), jnp.sum(~finite)


class Distiller:
    """HaDES for one config: init, generation chunks, mean dataset, evaluation."""

    def __init__(self, cfg: HadesConfig, obs_stats=None, devices=None):
        self.cfg = cfg
        self.spec = get_spec(cfg.env.name)
        env = make_env(cfg.env.name, cfg.env.backend, cfg.env.episode_length)
        if obs_stats is None:
            obs_stats = for_config(cfg, env, self.spec)
        self.obs_mean, self.obs_var = obs_stats
        self.problem = Problem(cfg, self.obs_mean, self.obs_var, devices=devices)
        n_dev = len(self.problem.devices)
        if cfg.outer.population % n_dev:
            from engine.config import ConfigError

            raise ConfigError(
                "outer.population",
                cfg.outer.population,
                f"must be divisible by the {n_dev} local devices",
            )
        self.strategy = Strategy(cfg.outer, self.problem.template)
        # With several devices the ES state lives replicated on the population mesh,
        # where the chunk leaves it; placing it there first avoids a recompile after
        # the first chunk (and after a resume from a checkpoint).
        mesh = self.problem.mesh
        self.replicated = (
            None
            if mesh is None
            else jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
        )
        self.run_key, self.init_key = jax.random.split(jax.random.PRNGKey(cfg.seed))
        self.eval_key = jax.random.fold_in(self.run_key, 2**31 - 1)
        self._compiled_lengths: set[int] = set()

    # Init -------------------------------------------------------------------------
    def init(self, params=None):
        """(es_state, es_params): mean at zeros (or init_std * normal)."""
        params = self.strategy.default_params() if params is None else params
        template = self.problem.template
        if self.cfg.outer.init_std > 0:
            leaves, tdef = jax.tree.flatten(template)
            keys = jax.random.split(self.init_key, len(leaves))
            mean = jax.tree.unflatten(
                tdef,
                [
                    self.cfg.outer.init_std * jax.random.normal(k, x.shape)
                    for k, x in zip(keys, leaves, strict=True)
                ],
            )
        else:
            mean = jax.tree.map(jnp.asarray, template)
        return self.strategy.init(self.init_key, mean, params), params

    # One generation -------------------------------------------------------------
    def generation(self, es_state, es_params, gen):
        """Ask, evaluate, tell for generation `gen`; returns (state, metrics)."""
        key = jax.random.fold_in(self.run_key, gen)
        k_ask, k_eval, k_tell = jax.random.split(key, 3)
        population, es_state = self.strategy.ask(k_ask, es_state, es_params)
        fitness, bc_loss = self.problem.population_fitness(k_eval, population)
        fitness, nan_count = clean_fitness(fitness)
        es_state, _ = self.strategy.tell(
            k_tell, population, -fitness, es_state, es_params
        )
        metrics = {
            "generation": gen + 1,
            "fitness_mean": fitness.mean(),
            "fitness_max": fitness.max(),
            "fitness_min": fitness.min(),
            "fitness_std": fitness.std(),
            "best_fitness": -es_state.best_fitness,
            "sigma": self.strategy.sigma(es_state),
            "lr": self.strategy.lr(es_state),
            "nan_count": nan_count,
            "bc_loss": jnp.nanmean(bc_loss),
        }
        return es_state, metrics

    @partial(jax.jit, static_argnums=(0, 4))
    def _chunk(self, es_state, es_params, start, length: int):
        def body(state, gen):
            return self.generation(state, es_params, gen)

        gens = start + jnp.arange(length, dtype=jnp.int32)
        return jax.lax.scan(body, es_state, gens)

    def run_chunk(self, es_state, es_params, start: int, length: int):
        """Run generations start..start+length-1 in one jitted scan."""
        if self.replicated is not None:
            es_state, es_params = jax.device_put((es_state, es_params), self.replicated)
        return self._chunk(es_state, es_params, jnp.asarray(start, jnp.int32), length)

    # The product: the ES mean ------------------------------------------------
    def mean_solution(self, es_state):
        """The ES mean, on one device: after a sharded chunk it is replicated over
        the population mesh, and evaluating it there (a replicated program over the
        CPU devices) deadlocked in XLA's CPU runtime (threads parked, 0% CPU)."""
        return jax.device_put(self.strategy.get_mean(es_state), self.problem.devices[0])

    def mean_dataset(self, es_state, **meta) -> ds_lib.Dataset:
        sol = jax.tree.map(np.asarray, self.mean_solution(es_state))
        return ds_lib.from_solution(
            sol,
            self.cfg.env.name,
            self.problem.label_kind,
            fixed_labels=self.problem.fixed_labels,
            obs_norm=self.cfg.env.normalize,
            obs_mean=None if self.obs_mean is None else np.ravel(self.obs_mean),
            obs_var=None if self.obs_var is None else np.ravel(self.obs_var),
            meta=self.dataset_meta(**meta),
        )

    def dataset_meta(self, **extra) -> dict:
        meta: dict[str, Any] = {"source": "hades-run", "config": self.cfg.to_dict()}
        if self.cfg.fitness.fixed_init:
            meta["fixed_init_seed"] = self.cfg.fixed_init_seed
        meta.update(extra)
        return meta

    def eval_init_keys(self, key, n: int):
        if self.cfg.fitness.fixed_init:
            return jnp.broadcast_to(
                jax.random.PRNGKey(self.cfg.fixed_init_seed), (1, 2)
            )
        return jax.random.split(key, n)

    def mean_dataset_returns(self, es_state, generation: int) -> np.ndarray:
        """Returns of the mean dataset under `eval_inits` fresh inits."""
        key = jax.random.fold_in(self.eval_key, generation)
        k_init, k_roll = jax.random.split(key)
        init_keys = self.eval_init_keys(k_init, self.cfg.outer.eval_inits)
        solution = self.mean_solution(es_state)
        rets, _ = self.problem.dataset_returns_jit(k_roll, solution, init_keys)
        return np.asarray(rets)

    # Driver ---------------------------------------------------------------------------
    def run(
        self,
        es_state=None,
        es_params=None,
        start: int = 0,
        generations: int | None = None,
        progress_fn: Callable[[ChunkResult], Any] | None = None,
        control: Callable[[Any, Any, int], tuple[Any, Any, bool]] | None = None,
    ):
        """Run to `generations` (default the config's) from `start`.

        `control(es_state, es_params, generation) -> (es_state, es_params, stop)` is
        called between chunks (live tuning, pause, stop). Returns (state, params,
        generation reached).
        """
        if es_state is None:
            es_state, es_params = self.init(es_params)
        total = self.cfg.outer.generations if generations is None else generations
        gen = start
        while gen < total:
            if control is not None:
                es_state, es_params, stop = control(es_state, es_params, gen)
                if stop:
                    break
            es_state, es_params, gen, result = self.step_chunk(
                es_state, es_params, gen, total
            )
            if progress_fn is not None:
                progress_fn(result)
        return es_state, es_params, gen

    def step_chunk(self, es_state, es_params, gen: int, total: int):
        """One chunk from `gen` (at most `chunk` generations, not past `total`)."""
        length = min(self.cfg.outer.chunk, total - gen)
        compiled = length not in self._compiled_lengths
        t0 = time.perf_counter()
        es_state, metrics = self.run_chunk(es_state, es_params, gen, length)
        metrics = jax.tree.map(np.asarray, jax.device_get(metrics))
        seconds = time.perf_counter() - t0
        self._compiled_lengths.add(length)
        gen += length
        mean_ret = None
        every = self.cfg.outer.eval_every
        if gen // every > (gen - length) // every or gen >= total:
            mean_ret = float(np.mean(self.mean_dataset_returns(es_state, gen)))
        rows = [{k: _py(v[i]) for k, v in metrics.items()} for i in range(length)]
        return (
            es_state,
            es_params,
            gen,
            ChunkResult(gen, rows, mean_ret, seconds, compiled),
        )


def _py(x):
    x = np.asarray(x)
    return int(x) if x.dtype.kind in "iu" else float(x)
