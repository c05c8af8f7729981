"""Generate the dashboard's bundled demo runs into ``dashboard/assets/demo/``
(`dashboard.sources.demo_dir()`, shipped inside the package).

The Demo page shows every view from these files without computing anything (no
JAX, no network), for talks on a laptop CPU. Each item is a directory:

    config.json, status.json, metrics.jsonl   as in a run directory (sanitised)
    dataset.npz                               the final ES mean dataset
    history/g<generation>.npz                 the mean dataset at each checkpoint
    eval.json                                 fresh policies trained on the dataset
    rollout.mp4                               a trained policy acting (H.264, 320x240;
                                              the best of a few policy seeds)
    states.png                                (Brax) the states as robot poses
    explain.json                              `hades explain` of the final dataset
                                              (default settings)
    talk.mp4, talk.json                       the talk clip (`hades render --talk`)

plus ``manifest.json`` listing the items. Runs are short `quick`-preset runs of our
own engine (the paper's reference datasets are never copied into the repo).

Usage: ``PYTHONPATH=. python scripts/make_demo_assets.py [--out DIR]
[--only cartpole,breakout,hopper] [--extras-only]``. Takes a few minutes on 2 CPU
cores. ``--extras-only`` keeps the runs and only redoes explain.json and the talk
clip of the existing items.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# id: (title, env, size, seeds, overrides, description)
ITEMS = {
    "cartpole": (
        "CartPole, N = 4 (quick preset)",
        "CartPole-v1",
        4,
        (0, 1),
        {},
        "Four synthetic states teach a fresh policy to balance the pole: the ES "
        "mean dataset reaches the maximum return of 500 within a few generations. "
        "Two seeds, to compare runs.",
    ),
    "breakout": (
        "Breakout-MinAtar, N = 16 (quick preset)",
        "Breakout-MinAtar",
        16,
        (0,),
        {},
        "Sixteen 10x10x4 synthetic frames (paddle, ball, trail, bricks) with fixed "
        "round-robin labels, evolved by SNES for a few dozen generations on a CPU "
        "(the paper runs 2000 generations with a population of 2048).",
    ),
    "hopper": (
        "Brax hopper, N = 4 (quick preset, short)",
        "hopper",
        4,
        (0,),
        {"outer.generations": 8, "outer.eval_every": 4},
        "Four evolved (pose, torque) pairs for the Brax hopper after a short run on "
        "a CPU, drawn as robot poses, and a policy trained on them.",
    ),
}
FRAME_CAP = 150
VIDEO_SIZE = (320, 240)
EVAL_INITS = 8
VIDEO_TRIES = {"classic": 4, "minatar": 6, "brax": 2}  # policy seeds tried


def _sanitise_status(st: dict) -> dict:
    keep = {
        k: v
        for k, v in st.items()
        if k not in ("pid", "host", "alive", "recorded_status", "resumable", "started")
    }
    keep["status"] = "finished"
    keep["message"] = "bundled demo run"
    keep["eta_seconds"] = None
    return keep


def _sanitise_config(meta: dict) -> dict:
    meta = dict(meta)
    meta["host"] = "demo"
    meta["runner"] = {}
    return meta


def make_run(store, env, size, seed, overrides, name):
    """Run one quick config into `store`, keeping every checkpoint."""
    from engine import presets
    from engine.runs import Runner

    cfg = presets.make("quick", env, size, seed)
    if overrides:
        cfg = cfg.with_overrides(overrides)
    runner = Runner.create(cfg, root=store, name=name, keep_last=10_000, keep_every=0)
    t0 = time.time()
    summary = runner.run()
    print(
        f"  {name}: {summary['status']} in {time.time() - t0:.0f} s, "
        f"mean-dataset return {summary['mean_dataset_return']}",
        flush=True,
    )
    return runner.run_id


def export_item(store, run_id, out: Path, full: bool) -> None:
    """Copy a run's readable files into `out` (and, if `full`, its history)."""
    from engine import dataset as ds_lib
    from engine.runs.store import read_json, write_json

    paths = store.paths(run_id)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "config.json", _sanitise_config(read_json(paths.config)))
    write_json(out / "status.json", _sanitise_status(read_json(paths.status)))
    shutil.copyfile(paths.metrics, out / "metrics.jsonl")
    if not full:
        return
    shutil.copyfile(paths.dataset, out / "dataset.npz")
    hist = out / "history"
    hist.mkdir(exist_ok=True)
    for gen, _ in store.checkpoints(run_id):
        ds = store.load_dataset(run_id, gen)
        ds_lib.save(ds, hist / f"g{gen:05d}.npz")


