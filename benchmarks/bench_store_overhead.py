"""Overhead of the run store and live control per generation (engine/runs).

Same config (CartPole `quick`: population 64, MLP 2x64, 100 BC steps, 8 envs x 500
steps, 20 generations in chunks of 5, mean dataset evaluated every 5), same
`Distiller` (compiled once, excluded): the bare engine loop `Distiller.run` against
`Runner.run`, which also reads its Control, appends metrics.jsonl, writes a
checkpoint, dataset.npz and status.json every chunk and updates the SQLite index.

Two measures: (1) side by side, bare and store runs alternating after a warm-up,
the median of the paired ratios; (2) directly, the time `Runner.run` spends outside
`Distiller.step_chunk` (storage + control), which is not blurred by the noise of a
shared machine.

    PYTHONPATH=. python benchmarks/bench_store_overhead.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import jax

from engine import presets
from engine.runs import Runner
from engine.runs.runner import shared_distiller


def bare(d) -> float:
    t0 = time.perf_counter()
    state, _, _ = d.run()
    jax.block_until_ready(state)
    return time.perf_counter() - t0


def with_store(cfg, root, engine_time: list) -> tuple[float, float]:
    """(wall of Runner.run, its time inside Distiller.step_chunk)."""
    runner = Runner.create(cfg, root=root)  # launch checks: not per generation
    engine_time[0] = 0.0
    t0 = time.perf_counter()
    summary = runner.run()
    wall = time.perf_counter() - t0
    assert summary["status"] == "finished", summary
    return wall, engine_time[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--env", default="CartPole-v1")
    parser.add_argument("--generations", type=int, default=None)
    args = parser.parse_args()
    import engine

    engine.setup()
    cfg = presets.make("quick", args.env, 4, 0)
    if args.generations:
        cfg = cfg.with_overrides({"outer.generations": args.generations})
    gens = cfg.outer.generations
    d = shared_distiller(cfg)  # the Runner picks this one up (same config)
    engine_time = [0.0]
    step_chunk = d.step_chunk

    def timed_step_chunk(*a, **k):
        t0 = time.perf_counter()
        out = step_chunk(*a, **k)
        engine_time[0] += time.perf_counter() - t0
        return out

    d.step_chunk = timed_step_chunk
    times: dict[str, list[float]] = {"bare": [], "store": [], "outside": []}
    with tempfile.TemporaryDirectory() as root:
        t0 = time.perf_counter()
        bare(d)
        compile_s = time.perf_counter() - t0
        with_store(cfg, root, engine_time)  # warm-up
        for i in range(args.repeats):
            order = ("bare", "store") if i % 2 == 0 else ("store", "bare")
            for which in order:
                if which == "bare":
                    times["bare"].append(bare(d))
                else:
                    wall, inside = with_store(cfg, root, engine_time)
                    times["store"].append(wall)
                    times["outside"].append(wall - inside)
    ratios = [s / b for s, b in zip(times["store"], times["bare"], strict=True)]
    b = statistics.median(times["bare"])
    outside = statistics.median(times["outside"])
    print(
        f"{args.env} quick: population {cfg.outer.population}, {gens} generations, "
        f"chunk {cfg.outer.chunk}, {args.repeats} repeats, backend "
        f"{jax.default_backend()} ({len(jax.devices())} device(s)); first run "
        f"with compile {compile_s:.1f} s\n"
    )
    print("| loop | s / generation (median) | min | max |")
    print("|---|---|---|---|")
    for name, label in (
        ("bare", "Distiller.run (bare)"),
        ("store", "Runner.run (store + control)"),
    ):
        t = times[name]
        print(
            f"| {label} | {statistics.median(t) / gens:.4f} | {min(t) / gens:.4f} |"
            f" {max(t) / gens:.4f} |"
        )
    print(
        f"\nside by side: store / bare = {statistics.median(ratios):.3f} (median of "
        f"paired ratios; {min(ratios):.3f} .. {max(ratios):.3f})"
    )
    print(
        f"direct: Runner.run outside step_chunk = {outside / gens * 1000:.2f} ms per "
        f"generation = {100 * outside / b:.2f}% of the bare loop ({b / gens:.4f} "
        "s/gen)"
    )


if __name__ == "__main__":
    main()
