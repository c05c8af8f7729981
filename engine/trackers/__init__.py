"""Experiment trackers: a run's metrics, config, dataset pictures and rollout videos
streamed to Weights & Biases and TensorBoard.

- `make_trackers(names, run, tensorboard_dir)`: the trackers for one run; pass
  `.progress` as (part of) the run's `progress_fn`, call `.close()` when it ends.
- `check_trackers(names, tensorboard_dir)`: the checks `make_trackers` does, for a
  caller that validates before it creates the run (one-line `TrackerError`).
- `trackers_on_first_event(names, root)`: a `progress_fn` for a run queued
  elsewhere (the dashboard's jobs): trackers made on its first event.
- `export_run(run_dir, names, tensorboard_dir)`: a past run, replayed from its
  metrics.jsonl (`hades runs export RUN --to tensorboard DIR | --to wandb`).

Backends: `wandb_tracker`, `tensorboard_tracker` (extras `hades-studio[wandb]`,
`hades-studio[tensorboard]`, imported only when used). A failing tracker never stops
or slows the run: it is dropped with one warning.
"""

from engine.trackers.base import Media, RunInfo, Tracker, TrackerError
from engine.trackers.export import export_run
from engine.trackers.hub import (
    KNOWN,
    Trackers,
    check_trackers,
    make_trackers,
    trackers_on_first_event,
)

__all__ = [
    "KNOWN",
    "Media",
    "RunInfo",
    "Tracker",
    "TrackerError",
    "Trackers",
    "check_trackers",
    "export_run",
    "make_trackers",
    "trackers_on_first_event",
]
