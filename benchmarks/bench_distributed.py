"""The cost of a run over several processes: 2 processes x 1 device against 1
process x 2 devices, seconds per generation, side by side in one command.

Both layouts run the same `hades distill` (the run store, control and, for the
distributed one, jax.distributed with CPU collectives over gloo on 127.0.0.1 and
the leader's broadcasts before each chunk). s/gen is the median over the chunks
that neither compiled nor evaluated the mean dataset (the last one does), read
from the run's metrics. Layouts alternate (A B A B ... with `--repeats`), so a
drift of the machine's load hits both.

    PYTHONPATH=. python benchmarks/bench_distributed.py            # both configs
    PYTHONPATH=. python benchmarks/bench_distributed.py bench-cartpole --gens 100
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
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GENS = {"bench-cartpole": 100, "bench-hopper": 10, "bench-breakout": 10}


def _env(devices: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env.update(PYTHONPATH=str(ROOT), HADES_CPU_DEVICES=str(devices))
    env.setdefault("HADES_JAX_CACHE", "0")  # compile is not what is compared
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _distill(preset: str, gens: int, runs: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "engine.cli",
        "distill",
        "--preset",
        preset,
        "--generations",
        str(gens),
        "--runs",
        str(runs),
        "--json",
        "--quiet",
    ]


def _seconds_per_gen(run_dir: str, chunk: int) -> tuple[float, float, int]:
    """(median s/gen of the plain chunks, compile s, chunks measured)."""
    from engine.runs.store import RunStore

    store = RunStore(Path(run_dir).parent)
    rows = [r for r in store.read_metrics(Path(run_dir).name) if "event" not in r]
    last = rows[-1]["generation"]
    plain = [
        r["seconds_per_generation"]
        for r in rows
        if not r["compiled"] and r["generation"] <= last - chunk
    ]
    compile_s = store.read_status(Path(run_dir).name).get("compile_seconds") or 0.0
    return statistics.median(plain), compile_s, len(plain) // chunk


def one_process(preset: str, gens: int, runs: Path) -> dict:
    out = subprocess.run(
        _distill(preset, gens, runs),
        env=_env(2),
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if out.returncode:
        raise SystemExit(f"1 process x 2 devices failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def two_processes(preset: str, gens: int, runs: Path, share: bool = True) -> dict:
    port = _free_port()
    procs = []
    for pid in (0, 1):
        cmd = (
            _distill(preset, gens, runs)
            + [
                "--distributed",
                "--coordinator",
                f"127.0.0.1:{port}",
                "--num-processes",
                "2",
                "--process-id",
                str(pid),
            ]
            + ([] if share else ["--no-share-cores"])
        )
        procs.append(
            subprocess.Popen(
                cmd,
                env=_env(1),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=ROOT,
            )
        )
    outs = [p.communicate() for p in procs]
    if any(p.returncode for p in procs):
        raise SystemExit(
            "2 processes x 1 device failed: " + " | ".join(e[-1500:] for _, e in outs)
        )
    return json.loads(outs[0][0].strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("configs", nargs="*", default=["bench-cartpole", "bench-hopper"])
    ap.add_argument("--gens", type=int, help="generations per run (default per config)")
    ap.add_argument("--repeats", type=int, default=1, help="A B pairs per config")
    ap.add_argument(
        "--no-share-cores",
        action="store_true",
        help="the two processes keep every core each (no core sharing)",
    )
    args = ap.parse_args(argv)
    from engine import presets

    table = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.configs:
            chunk = presets.make(name, None, None, 0).outer.chunk
            gens = args.gens or GENS[name]
            single, multi = [], []
            for rep in range(args.repeats):
                for label, fn, acc in (
                    ("1 process x 2 devices", one_process, single),
                    (
                        "2 processes x 1 device",
                        partial(two_processes, share=not args.no_share_cores),
                        multi,
                    ),
                ):
                    res = fn(name, gens, Path(tmp) / f"{name}-{label[0]}-{rep}")
                    spg, comp, n = _seconds_per_gen(res["run_dir"], chunk)
                    acc.append((spg, comp))
                    print(
                        f"{name} {label}: {spg:.4f} s/gen over {n} chunks, "
                        f"compile {comp:.1f} s",
                        flush=True,
                    )
            s = statistics.median(x for x, _ in single)
            m = statistics.median(x for x, _ in multi)
            table.append((name, gens, s, m, s / m))
    print("\n| config | generations | 1 process x 2 devices s/gen | "
          "2 processes x 1 device s/gen | speed ratio (goal >= 0.9) |")  # fmt: skip
    print("|---|---|---|---|---|")
    for name, gens, s, m, r in table:
        print(f"| {name} | {gens} | {s:.4f} | {m:.4f} | {r:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
