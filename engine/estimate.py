"""Estimate of the time per generation of a config on this device.

Two sources, best first:

1. Past runs in the store of the same environment on the same kind of device
   (their measured steady seconds per generation, scaled by the ratio of the
   heuristic costs of the two configs).
2. A heuristic cost model calibrated on this project's 2-core CPU machine:
   rollout steps x (env step + policy forward) plus behaviour-cloning steps x
   (forward/backward + Adam update), per candidate and init.

It is an estimate (about a factor of two either way); a running run reports the
measured value. Pure (no JAX work, no run store import): the CLI prints it before a
long run starts and the dashboard's Launch page shows it.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from engine.envs.registry import get_spec

# Seconds per single-env step, by family (gymnax / brax positional on 2 CPU cores)
ENV_STEP_SECONDS = {"classic": 4e-7, "minatar": 6e-7, "brax": 2.3e-5}
BRAX_BACKEND_FACTOR = {"positional": 1.0, "spring": 0.4, "generalized": 2.5,
                       "mjx": 2.9}  # fmt: skip
FLOP_SECONDS = 1.5e-11  # effective seconds per multiply-add pair in the MLP
PARAM_STEP_SECONDS = 1e-9  # Adam update of one parameter (memory bound on CPU)
OVERHEAD_SECONDS = 0.02  # per generation: ES ask/tell, host sync
COMPILE_SECONDS = {"classic": 10.0, "minatar": 20.0, "brax": 75.0}


@dataclass(frozen=True)
class Estimate:
    seconds_per_generation: float
    compile_seconds: float
    total_seconds: float
    basis: str
    """What the number rests on, in words."""


def policy_costs(cfg) -> tuple[float, float]:
    """(flops of one policy forward on one observation, parameter count)."""
    spec = get_spec(cfg.env.name)
    w, d = cfg.inner.width, cfg.inner.depth
    n_in, n_out = spec.obs_size, spec.action_dim
    matmul = n_in * w + (d - 1) * w * w + w * n_out
    params = matmul + d * w + n_out * (1 if spec.discrete else 2)
    return 2.0 * matmul, float(params)


def heuristic_seconds(cfg) -> float:
    """Heuristic seconds per generation of `cfg` on a 2-core CPU."""
    spec = get_spec(cfg.env.name)
    o, f, inner = cfg.outer, cfg.fitness, cfg.inner
    flops, params = policy_costs(cfg)
    env_step = ENV_STEP_SECONDS[spec.family]
    if spec.family == "brax":
        env_step *= BRAX_BACKEND_FACTOR.get(cfg.env.backend, 1.0)
    inits = 1 if f.fixed_init else f.inits
    candidates = o.population * inits + o.eval_inits / max(1, o.eval_every)
    rollout = candidates * f.num_envs * f.num_steps * (env_step + flops * FLOP_SECONDS)
    bc = (
        o.population
        * inits
        * inner.steps
        * (3 * cfg.dataset.size * flops * FLOP_SECONDS + params * PARAM_STEP_SECONDS)
    )
    return OVERHEAD_SECONDS + rollout + bc


def from_past_runs(cfg, past: list[tuple[dict, float]]) -> float | None:
    """Median over past runs of their measured s/gen scaled to `cfg`.

    `past` holds (config dict, steady seconds per generation) of runs of the same
    environment on this kind of device.
    """
    from engine.config import ConfigError, HadesConfig

    mine = heuristic_seconds(cfg)
    scaled = []
    for cdict, spg in past:
        if not spg or spg <= 0:
            continue
        try:
            other = HadesConfig.from_dict(cdict)
        except (ConfigError, TypeError, KeyError):
            continue
        scaled.append(spg * mine / heuristic_seconds(other))
    return statistics.median(scaled) if scaled else None


def estimate(
    cfg,
    past: list[tuple[dict, float]] | None = None,
    backend: str = "cpu",
    generations: int | None = None,
) -> Estimate:
    """The time per generation (and compile, total) of `cfg`; see the module doc.

    `generations`: how many are left to run (default: all of `cfg`'s)."""
    spec = get_spec(cfg.env.name)
    measured = from_past_runs(cfg, past or [])
    if measured is not None:
        spg = measured
        basis = (
            f"from {len(past)} past {cfg.env.name} run"
            f"{'s' if len(past) != 1 else ''} on this device, scaled to this config"
        )
    else:
        spg = heuristic_seconds(cfg)
        basis = "heuristic for a 2-core CPU (no past runs of this env here)"
        if backend != "cpu":
            basis += "; an accelerator is usually much faster"
    compile_s = COMPILE_SECONDS[spec.family]
    n = cfg.outer.generations if generations is None else generations
    return Estimate(spg, compile_s, compile_s + spg * n, basis)


def past_runs(
    store, env: str, backend: str, limit: int = 5
) -> list[tuple[dict, float]]:
    """(config, steady s/gen) of recent runs of `env` in `store` on `backend`."""
    out = []
    try:
        rows = store.list(env=env)
    except Exception:
        return out
    for r in rows:
        if len(out) >= limit:
            break
        try:
            st = store.read_status(r["id"])
            spg = st.get("seconds_per_generation")
            if not spg:
                continue
            meta = store.read_config(r["id"])
        except Exception:
            continue
        if (meta.get("devices") or {}).get("backend", "cpu") != backend:
            continue
        out.append((meta.get("config") or {}, float(spg)))
    return out
