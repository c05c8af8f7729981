"""Peak memory of the `hades` CLI on hostile files, and the memory estimate next to
measured runs.

`PYTHONPATH=. python benchmarks/bench_fault_memory.py` — each command runs in a
fresh subprocess; its peak resident set size comes from `wait4` (measured from
outside). Results are printed as Markdown tables (see benchmarks/README.md).
"""

from __future__ import annotations

import pickle
import tempfile
from pathlib import Path

from engine.paper_import import MAX_OPCODES
from tests.cli_run import TINY_DISTILL, hades
from tests.hostile_files import huge_shape, many_objects_pickle, zip_bomb

MIB = 2**20


def hostile_table(d: Path) -> None:
    nested = [1.0]
    for _ in range(40):
        nested = [nested, nested]
    (d / "expanding.pkl").write_bytes(pickle.dumps({"config": nested}))
    cases = {
        "missing file (baseline)": ("evaluate", d / "missing.npz"),
        "zip bomb, 8 GiB member in 8 MB": ("evaluate", zip_bomb(d / "bomb.npz")),
        "header declaring 10^12 x 4 float32": ("evaluate", huge_shape(d / "h.npz")),
        "pickle of 2^40 shared leaves": ("import", d / "expanding.pkl"),
        f"pickle of {MAX_OPCODES} new objects": (
            "import",
            many_objects_pickle(d / "objects.pkl", MAX_OPCODES),
        ),
    }
    print("| file | exit | peak RSS (MiB) |\n|---|---|---|")
    for name, args in cases.items():
        res = hades(*args)
        print(f"| {name} | {res.code} | {res.max_rss / MIB:.0f} |")


def estimate_table(d: Path) -> None:
    import engine

    engine.setup()
    from engine import presets
    from engine.memory_estimate import memory_estimate

    runs = {
        "tiny CartPole (pop 8, W16, N4)": {},
        "CartPole pop 128, W512, N256, member_batch 128": {
            "outer.population": 128,
            "inner.width": 512,
            "dataset.size": 256,
            "fitness.member_batch": 128,
        },
    }
    print("\n| config | estimate (GiB) | measured peak RSS (GiB) |\n|---|---|---|")
    for name, ov in runs.items():
        sets = [x for k, v in ov.items() for x in ("--set", f"{k}={v}")]
        args = [*TINY_DISTILL, *sets, "--generations", "2"]
        size = ov.get("dataset.size", 4)
        args[args.index("--size") + 1] = str(size)
        pairs = dict(
            args[i + 1].split("=", 1) for i, a in enumerate(args) if a == "--set"
        )
        cfg = presets.make("quick", "CartPole-v1", size, 0).with_overrides(pairs)
        est = memory_estimate(cfg)
        res = hades(*args, "--runs", d / "runs")
        assert res.code == 0, res.err
        print(
            f"| {name} | {est.needed_bytes / 2**30:.2f} | {res.max_rss / 2**30:.2f} |"
        )


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        hostile_table(Path(tmp))
        estimate_table(Path(tmp))
