"""The one ES driver: ask, evaluate, tell in jitted `lax.scan` chunks, with hooks
between the chunks (as brax's trainers call `progress_fn`).

Every evolution strategy in HaDES Studio runs through `EsDriver.run`: the HaDES
distillation (`engine.outer.Distiller`, a driver over datasets), the run store's
`Runner` (checkpoints, control, status between chunks), the studies (through the
run store, or directly for the neuroevolution baseline and the supervised images)
and the benchmarks. The key of generation g is fold_in(run_key, g), so a run's
result does not depend on how it is chunked, stopped or resumed.

Between two chunks the driver calls, in order:

- ``control(es_state, es_params, generation) -> (es_state, es_params, stop)``
  (live knobs, pause, stop; the state it returns is what the next chunk runs on);
- after the chunk, ``progress_fn(ChunkResult)`` (metrics, checkpoints, status).
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

from engine import multihost

FitnessFn = Callable[[jax.Array, Any], tuple[jax.Array, jax.Array]]
"""`fitness_fn(key, population) -> (fitness, aux)`, maximised; `aux` is a
per-member number logged as its mean."""
ControlFn = Callable[[Any, Any, int], tuple[Any, Any, bool]]
ProgressFn = Callable[["ChunkResult"], Any]


@dataclass
class ChunkResult:
    """What `progress_fn` receives after each chunk."""

    generation: int  # generations completed so far
    metrics: list[dict]  # one dict per generation of this chunk
    evaluation: Any  # `evaluate(es_state, generation)`, None when not due
    seconds: float  # wall time of the chunk and its evaluation
    compiled: bool  # this chunk (or the first evaluation) compiled
    es_state: Any = None  # the ES state after the chunk (for checkpoint hooks)
    es_params: Any = None

    @property
    def mean_dataset_return(self):
        """The evaluation of a HaDES run: the mean dataset's mean return."""
        return self.evaluation


def clean_fitness(fitness: jax.Array):
    """Replace NaN/inf by the worst finite value (0 if none); count them."""
    finite = jnp.isfinite(fitness)
    worst = jnp.min(jnp.where(finite, fitness, jnp.inf))
    worst = jnp.where(jnp.any(finite), worst, 0.0)
    return jnp.where(finite, fitness, worst), jnp.sum(~finite)


class EsDriver:
    """One evolution strategy over one fitness function, run in chunks.

    `strategy` is an `engine.strategies.Strategy`. `evaluate(es_state, generation)`,
    when given, is called every `eval_every` generations and at the end; its value
    goes to `ChunkResult.evaluation`. `replicated` (a sharding) places the ES state
    before each chunk, where a population-sharded chunk leaves it (no recompile);
    over several processes (`engine.multihost`) each places its own copy.
    """

    def __init__(
        self,
        strategy,
        fitness_fn: FitnessFn,
        seed: int,
        chunk: int,
        evaluate: Callable[[Any, int], Any] | None = None,
        eval_every: int = 0,
        aux_name: str = "aux",
        replicated=None,
    ):
        self.strategy = strategy
        self.fitness_fn = fitness_fn
        self.chunk = int(chunk)
        self.evaluate = evaluate
        self.eval_every = int(eval_every)
        self.aux_name = aux_name
        self.replicated = replicated
        self.run_key, self.init_key = jax.random.split(jax.random.PRNGKey(seed))
        self.compiled_lengths: set[int] = set()
        self._evaluated = False

    # Init ---------------------------------------------------------------------------
    def init(self, mean, params=None):
        """(es_state, es_params) with the ES mean at `mean`."""
        params = self.strategy.default_params() if params is None else params
        return self.strategy.init(self.init_key, mean, params), params

    # One generation -----------------------------------------------------------------
    def generation(self, es_state, es_params, gen):
        """Ask, evaluate, tell for generation `gen`; returns (state, metrics)."""
        key = jax.random.fold_in(self.run_key, gen)
        k_ask, k_eval, k_tell = jax.random.split(key, 3)
        population, es_state = self.strategy.ask(k_ask, es_state, es_params)
        if self.replicated is not None:
            # Asked on every device, as the state is: left to itself, XLA shards the
            # ask along the population and gathers it back for the tell, a dozen
            # collectives a generation that cost a third of the speed over gloo.
            population = jax.lax.with_sharding_constraint(population, self.replicated)
        fitness, aux = self.fitness_fn(k_eval, population)
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
            self.aux_name: jnp.nanmean(aux),
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
            es_state, es_params = multihost.replicate(
                (es_state, es_params), self.replicated
            )
        return self._chunk(es_state, es_params, jnp.asarray(start, jnp.int32), length)

    def step_chunk(self, es_state, es_params, gen: int, total: int):
        """One chunk from `gen` (at most `chunk` generations, not past `total`),
        then the evaluation when due. Returns (state, params, gen, ChunkResult)."""
        length = min(self.chunk, total - gen)
        compiled = length not in self.compiled_lengths
        t0 = time.perf_counter()
        with multihost.peer_errors():  # a distributed run whose process died
            es_state, metrics = self.run_chunk(es_state, es_params, gen, length)
            metrics = jax.tree.map(np.asarray, jax.device_get(metrics))
        self.compiled_lengths.add(length)
        gen += length
        value = None
        every = self.eval_every
        due = gen >= total or (every > 0 and gen // every > (gen - length) // every)
        if self.evaluate is not None and due:
            compiled = compiled or not self._evaluated
            value = self.evaluate(es_state, gen)
            self._evaluated = True
        rows = [{k: _py(v[i]) for k, v in metrics.items()} for i in range(length)]
        seconds = time.perf_counter() - t0
        return (
            es_state,
            es_params,
            gen,
            ChunkResult(gen, rows, value, seconds, compiled, es_state, es_params),
        )

    # The loop -----------------------------------------------------------------------
    def run(
        self,
        es_state,
        es_params,
        start: int,
        total: int,
        progress_fn: ProgressFn | None = None,
        control: ControlFn | None = None,
    ):
        """Run from generation `start` to `total`; returns (state, params, gen)."""
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


def _py(x):
    x = np.asarray(x)
    return int(x) if x.dtype.kind in "iu" else float(x)