def evaluate_and_render(out: Path, env: str) -> dict:
    from engine import dataset as ds_lib
    from engine import render
    from engine.evaluate import evaluate_dataset

    ds = ds_lib.load(out / "dataset.npz")
    t0 = time.time()
    res = evaluate_dataset(ds, inits=EVAL_INITS, seed=0)
    (out / "eval.json").write_text(json.dumps(res.to_dict(), indent=1))
    print(
        f"  eval: {res.mean_return:.1f} +- {res.std_return:.1f} "
        f"({time.time() - t0:.0f} s)",
        flush=True,
    )
    t0 = time.time()
    best = None
    for seed in range(VIDEO_TRIES[ds.spec.family]):
        tmp = out / f".rollout-{seed}.mp4"
        info = render.render_rollout(
            ds, tmp, seed=seed, frame_cap=FRAME_CAP, size=VIDEO_SIZE
        )
        if best is None or info["episode_return"] > best[1]["episode_return"]:
            if best is not None:
                Path(best[1]["path"]).unlink()
            best = (seed, info)
        else:
            Path(info["path"]).unlink()
    seed, info = best
    Path(info["path"]).replace(out / "rollout.mp4")
    info = {k: v for k, v in info.items() if k != "path"}
    info.update(path="rollout.mp4", seed=seed)
    (out / "rollout.json").write_text(json.dumps(info, indent=1))
    print(
        f"  video: seed {seed}, {info['frames']} frames, return "
        f"{info['episode_return']:.1f} ({time.time() - t0:.0f} s)",
        flush=True,
    )
    if ds.spec.family == "brax":
        render.render_states(ds, out / "states.png", size=(200, 200))
    return res.to_dict()


def explain_and_talk(out: Path) -> None:
    """explain.json (default settings) and talk.mp4 of an exported item."""
    from engine import dataset as ds_lib
    from engine.explain import explain_dataset
    from engine.render.talk import render_talk
    from engine.talk_cli import folder_inputs

    ds = ds_lib.load(out / "dataset.npz")
    t0 = time.time()
    res = explain_dataset(ds)
    (out / "explain.json").write_text(json.dumps(res.to_dict()))
    worst = min(res.pairs, key=lambda p: p["without_return"])
    print(
        f"  explain: whole {res.full_return:.1f}, without pair {worst['index']} "
        f"{worst['without_return']:.1f} ({time.time() - t0:.0f} s)",
        flush=True,
    )
    seed = 0
    if (out / "rollout.json").is_file():
        seed = int(json.loads((out / "rollout.json").read_text()).get("seed", 0))
    t0 = time.time()
    snaps, rows = folder_inputs(out, 24)
    info = render_talk(snaps, rows, out / "talk.mp4", seed=seed)
    info = {k: v for k, v in info.items() if k != "path"}
    info["path"] = "talk.mp4"
    (out / "talk.json").write_text(json.dumps(info, indent=1))
    size = (out / "talk.mp4").stat().st_size
    print(
        f"  talk clip: {info['frames']} frames, {size / 1024:.0f} KiB "
        f"({time.time() - t0:.0f} s)",
        flush=True,
    )


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    from dashboard.sources import demo_dir

    p.add_argument("--out", default=str(demo_dir()))
    p.add_argument("--only", default=",".join(ITEMS), help="comma-separated items")
    p.add_argument(
        "--extras-only",
        action="store_true",
        help="only redo explain.json and talk.mp4 of the existing items",
    )
    args = p.parse_args(argv)
    import engine
    from engine.runs import RunStore

    engine.setup()
    out_root = Path(args.out)
    out_root.mkdir(parents=True, exist_ok=True)
    manifest_path = out_root / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    items = manifest.get("items", {})
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    if args.extras_only:
        for item in only:
            print(f"{item}: explain and talk clip", flush=True)
            explain_and_talk(out_root / items[item]["dir"])
            items[item]["talk_mp4"] = True
        only = []
    with tempfile.TemporaryDirectory(prefix="hades-demo-") as tmp:
        store = RunStore(tmp)
        for item in only:
            title, env, size, seeds, overrides, description = ITEMS[item]
            print(f"{item}: {env} N={size} seeds {list(seeds)}", flush=True)
            runs = []
            for i, seed in enumerate(seeds):
                name = f"demo-{item}-seed{seed}"
                rid = make_run(store, env, size, seed, overrides, name)
                sub = item if i == 0 else f"{item}-seed{seed}"
                target = out_root / sub
                if target.exists():
                    shutil.rmtree(target)
                export_item(store, rid, target, full=(i == 0))
                runs.append(sub)
            evaluate_and_render(out_root / item, env)
            explain_and_talk(out_root / item)
            items[item] = {
                "title": title,
                "env": env,
                "size": size,
                "dir": item,
                "seeds": runs,
                "description": description,
                "states_png": (out_root / item / "states.png").is_file(),
                "talk_mp4": (out_root / item / "talk.mp4").is_file(),
            }
    order = [k for k in ITEMS if k in items]
    manifest = {
        "format": "hades-demo",
        "version": 1,
        "generated_by": "scripts/make_demo_assets.py",
        "items": {k: items[k] for k in order},
    }
    manifest_path.write_text(json.dumps(manifest, indent=1))
    for f in out_root.rglob("*"):  # atomic writes create 0600 files
        f.chmod(0o755 if f.is_dir() else 0o644)
    total = sum(f.stat().st_size for f in out_root.rglob("*") if f.is_file())
    print(f"wrote {out_root} ({total / 2**20:.2f} MiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
