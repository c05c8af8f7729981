"""Evaluate a dataset: fresh policies trained on it, scored in the environment.

The inner loop and fitness settings come from the dataset's own metadata (a run's
config, or the paper's config for imported files) over the env's `paper` preset, so
a published dataset is scored exactly as in the paper unless overridden.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from engine import presets
from engine.config import HadesConfig
from engine.dataset import Dataset
from engine.fitness import Problem, legacy_rng
from engine.progress import Eta

# Sections of a dataset's stored config that describe how to train and score it.
_EVAL_SECTIONS = ("env", "inner", "fitness")


@dataclass
class EvalResult:
    env: str
    size: int
    mean_return: float
    std_return: float
    per_init: list[float]
    bc_loss: list[float]
    fixed_init: bool
    inits: int
    seed: int

    def to_dict(self) -> dict:
        return asdict(self)


def config_for_dataset(ds: Dataset, overrides: dict | None = None) -> HadesConfig:
    """Config that trains and scores `ds`: paper preset < dataset meta < overrides."""
    base = presets.make("paper", ds.env, ds.size).to_dict()
    stored = ds.meta.get("config") or {}
    for sec in _EVAL_SECTIONS:
        if isinstance(stored.get(sec), dict):
            base[sec].update(stored[sec])
    base["env"]["name"] = ds.env
    base["env"]["normalize"] = ds.obs_norm
    base["env"]["stats_file"] = ""
    base["dataset"] = {"size": ds.size, "labels": ds.label_kind}
    if ds.meta.get("fixed_init_seed") is None:
        base["fitness"]["fixed_init"] = False
    cfg = HadesConfig.from_dict(base)
    return cfg.with_overrides(overrides) if overrides else cfg


def problem_for_dataset(ds: Dataset, cfg: HadesConfig | None = None) -> Problem:
    cfg = cfg or config_for_dataset(ds)
    return Problem(
        cfg,
        ds.obs_mean,
        ds.obs_var,
        fixed_labels=ds.labels if ds.label_kind == "onehot" else None,
    )


def init_keys_for(ds: Dataset, key, inits: int, random_inits: bool):
    """(inits, 2) keys; a HaDES-F dataset reuses its fixed init unless asked not to."""
    fixed = ds.meta.get("fixed_init_seed")
    if fixed is not None and not random_inits:
        return jnp.broadcast_to(jax.random.PRNGKey(int(fixed)), (inits, 2)), True
    return jax.random.split(key, inits), False


def uses_legacy_rng(ds: Dataset, fixed: bool) -> bool:
    """Paper files' fixed inits were drawn with jax < 0.5 random bits."""
    return fixed and ds.meta.get("source") == "paper-import"


EVAL_GROUP = 2
"""Inits per call when progress is reported (the groups `Problem.dataset_returns`
vmaps over)."""


@partial(jax.jit, static_argnums=0)
def _group_returns(problem: Problem, solution, init_keys, roll_keys):
    """(returns, losses) of one group of inits: `dataset_returns`' inner step."""
    return jax.vmap(lambda ik, rk: problem.candidate_return(solution, ik, rk))(
        init_keys, roll_keys
    )


def _grouped_returns(problem, k_roll, solution, init_keys, progress_fn):
    """`dataset_returns` group by group, with a progress event after each:
    {stage, done, total, elapsed, eta_seconds} (ETA from the groups after the
    first, which compiles). Same keys, same values as the single call."""
    n = init_keys.shape[0]
    roll_keys = jax.random.split(k_roll, n)
    eta = Eta(n)
    rets, losses = [], []
    for i in range(0, n, EVAL_GROUP):
        r, loss = _group_returns(
            problem,
            solution,
            init_keys[i : i + EVAL_GROUP],
            roll_keys[i : i + EVAL_GROUP],
        )
        rets.append(np.asarray(r))
        losses.append(np.asarray(loss))
        done = min(n, i + EVAL_GROUP)
        progress_fn(
            {
                "stage": "evaluate",
                "done": done,
                "total": n,
                "elapsed": eta.elapsed(),
                "eta_seconds": eta.update(done),
            }
        )
    return np.concatenate(rets), np.concatenate(losses)


def evaluate_dataset(
    ds: Dataset,
    inits: int = 8,
    seed: int = 0,
    random_inits: bool = False,
    overrides: dict | None = None,
    progress_fn: Callable[[dict], Any] | None = None,
) -> EvalResult:
    """Train `inits` fresh policies on `ds` and score each in its environment.

    The inner loop and fitness settings come from the dataset's own metadata over
    the env's paper preset (`config_for_dataset`); `overrides` ({"section.field":
    value}) change them. A HaDES-F dataset reuses its fixed init unless
    `random_inits`. `progress_fn`, if given, receives {stage, done, total, elapsed,
    eta_seconds} after each group of `EVAL_GROUP` inits.
    """
    cfg = config_for_dataset(ds, overrides)
    problem = problem_for_dataset(ds, cfg)
    k_init, k_roll = jax.random.split(jax.random.PRNGKey(seed))
    init_keys, fixed = init_keys_for(ds, k_init, inits, random_inits)
    solution = jax.tree.map(jnp.asarray, ds.to_solution())
    with legacy_rng(uses_legacy_rng(ds, fixed)):
        if progress_fn is None:
            rets, losses = problem.dataset_returns_jit(k_roll, solution, init_keys)
        else:
            rets, losses = _grouped_returns(
                problem, k_roll, solution, init_keys, progress_fn
            )
    rets = np.asarray(rets, np.float64)
    return EvalResult(
        ds.env,
        ds.size,
        float(rets.mean()),
        float(rets.std()),
        [float(r) for r in rets],
        [float(x) for x in np.asarray(losses)],
        fixed,
        inits,
        seed,
    )


def train_policy(
    ds: Dataset, key, cfg: HadesConfig | None = None, random_inits: bool = False
):
    """(problem, params) of one policy trained on `ds` (for rollouts and videos)."""
    problem = problem_for_dataset(ds, cfg)
    init_keys, fixed = init_keys_for(ds, key, 1, random_inits)
    solution = jax.tree.map(jnp.asarray, ds.to_solution())
    with legacy_rng(uses_legacy_rng(ds, fixed)):
        params, _ = jax.jit(problem.train_policy)(solution, init_keys[0])
    return problem, params
