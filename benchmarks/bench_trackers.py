"""What experiment trackers cost a run (engine/trackers).

Same config (CartPole `quick`: population 64, MLP 2x64, 100 BC steps, 8 envs x 500
steps, 20 generations in chunks of 5, mean dataset evaluated every 5), same
`Distiller` (compiled once, before timing), `Runner.run` with:

- `none`: no trackers;
- `tb+wandb`: TensorBoard and W&B offline, with media at every evaluation point
  (a dataset picture and a rollout of a freshly trained policy, drawn in a
  background thread that shares the CPU with the run);
- `wandb-down`: W&B online with its server a closed port on 127.0.0.1 (no traffic
  leaves the machine; W&B's error reporting off).

Each run is a fresh process (W&B reads its mode once per process). Reported per
variant, median over the repeats (variants interleaved): the run's wall time
(`Runner.run`, what the run itself takes) and the time `close()` then waits for
the trackers (the last evaluation point's picture and video, W&B's finish).

    PYTHONPATH=. python benchmarks/bench_trackers.py [--repeats 3]
        [--variants none,tb+wandb,wandb-down]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from engine import presets
from engine.runs import Runner
from engine.runs.runner import shared_distiller
from engine.trackers import make_trackers


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


VARIANTS = {
    "none": ([], {}),
    "tb+wandb": (["tensorboard", "wandb"], {"WANDB_MODE": "offline"}),
    "wandb-down": (["wandb"], {"WANDB_MODE": "online", "WANDB_API_KEY": "x" * 40}),
}


def one(names: list[str]) -> dict:
    """One run with trackers `names` in this process (W&B reads its mode once per
    process, so every variant runs in a fresh one): run wall, close wait."""
    import engine

    engine.setup()
    cfg = presets.make("quick", "CartPole-v1", 4, 0)
    shared_distiller(cfg).run()  # compile once, outside the timings
    with tempfile.TemporaryDirectory() as root:
        if names:  # compile the media renderer's policy training too
            warm = Runner.create(
                cfg.with_overrides({"outer.generations": 5}), root=root
            )
            hub = make_trackers(["tensorboard"], warm, info=None)
            warm.run(progress_fn=hub.progress)
            hub.close()
        runner = Runner.create(cfg, root=root)
        warnings: list[str] = []
        hub = make_trackers(names, runner, warn=warnings.append, info=None)
        t0 = time.perf_counter()
        summary = runner.run(progress_fn=hub.progress if hub else None)
        wall = time.perf_counter() - t0
        t1 = time.perf_counter()
        if hub is not None:
            hub.close()
        wait = time.perf_counter() - t1
    assert summary["status"] == "finished", summary
    return {"wall": wall, "wait": wait, "warnings": warnings,
            "generations": cfg.outer.generations}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--variant", help=argparse.SUPPRESS)  # a child process
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(one(VARIANTS[args.variant][0])))
        return
    env = {
        **os.environ,
        "WANDB_BASE_URL": f"http://127.0.0.1:{closed_port()}",
        "WANDB_ERROR_REPORTING": "false",
        "HADES_JAX_CACHE": "0",
    }
    chosen = [v for v in args.variants.split(",") if v]
    results: dict[str, list[dict]] = {k: [] for k in chosen}
    for _ in range(args.repeats):
        for name in chosen:
            extra = VARIANTS[name][1]
            r = subprocess.run(
                [sys.executable, __file__, "--variant", name],
                env={**env, **extra}, capture_output=True, text=True, check=True,
            )  # fmt: skip
            results[name].append(json.loads(r.stdout.strip().splitlines()[-1]))
    base = statistics.median(r["wall"] for r in results["none"])
    n = results["none"][0]["generations"]
    print(f"{n} generations, median of {args.repeats} (each in a fresh process)")
    print("| trackers | run wall s | vs none | close waits s | warnings per run |")
    print("|---|---|---|---|---|")
    for name, rows in results.items():
        wall = statistics.median(r["wall"] for r in rows)
        wait = statistics.median(r["wait"] for r in rows)
        warns = sorted({len(r["warnings"]) for r in rows})
        first = next((r["warnings"][0] for r in rows if r["warnings"]), "")
        note = f"{warns}: {first[:60]}..." if first else str(warns)
        print(f"| {name} | {wall:.2f} | {wall / base:.2f}x | {wait:.2f} | {note} |")


if __name__ == "__main__":
    main()
