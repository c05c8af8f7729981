"""Outer loop: an evolution strategy over the flattened dataset (HaDES).

`Distiller` is the `engine.driver.EsDriver` of one HaDES config: its fitness trains
fresh policies on each candidate dataset and rolls them out; its evaluation is the
mean return of the ES mean dataset. The loop itself (jitted chunks, hooks between
them) is the driver's.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from engine import dataset as ds_lib
from engine import multihost
from engine.config import ConfigError, HadesConfig
from engine.driver import ChunkResult, EsDriver, clean_fitness
from engine.envs.registry import get_spec, make_env
from engine.fitness import Problem
from engine.obs_stats import for_config
from engine.strategies import Strategy

__all__ = ["METRIC_NAMES", "ChunkResult", "Distiller", "clean_fitness"]

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


class Distiller(EsDriver):
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
            raise ConfigError(
                "outer.population",
                cfg.outer.population,
                f"must be divisible by the {n_dev} "
                + (
                    "devices of the run's processes"
                    if multihost.count() > 1
                    else "local devices"
                ),
            )
        # With several devices the ES state lives replicated on the population mesh,
        # where the chunk leaves it; placing it there first avoids a recompile after
        # the first chunk (and after a resume from a checkpoint).
        mesh = self.problem.mesh
        replicated = (
            None
            if mesh is None
            else jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
        )
        super().__init__(
            Strategy(cfg.outer, self.problem.template),
            # Looked up at trace time, so a patched `problem` takes effect
            lambda key, population: self.problem.population_fitness(key, population),
            cfg.seed,
            cfg.outer.chunk,
            # Over several processes only the leader evaluates the mean dataset.
            evaluate=self._evaluate if multihost.is_leader() else None,
            eval_every=cfg.outer.eval_every,
            aux_name="bc_loss",
            replicated=replicated,
        )
        self.eval_key = jax.random.fold_in(self.run_key, 2**31 - 1)

    # Init -------------------------------------------------------------------------
    def init(self, params=None):
        """(es_state, es_params): mean at zeros (or init_std * normal)."""
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
        return super().init(mean, params)

    # The product: the ES mean ------------------------------------------------
    def mean_solution(self, es_state):
        """The ES mean, on one device: after a sharded chunk it is replicated over
        the population mesh, and evaluating it there (a replicated program over the
        CPU devices) deadlocked in XLA's CPU runtime (threads parked, 0% CPU).
        Over several processes: this process's copy, on its first device."""
        if multihost.count() > 1:
            return self.strategy.get_mean(multihost.local(es_state))
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

    def _evaluate(self, es_state, generation: int) -> float:
        return float(np.mean(self.mean_dataset_returns(es_state, generation)))

    # Driver ---------------------------------------------------------------------------
    def run(
        self,
        es_state=None,
        es_params=None,
        start: int = 0,
        generations: int | None = None,
        progress_fn=None,
        control=None,
    ):
        """`EsDriver.run` to `generations` (default the config's), from a fresh
        state when `es_state` is None. Returns (state, params, generation reached)."""
        if es_state is None:
            es_state, es_params = self.init(es_params)
        total = self.cfg.outer.generations if generations is None else generations
        return super().run(es_state, es_params, start, total, progress_fn, control)
