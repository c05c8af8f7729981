"""Seconds per generation of HaDES vs a raw jitted rollout of the same batch.

For each config: compile seconds, seconds per generation, env-steps/s of the whole
generation (population x inits x envs x steps over the generation's wall time), and
the same for a raw rollout of the same policy and batch (no behaviour cloning, no ES),
with their ratio. Both are measured side by side in one process, compile excluded.

    PYTHONPATH=. python benchmarks/bench_generation.py                 # all configs
    PYTHONPATH=. python benchmarks/bench_generation.py bench-cartpole --member-batch 2
    PYTHONPATH=. python benchmarks/bench_generation.py --cache-check bench-cartpole
    PYTHONPATH=. python benchmarks/bench_generation.py --compare-devices bench-hopper

The engine gives XLA one CPU device per core and shards the population over them
(`engine/__init__.py`); `--compare-devices` reruns each config on a single device in
a fresh process (HADES_CPU_DEVICES=1) and prints the ratio.

`--cache-check` launches the same config twice in fresh processes with the persistent
compilation cache on (an empty temp dir first) and reports both compile times.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

import engine
from engine import presets
from engine.outer import Distiller

CONFIGS = {
    "bench-cartpole": ("bench-cartpole", None, None),
    "bench-breakout": ("bench-breakout", None, None),
    "bench-hopper": ("bench-hopper", None, None),
    "quick-cartpole": ("quick", "CartPole-v1", 4),
    "quick-breakout": ("quick", "Breakout-MinAtar", 16),
    "quick-hopper": ("quick", "hopper", 4),
}
# The authors' code on this kind of machine (HADES.md, "Stack facts"), s/gen.
AUTHORS = {"bench-cartpole": 0.29, "bench-breakout": 10.5, "bench-hopper": 21.5}


def make_config(name: str, member_batch: int | None):
    preset, env, size = CONFIGS[name]
    cfg = presets.make(preset, env, size, 0)
    if member_batch is not None:
        cfg = cfg.with_overrides({"fitness.member_batch": member_batch})
    return cfg


def bench_generation(d: Distiller, gens: int):
    state, params = d.init()
    t0 = time.perf_counter()
    state, m = d.run_chunk(state, params, 0, 1)
    jax.block_until_ready(state)
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for g in range(gens):
        state, m = d.run_chunk(state, params, 1 + g, 1)
    jax.block_until_ready(state)
    return compile_s, (time.perf_counter() - t0) / gens


def bench_raw_rollout(d: Distiller, reps: int):
    """The generation's rollouts alone: same devices, member groups and keys, with
    one fresh untrained policy per member (no behaviour cloning, no ES)."""
    prob = d.problem
    n = d.cfg.outer.population
    population = jax.vmap(prob.init_params)(jax.random.split(jax.random.PRNGKey(0), n))
    raw = jax.jit(partial(prob.population_fitness, train=False))
    t0 = time.perf_counter()
    jax.block_until_ready(raw(jax.random.PRNGKey(1), population))
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for r in range(reps):
        jax.block_until_ready(raw(jax.random.PRNGKey(2 + r), population))
    return compile_s, (time.perf_counter() - t0) / reps


def run(name: str, gens: int, member_batch: int | None) -> dict:
    cfg = make_config(name, member_batch)
    d = Distiller(cfg)
    f = cfg.fitness
    steps = cfg.outer.population * f.inits * f.num_envs * f.num_steps
    c_gen, s_gen = bench_generation(d, gens)
    c_raw, s_raw = bench_raw_rollout(d, max(1, gens))
    row = {
        "config": name,
        "member_batch": d.problem.member_batch,
        "devices": len(d.problem.devices),
        "compile_s": round(c_gen, 2),
        "s_per_gen": round(s_gen, 4),
        "gen_steps_per_s": round(steps / s_gen),
        "raw_compile_s": round(c_raw, 2),
        "raw_s": round(s_raw, 4),
        "raw_steps_per_s": round(steps / s_raw),
        "gen_over_raw": round(s_raw / s_gen, 3),
    }
    if name in AUTHORS:
        row["authors_s_per_gen"] = AUTHORS[name]
        row["speedup_vs_authors"] = round(AUTHORS[name] / s_gen, 2)
    return row


def cache_check(name: str) -> dict:
    """Compile time of a first and a second launch with the persistent cache."""
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, HADES_JAX_CACHE=tmp)
        code = (
            "import sys, json, time; sys.argv=['x'];"
            "import engine; engine.setup();"
            "from benchmarks.bench_generation import make_config, bench_generation;"
            "from engine.outer import Distiller;"
            f"c, s = bench_generation(Distiller(make_config({name!r}, None)), 1);"
            "print(json.dumps({'compile_s': c}))"
        )
        times = []
        for _ in range(2):
            out = subprocess.run(
                [sys.executable, "-c", code],
                env=env,
                text=True,
                capture_output=True,
                check=True,
            )
            times.append(json.loads(out.stdout.strip().splitlines()[-1])["compile_s"])
    return {
        "config": name,
        "first_launch_compile_s": round(times[0], 2),
        "second_launch_compile_s": round(times[1], 2),
    }


def one_device_row(name: str, gens: int, member_batch: int | None) -> dict:
    """The same config in a fresh process restricted to one XLA CPU device."""
    env = dict(os.environ, HADES_CPU_DEVICES="1")
    env.pop("XLA_FLAGS", None)
    code = (
        "import json, engine; engine.setup();"
        "from benchmarks.bench_generation import run;"
        f"print(json.dumps(run({name!r}, {gens}, {member_batch!r})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, text=True, capture_output=True
    )
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("configs", nargs="*", default=list(CONFIGS))
    ap.add_argument("--gens", type=int, default=3)
    ap.add_argument("--member-batch", type=int, default=None)
    ap.add_argument("--cache-check", action="store_true")
    ap.add_argument(
        "--compare-devices",
        action="store_true",
        help="also run each config on one CPU device (a fresh process) and print "
        "the speed-up of the per-core devices over it",
    )
    args = ap.parse_args()
    print(f"devices: {jax.devices()}  cpus: {os.cpu_count()}", flush=True)
    for name in args.configs:
        row = (
            cache_check(name)
            if args.cache_check
            else run(name, args.gens, args.member_batch)
        )
        print(json.dumps(row), flush=True)
        if args.compare_devices and not args.cache_check:
            one = one_device_row(name, args.gens, args.member_batch)
            print(json.dumps(one), flush=True)
            print(
                json.dumps(
                    {
                        "config": name,
                        "devices_speedup": round(
                            one["s_per_gen"] / row["s_per_gen"], 2
                        ),
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    engine.setup()  # a CPU device per core, before JAX starts
    jnp.zeros(1)
    np.zeros(1)
    main()
