"""The paper presets on whatever accelerators are present: seconds per generation,
compile seconds, device memory, and the scaling from one to all local devices.

    PYTHONPATH=. python benchmarks/bench_gpu.py            # the paper presets
    PYTHONPATH=. python benchmarks/bench_gpu.py --quick    # scaled down (any CPU)

Configs: hopper N=4 and N=64 and Breakout-MinAtar N=16, each at the paper's
population 2048 (`engine.presets`, preset "paper"). For every config and every
device count k (1, 2, 4, ... and all local devices, where k divides the
population) a fresh process shards the population over the first k local devices
(as `hades distill` does over all of them) and times generations as one-generation
jitted chunks: compile s is the first chunk's time less one generation, memory is
the first device's peak bytes in use (what the runtime reports; CPUs report none).
`--quick` scales every config down (population 8, small networks and rollouts) so
that the whole table runs on a CPU in minutes: it proves the script, not a speed.
The paper's goal: hopper N=64 under 1 s per generation on one H100-class GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CONFIGS = {
    "hopper N=4": ("hopper", 4),
    "hopper N=64": ("hopper", 64),
    "Breakout N=16": ("Breakout-MinAtar", 16),
}
QUICK = {
    "outer.population": 8,
    "inner.width": 32,
    "inner.steps": 10,
    "fitness.num_envs": 2,
    "fitness.num_steps": 64,
    "fitness.inits": 1,
}


def make_config(name: str, quick: bool):
    from engine import presets

    env, size = CONFIGS[name]
    cfg = presets.make("paper", env, size, 0)
    return cfg.with_overrides(QUICK) if quick else cfg


def device_counts(n: int, population: int) -> list[int]:
    ks = [k for k in range(1, n + 1) if k & (k - 1) == 0 or k == n]
    return [k for k in ks if population % k == 0]


def worker(name: str, k: int, gens: int, quick: bool) -> dict:
    import engine

    engine.setup()
    import jax

    from engine.outer import Distiller

    cfg = make_config(name, quick)
    devices = jax.local_devices()[:k]
    d = Distiller(cfg, devices=devices)
    state, params = d.init()
    t0 = time.perf_counter()
    state, _ = d.run_chunk(state, params, 0, 1)
    jax.block_until_ready(state)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    for g in range(gens):
        state, _ = d.run_chunk(state, params, 1 + g, 1)
    jax.block_until_ready(state)
    spg = (time.perf_counter() - t0) / gens
    stats = devices[0].memory_stats() or {}
    peak = stats.get("peak_bytes_in_use")
    return {
        "config": name,
        "devices": k,
        "platform": devices[0].platform,
        "device_kind": devices[0].device_kind,
        "population": cfg.outer.population,
        "compile_s": max(0.0, first - spg),
        "s_per_gen": spg,
        "peak_bytes": peak,
    }


def run_point(name: str, k: int, gens: int, quick: bool) -> dict:
    cmd = [sys.executable, __file__, "--worker", name, "--devices", str(k)]
    cmd += ["--gens", str(gens)] + (["--quick"] if quick else [])
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    if out.returncode:
        raise SystemExit(f"{name} on {k} devices failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _gib(x) -> str:
    return "n/a" if x is None else f"{x / 2**30:.2f}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("configs", nargs="*", default=list(CONFIGS))
    ap.add_argument("--quick", action="store_true", help="scaled down, for a CPU")
    ap.add_argument("--gens", type=int, default=5, help="generations timed")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--devices", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.probe:
        import engine

        engine.setup()
        import jax

        dev = jax.local_devices()[0]
        print(json.dumps([jax.local_device_count(), dev.platform, dev.device_kind]))
        return 0
    if args.worker:
        print(json.dumps(worker(args.worker, args.devices, args.gens, args.quick)))
        return 0
    # The devices, asked of a child: a GPU client started here would hold the
    # memory the measured processes need.
    probe = subprocess.run(
        [sys.executable, __file__, "--probe"],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    n, platform, kind = json.loads(probe.stdout.strip().splitlines()[-1])
    print(f"{n} local {platform} device(s): {kind}", flush=True)
    rows = []
    for name in args.configs:
        pop = make_config(name, args.quick).outer.population
        for k in device_counts(n, pop):
            r = run_point(name, k, args.gens, args.quick)
            rows.append(r)
            print(
                f"{name} pop {pop} on {k}: {r['s_per_gen']:.4f} s/gen, compile "
                f"{r['compile_s']:.1f} s, peak {_gib(r['peak_bytes'])} GiB",
                flush=True,
            )
    print("\n| config | population | devices | s/gen | speed-up vs 1 | "
          "compile s | peak memory GiB (device 0) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    base = {}
    for r in rows:
        base.setdefault(r["config"], r["s_per_gen"])
        print(
            f"| {r['config']} | {r['population']} | {r['devices']} "
            f"{r['platform']} | {r['s_per_gen']:.4f} | "
            f"{base[r['config']] / r['s_per_gen']:.2f} | {r['compile_s']:.1f} | "
            f"{_gib(r['peak_bytes'])} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
