"""Neuroevolution baseline: the same ES on the policy's weights directly.

Lupu et al., "Behaviour Distillation" (ICLR 2024): HaDES-F is an indirect encoding of
one policy, and it evolves better policies than running the same evolution strategy
on the policy parameters themselves (mean started at zero). This study runs, with one
config (population, generations, ES settings, policy architecture, fitness):

- HaDES-R: a dataset, fresh random policy inits every generation;
- HaDES-F: a dataset, one fixed policy init (key 420 + seed);
- neuroevolution: the policy parameters are the search variable.

All three use `engine.strategies.Strategy` built from the same `OuterConfig`, so the
same evosax algorithm class (the registry's `outer.strategy`); neuroevolution simply
passes the policy-parameter pytree as the solution template (zeros: the mean starts
at zero, as the paper). Its fitness is the return of the candidate parameters,
`Problem.score_params`, with `fitness.inits` rollouts per member whose keys are
common to the population (as HaDES's rollout keys). The search dimensions are
reported: a dataset has far fewer than the weights it trains.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from engine import dataset as ds_lib
from engine import presets
from engine.config import HadesConfig
from engine.driver import EsDriver
from engine.figures.baseline import figure
from engine.fitness import Problem
from engine.policy import param_count
from engine.strategies import Strategy
from engine.studies import common
from engine.studies.params import StudyParams, make

NAME = "baseline"
METHODS = ("hades_r", "hades_f", "neuroevolution")
LABELS = {
    "hades_r": "HaDES-R",
    "hades_f": "HaDES-F",
    "neuroevolution": "neuroevolution (weights)",
}


class Neuroevolution:
    """The ES of a HaDES config run on the policy parameters (zero initial mean)."""

    def __init__(self, cfg: HadesConfig, problem: Problem | None = None):
        self.cfg = cfg
        if problem is None:
            from engine.envs.registry import get_spec, make_env
            from engine.obs_stats import for_config

            spec = get_spec(cfg.env.name)
            env = make_env(cfg.env.name, cfg.env.backend, cfg.env.episode_length)
            problem = Problem(cfg, *for_config(cfg, env, spec))
        self.problem = problem
        params = problem.init_params(jax.random.PRNGKey(0))
        self.template = jax.tree.map(lambda x: np.zeros(x.shape, np.float32), params)
        self.strategy = Strategy(cfg.outer, self.template)
        self.loop = EsDriver(
            self.strategy, self.population_fitness, cfg.seed, cfg.outer.chunk
        )
        run_key = jax.random.split(jax.random.PRNGKey(cfg.seed))[0]
        self.eval_key = jax.random.fold_in(run_key, 2**31 - 1)

    @property
    def num_dims(self) -> int:
        return param_count(self.template)

    def init(self):
        mean = jax.tree.map(jnp.asarray, self.template)
        return self.loop.init(mean)

    def _member(self, params, roll_keys):
        rets = jax.vmap(self.problem.score_params, in_axes=(None, 0))(params, roll_keys)
        return rets.mean()

    def population_fitness(self, key, population):
        """Return of every member (population,), mean over `fitness.inits` rollouts."""
        f = self.cfg.fitness
        n = jax.tree.leaves(population)[0].shape[0]
        if f.common_random_numbers:
            keys = jnp.broadcast_to(jax.random.split(key, f.inits), (n, f.inits, 2))
        else:
            keys = jax.random.split(key, n * f.inits).reshape(n, f.inits, 2)
        mb = self.problem.member_batch
        if mb and mb < n:
            rets = jax.lax.map(
                lambda x: self._member(*x), (population, keys), batch_size=mb
            )
        else:
            rets = jax.vmap(self._member)(population, keys)
        return rets, jnp.zeros_like(rets)

    @partial(jax.jit, static_argnums=(0, 2))
    def _mean_returns(self, mean, n: int, key):
        return jax.lax.map(
            lambda k: self.problem.score_params(mean, k),
            jax.random.split(key, n),
            batch_size=2,
        )

    def mean_returns(self, es_state, generation: int, n: int) -> np.ndarray:
        """Returns of the ES mean parameters in `n` rollouts."""
        key = jax.random.fold_in(self.eval_key, generation)
        return np.asarray(self._mean_returns(self.strategy.get_mean(es_state), n, key))


def configs(cfg: HadesConfig) -> dict[str, HadesConfig]:
    """The HaDES-R, HaDES-F and neuroevolution configs derived from one config."""
    r = cfg.with_overrides({"fitness.fixed_init": False})
    f = cfg.with_overrides({"fitness.fixed_init": True, "fitness.inits": 1})
    return {"hades_r": r, "hades_f": f, "neuroevolution": r}


def _final_dataset_returns(d, es_state, n: int, seed: int) -> np.ndarray:
    key = jax.random.PRNGKey(seed + 30_000)
    k_init, k_roll = jax.random.split(key)
    init_keys = d.eval_init_keys(k_init, n)
    if init_keys.shape[0] != n:
        init_keys = jnp.broadcast_to(init_keys[0], (n, 2))
    rets, _ = d.problem.dataset_returns_jit(
        k_roll, d.mean_solution(es_state), init_keys
    )
    return np.asarray(rets)


@dataclass(frozen=True)
class Params(StudyParams):
    """The baseline study's parameters."""

    env: str = "CartPole-v1"
    """Environment of every method."""
    size: int | None = None
    """Dataset size N of the HaDES methods (default: the preset's)."""
    generations: int | None = None
    """ES generations of every method (default: the preset's)."""
    population: int | None = None
    """ES population of every method (default: the preset's)."""
    eval_inits: int | None = None
    """Evaluations of each final ES mean (default: the preset's)."""
    methods: tuple[str, ...] = field(default=METHODS, metadata={"choices": METHODS})
    """Methods compared: hades_r, hades_f, neuroevolution."""

    def __post_init__(self):
        super().__post_init__()
        bad = [m for m in self.methods if m not in METHODS]
        if bad or not self.methods:
            raise common.StudyError(f"methods {bad}: use {', '.join(METHODS)}")

    def config(self) -> HadesConfig:
        ov = self.override_dict()
        if self.generations is not None:
            ov["outer.generations"] = self.generations
        if self.population is not None:
            ov["outer.population"] = self.population
        cfg = presets.make(self.preset, self.env, self.size, self.seed)
        return cfg.with_overrides(ov) if ov else cfg


