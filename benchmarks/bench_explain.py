"""Time of `hades explain` (engine.explain.explain_dataset) on a CPU.

Per case: the first call (compiles the variants program and the coverage program,
then runs), a second call on the same dataset (the programs cached: run time
only), the variants and coverage stages of the second call, the number of variants
(1 + 2N + N*L) and the compilations of the variants program counted from JAX's
compile log (one per (config, N)). Each case runs in a fresh process.

    PYTHONPATH=. python benchmarks/bench_explain.py              # both cases
    PYTHONPATH=. python benchmarks/bench_explain.py cartpole-quick
    PYTHONPATH=. python benchmarks/bench_explain.py --compare-devices

Cases: `cartpole-quick`, the bundled demo CartPole dataset (distilled with `--preset
quick`); `hopper-d4`, the authors' published hopper N = 4 file (HaDES-R, constant
normalisation, paper settings: 2x512 MLP, 200 BC steps, 4 envs x 1024 steps),
read from ../shared/reference/ (skipped when absent). `--compare-devices` reruns
each case in a fresh process on one CPU device (HADES_CPU_DEVICES=1).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT.parent / "shared" / "reference" / "datasets"
CASES = {
    "cartpole-quick": ROOT
    / "dashboard"
    / "assets"
    / "demo"
    / "cartpole"
    / "dataset.npz",
    "hopper-d4": REFERENCE / "brax-hopper-D4-constnorm-hadesR-seed0.pkl",
}


class _CompileLog(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record):
        msg = record.getMessage()
        if "Compiling" in msg and "variant_returns" in msg:
            self.count += 1


def run_case(name: str, inits: int) -> dict:
    import jax

    import engine
    from engine.dataset_ref import load_dataset_ref
    from engine.explain import ExplainConfig, explain_dataset

    info = engine.setup(compilation_cache=False)  # compile time is part of it
    ds, _ = load_dataset_ref(CASES[name])
    ecfg = ExplainConfig(inits=inits)
    log = _CompileLog()
    logging.getLogger("jax").addHandler(log)
    with jax.log_compiles(True):
        t0 = time.perf_counter()
        first = explain_dataset(ds, ecfg)
        t1 = time.perf_counter()
        second = explain_dataset(ds, ecfg)
        t2 = time.perf_counter()
    worst = min(first.pairs, key=lambda p: p["without_return"])
    return {
        "case": name,
        "env": ds.env,
        "size": ds.size,
        "inits": inits,
        "devices": len(jax.local_devices()),
        "xla_flags": info.xla_flags,
        "variants": first.timings["variant_count"],
        "first_call_s": round(t1 - t0, 2),
        "second_call_s": round(t2 - t1, 2),
        "second_variants_s": second.timings["variants"],
        "second_coverage_s": second.timings["coverage_and_map"],
        "variant_program_compiles": log.count,
        "full_return": round(first.full_return, 2),
        "most_important": worst["index"],
        "without_most_important": round(worst["without_return"], 2),
        "pairs": [
            {
                "index": p["index"],
                "without": round(p["without_return"], 1),
                "alone": round(p["alone_return"], 1),
                "labels": {k: round(v, 1) for k, v in p["label_sensitivity"].items()},
            }
            for p in first.pairs
        ],
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("cases", nargs="*", default=list(CASES))
    p.add_argument("--inits", type=int, default=8)
    p.add_argument("--compare-devices", action="store_true")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(run_case(args.cases[0], args.inits)))
        return 0
    rows = []
    for case in args.cases:
        if not CASES[case].exists():
            print(f"{case}: skipped, {CASES[case]} is missing", flush=True)
            continue
        envs = [("per core", {})]
        if args.compare_devices:
            envs.append(("1 device", {"HADES_CPU_DEVICES": "1"}))
        for label, extra in envs:
            env = {**os.environ, **extra, "PYTHONPATH": str(ROOT)}
            cmd = [sys.executable, __file__, case, "--inits", str(args.inits)]
            out = subprocess.run(
                [*cmd, "--child"], env=env, capture_output=True, text=True
            )
            if out.returncode:
                print(out.stderr[-3000:], file=sys.stderr)
                return out.returncode
            row = json.loads(out.stdout.strip().splitlines()[-1])
            row["run"] = label
            rows.append(row)
            print(json.dumps(row), flush=True)
    print()
    print(
        "| case | devices | variants x inits | first call s (compile + run) | "
        "second call s | variants s | coverage+map s | variant compiles |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['case']} (N {r['size']}) | {r['devices']} | {r['variants']} x "
            f"{r['inits']} | {r['first_call_s']} | {r['second_call_s']} | "
            f"{r['second_variants_s']} | {r['second_coverage_s']} | "
            f"{r['variant_program_compiles']} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
