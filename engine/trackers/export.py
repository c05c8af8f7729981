"""A past run replayed into trackers (`hades runs export RUN --to tensorboard DIR`,
`--to wandb`): every generation row of its metrics.jsonl, its config, and its final
dataset drawn at the dataset's generation (a run keeps only its last mean dataset).
"""

from __future__ import annotations

from pathlib import Path

from engine.trackers.base import RunInfo, read_json, read_rows
from engine.trackers.hub import (
    TERMINAL,
    Trackers,
    backends_for,
    check_trackers,
    info_stderr,
    warn_stderr,
)


def _dataset_generation(path: Path) -> int | None:
    from engine import dataset as ds_lib

    try:
        g = ds_lib.load(path).meta.get("generation")
    except Exception:
        return None
    return int(g) if g is not None else None


def export_run(
    run_dir,
    names,
    tensorboard_dir=None,
    warn=warn_stderr,
    info=info_stderr,
) -> dict:
    """Log the run in `run_dir` to the trackers `names`; returns {"rows",
    "generation", "media_generation", "trackers", "failed"} (the backends that
    failed, each with a warning). TrackerError (one line) before
    anything is written when a name is unknown, an extra is missing or the
    TensorBoard directory is unwritable. Each export to W&B is a new W&B run."""
    run_dir = Path(run_dir)
    names = check_trackers(names, tensorboard_dir, run_dir, flag="--to")
    run = RunInfo.from_run_dir(run_dir, "export", start_generation=0)
    rows = [  # generation rows (event rows carry an "event" key)
        r
        for r in read_rows(run_dir / "metrics.jsonl")
        if "generation" in r and "event" not in r
    ]
    status = (read_json(run_dir / "status.json") or {}).get("status", "stopped")
    g_ds = _dataset_generation(run_dir / "dataset.npz")
    hub = Trackers(
        run,
        backends_for(names, tensorboard_dir, wandb_new_id=True),
        warn=warn,
        info=info,
    )
    # Rows up to the dataset's generation, its pictures there, then the rest
    head = [r for r in rows if g_ds is None or int(r["generation"]) <= g_ds]
    tail = rows[len(head) :]
    hub.progress(
        {
            "kind": "chunk",
            "metrics": head,
            "generation": g_ds or 0,
            "media": g_ds is not None,
        }
    )
    if tail:
        hub.progress({"kind": "chunk", "metrics": tail})
    hub.close(status if status in TERMINAL else "stopped")
    return {
        "rows": len(rows),
        "generation": int(rows[-1]["generation"]) if rows else 0,
        "media_generation": g_ds,
        "trackers": names,
        "failed": hub.failed,
    }
