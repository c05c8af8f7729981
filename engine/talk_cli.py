"""`hades render RUN --talk --out talk.mp4 [--gif]`: the talk clip of a run.

RUN is a run id (or folder) of the run store, or a folder laid out like a bundled
demo item (``history/g<generation>.npz``, ``dataset.npz``, ``metrics.jsonl``). The
stills come from the datasets kept beside the run's checkpoints and its current
dataset; `engine.render.talk` draws them.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

_HISTORY_RE = re.compile(r"^g(\d+)\.npz$")


def folder_inputs(folder: Path, limit: int):
    """(snapshots, rows) of a demo-like folder (history/ + dataset.npz)."""
    from engine import dataset as ds_lib
    from engine.render.talk import select_generations

    hist = {}
    if (folder / "history").is_dir():
        for p in (folder / "history").iterdir():
            m = _HISTORY_RE.match(p.name)
            if m:
                hist[int(m.group(1))] = p
    final = (
        ds_lib.load(folder / "dataset.npz")
        if (folder / "dataset.npz").is_file()
        else None
    )
    final_gen = final.meta.get("generation") if final is not None else None
    if isinstance(final_gen, int | float):
        hist[int(final_gen)] = folder / "dataset.npz"
    gens = select_generations(list(hist), limit)
    from engine.runs.store import read_metrics_file

    rows = read_metrics_file(folder / "metrics.jsonl")
    return [(g, ds_lib.load(hist[g])) for g in gens], rows


def run_inputs(store, ref: str, limit: int):
    """(snapshots, rows) of a run of the store: the datasets kept beside its
    checkpoints, and dataset.npz."""
    from engine import dataset as ds_lib
    from engine.render.talk import TalkError, select_generations

    run_dir = store.resolve(ref)
    ckpts = store.dataset_generations(run_dir)  # checkpoints that keep a dataset
    if not ckpts:
        raise TalkError(
            f"run {run_dir.name} has no checkpoints: the talk clip shows the dataset "
            "at the run's checkpoints (a run writes one after each chunk)"
        )
    paths = store.paths(run_dir)
    final = ds_lib.load(paths.dataset) if paths.dataset.is_file() else None
    final_gen = final.meta.get("generation") if final is not None else None
    gens = set(ckpts)
    if isinstance(final_gen, int | float):
        gens.add(int(final_gen))
    snaps = []
    for g in select_generations(list(gens), limit):
        if final is not None and g == final_gen:
            snaps.append((g, final))
        else:
            snaps.append((g, store.load_dataset(run_dir, g)))
    return snaps, store.read_metrics(run_dir)


def gather(ref: str, runs_root: str | None, limit: int | None = None):
    """(snapshots, rows) for a run id/folder or a demo-like folder."""
    from engine.render.talk import MAX_SNAPSHOTS, TalkError
    from engine.runs import RunStore, default_root

    limit = limit or MAX_SNAPSHOTS
    p = Path(ref)
    if p.is_file():
        raise TalkError(
            f"{ref} is a file: the talk clip needs a run (its checkpoints and "
            "fitness curve), not a dataset"
        )
    if p.is_dir() and (p / "history").is_dir() and not (p / "checkpoints").is_dir():
        snaps, rows = folder_inputs(p, limit)
        if not snaps:
            raise TalkError(f"{ref} holds no history/ datasets for the talk clip")
        return snaps, rows
    store = RunStore(runs_root or default_root())
    return run_inputs(store, ref, limit)


def cmd_talk(args) -> int:
    from engine.render.talk import TalkError, render_talk
    from engine.render.video import MP4_SUFFIXES
    from engine.runs.errors import RunError

    out = Path(args.out or "talk.mp4")
    if out.suffix.lower() not in (*MP4_SUFFIXES, ".gif"):
        print(f"hades render: --out {out} must end in .mp4 or .gif", file=sys.stderr)
        return 2
    try:
        snaps, rows = gather(args.source, args.runs)
        gif = out.with_suffix(".gif") if args.gif and out.suffix != ".gif" else None
        info = render_talk(
            snaps,
            rows,
            out,
            gif_path=gif,
            seed=args.seed,
            frame_cap=args.frame_cap,
            progress_fn=lambda f, m: print(f"[{100 * f:3.0f}%] {m}", file=sys.stderr),
        )
    except (TalkError, RunError) as e:  # RunError: not a ValueError
        print(f"hades render: {e}", file=sys.stderr)
        return 2
    print(f"wrote {info['path']}" + (f" and {info['gif']}" if info.get("gif") else ""))
    if args.json:
        print(json.dumps(info, default=float))
    return 0