def run_baseline(
    params: Params | dict | None = None,
    *,
    runs_root=None,
    progress_fn: common.ProgressFn | None = None,
    resume: str | None = None,
    **values,
) -> dict:
    """HaDES-R, HaDES-F (runs of the store, tagged with the study) and
    neuroevolution with one ES config; curves and numbers.

    Returns per method the final return of its ES mean (``final_return`` mean over
    `eval_inits` evaluations, default `eval.inits`), its search dimensions, and the
    output paths.
    """
    p = make(Params, params, values)
    cfg = p.config()
    with common.StudyDir(NAME, p.to_dict(), runs_root, study_id=resume) as sd:
        return _study(p, cfg, sd, progress_fn)


def _study(p: Params, cfg: HadesConfig, sd, progress_fn) -> dict:
    env, seed, methods = p.env, p.seed, p.methods
    final_inits = p.eval_inits or cfg.eval.inits
    cfgs = configs(cfg)
    curves: list[dict] = []
    results: dict[str, dict] = {}
    strategy_classes: dict[str, str] = {}
    hades_problem = None
    hades = [m for m in methods if m != "neuroevolution"]
    sd.prepare({LABELS[m]: cfgs[m] for m in hades}, progress_fn)
    for m in methods:
        if m == "neuroevolution":
            continue
        d, es_state, rows, evals, _ = sd.distil(cfgs[m], progress_fn, LABELS[m])
        hades_problem = hades_problem or d.problem
        strategy_classes[m] = type(d.strategy.es).__name__
        for r in rows:
            curves.append(
                {
                    "method": m,
                    "generation": r["generation"],
                    "fitness_mean": r["fitness_mean"],
                    "fitness_max": r["fitness_max"],
                }
            )
        for g, v in evals:
            curves.append({"method": m, "generation": g, "mean_return": v})
        final = _final_dataset_returns(d, es_state, final_inits, seed)
        ds = d.mean_dataset(es_state, study=sd.study_id, method=m)
        path = ds_lib.save(ds, sd.datasets_dir() / f"{m}.npz")
        results[m] = {
            "final_return": float(final.mean()),
            "final_return_std": float(final.std()),
            "final_returns": final.tolist(),
            "search_dims": int(d.strategy.num_dims),
            "dataset": path,
        }
    if "neuroevolution" in methods:
        ne = Neuroevolution(cfgs["neuroevolution"], hades_problem)
        strategy_classes["neuroevolution"] = type(ne.strategy.es).__name__
        o = cfg.outer
        es_state, es_params = ne.init()

        def eval_fn(state, gen):
            return float(ne.mean_returns(state, gen, o.eval_inits).mean())

        def on_chunk(gen, rows, evals):
            common.report(
                progress_fn,
                NAME,
                "distil neuroevolution",
                gen,
                o.generations,
                mean_return=evals[-1][1],
            )

        ne.loop.evaluate, ne.loop.eval_every = eval_fn, o.eval_every
        es_state, rows, evals = common.evolve(
            ne.loop, es_state, es_params, o.generations, on_chunk
        )
        for r in rows:
            curves.append(
                {
                    "method": "neuroevolution",
                    "generation": r["generation"],
                    "fitness_mean": r["fitness_mean"],
                    "fitness_max": r["fitness_max"],
                }
            )
        for g, v in evals:
            if g > 0:
                curves.append(
                    {"method": "neuroevolution", "generation": g, "mean_return": v}
                )
        final = ne.mean_returns(es_state, 10**6, final_inits)
        mean = jax.tree.map(np.asarray, ne.strategy.get_mean(es_state))
        flat = {
            "/".join(str(getattr(p, "key", p)) for p in path): v
            for path, v in jax.tree_util.tree_leaves_with_path(mean)
        }
        np.savez(sd.file("neuroevolution_params.npz"), **flat)
        results["neuroevolution"] = {
            "final_return": float(final.mean()),
            "final_return_std": float(final.std()),
            "final_returns": final.tolist(),
            "search_dims": ne.num_dims,
            "params": str(sd.file("neuroevolution_params.npz")),
        }
    policy_params = (
        Neuroevolution(cfg, hades_problem).num_dims
        if "neuroevolution" not in results
        else results["neuroevolution"]["search_dims"]
    )
    csv_path = common.write_csv(sd.file(f"{NAME}.csv"), curves)
    summary_rows = [
        {"method": m, **{k: v for k, v in r.items() if not isinstance(v, list)}}
        for m, r in results.items()
    ]
    summary_path = common.write_csv(sd.file(f"{NAME}_summary.csv"), summary_rows)
    fig = figure(curves, results, env, cfg, LABELS)
    figs = {"curves": common.save_figure(fig, sd.figures, "curves")}
    return sd.finish(
        {
            "env": env,
            "preset": p.preset,
            "eval_inits": final_inits,
            "population": cfg.outer.population,
            "generations": cfg.outer.generations,
            "strategy": cfg.outer.strategy,
            "strategy_classes": strategy_classes,
            "dataset_size": cfg.dataset.size,
            "policy_params": policy_params,
            **{f"{m}_return": r["final_return"] for m, r in results.items()},
            "methods": results,
            "csv": csv_path,
            "summary_csv": summary_path,
            "figures": figs,
        }
    )
