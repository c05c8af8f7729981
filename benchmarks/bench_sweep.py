"""Sweep overhead: eight quick CartPole runs through ``hades sweep --ray local``
against the same eight one after another in one process (``--ray none``).

    PYTHONPATH=. python benchmarks/bench_sweep.py [--runs 8] [--repeat 1]

Both use the persistent compilation cache, in a fresh temp directory warmed first
by one run of the same config (so neither side pays a cold compile the other does
not). One process: the engine's default runtime, one XLA CPU device per core, the
runs one at a time. Ray: a local instance on 127.0.0.1 with every core, one CPU
(and one XLA CPU device) per run, so as many runs at once as cores. The wall time is
the whole command (Python start, Ray start, creating the runs, executing them);
``sweep s`` is the sweep's own JSON ``seconds`` (from its start to its end). Each
repeat runs the two modes back to back; the ratio of their medians is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def sweep(args: list[str], root: Path, env: dict) -> tuple[float, dict]:
    cmd = [sys.executable, "-m", "engine.cli", "sweep", *args, "--json", "--quiet"]
    t0 = time.perf_counter()
    out = subprocess.run(
        [*cmd, "--runs", str(root)], capture_output=True, text=True, env=env
    )
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{out.stdout}\n{out.stderr}")
    return wall, json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=8)
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--env", default="CartPole-v1")
    p.add_argument("--preset", default="quick")
    a = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hades-bench-sweep-"))
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "HADES_JAX_CACHE": str(tmp / "jax-cache"),
    }
    grid = ["--env", a.env, "--preset", a.preset]
    seeds = ["--seeds", f"0-{a.runs - 1}"]
    # Warm the compilation cache with the same config (not timed)
    sweep([*grid, "--seeds", "100", "--ray", "none"], tmp / "warm", env)
    times: dict[str, list[float]] = {"one process": [], "ray local": []}
    inner: dict[str, list[float]] = {"one process": [], "ray local": []}
    for i in range(a.repeat):
        for mode, extra in (
            ("one process", ["--ray", "none"]),
            ("ray local", ["--ray", "local", "--cpus-per-run", "1"]),
        ):
            wall, res = sweep([*grid, *seeds, *extra], tmp / f"{mode}-{i}", env)
            assert set(res["statuses"].values()) == {"finished"}, res
            times[mode].append(wall)
            inner[mode].append(res["seconds"])
            print(
                f"repeat {i}: {mode:12s} wall {wall:6.1f} s, sweep "
                f"{res['seconds']:6.1f} s for {len(res['runs'])} runs",
                flush=True,
            )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\n{a.runs} x {a.preset} {a.env}, {os.cpu_count()} CPUs, load {load}")
    print("| mode | wall s (median) | sweep s (median) |\n|---|---|---|")
    for mode in times:
        print(
            f"| {mode} | {statistics.median(times[mode]):.1f} | "
            f"{statistics.median(inner[mode]):.1f} |"
        )
    ratio = statistics.median(times["ray local"]) / statistics.median(
        times["one process"]
    )
    print(f"ray local / one process wall time: {ratio:.2f}")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
