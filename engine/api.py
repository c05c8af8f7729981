"""`engine.distill`: one HaDES run from Python, written to the run store like a CLI
run (resumable, forkable, shown by the dashboard), returning its dataset."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class DistillResult:
    """What `distill` returns."""

    run_id: str
    run_dir: Path
    status: str  # finished | stopped | failed
    dataset: Any  # engine.dataset.Dataset: the final ES mean dataset
    summary: dict  # Runner.run's summary (generations, best_fitness, seconds, ...)

    @property
    def mean_dataset_return(self) -> float | None:
        return self.summary.get("mean_dataset_return")


def distill(
    cfg,
    progress_fn: Callable[[dict], Any] | None = None,
    runs=None,
    name: str = "",
    log: list[str] | tuple[str, ...] = (),
    tensorboard_dir=None,
) -> DistillResult:
    """Distil a dataset for `cfg` (a `HadesConfig`, e.g. from `engine.presets.make`).

    Args:
        cfg: the run's config.
        progress_fn: called after every chunk of generations with a progress dict
            (kind, generation, total_generations, metrics rows, mean-dataset
            return, seconds per generation, ETA, ...), and on status changes.
        runs: the run store root (default `$HADES_HOME/runs`, else ~/.hades/runs).
        name: a label for the run.
        log: experiment trackers to stream to ("wandb", "tensorboard").
        tensorboard_dir: TensorBoard event files go to DIR/<run id> (default:
            the run folder's tensorboard/).

    Returns a `DistillResult` (run id and folder, status, the mean dataset).
    """
    from engine import dataset as ds_lib
    from engine.runs import Runner, RunStore
    from engine.trackers import check_trackers, make_trackers

    check_trackers(log, tensorboard_dir)
    runner = Runner.create(cfg, root=RunStore(runs), name=name)
    trackers = make_trackers(log, runner, tensorboard_dir, job="distill")

    def progress(event: dict) -> None:
        if trackers is not None:
            trackers.progress(event)
        if progress_fn is not None:
            progress_fn(event)

    try:
        summary = runner.run(progress_fn=progress)
    finally:
        if trackers is not None:
            trackers.close("stopped")
    dataset = ds_lib.load(summary["dataset"]) if summary.get("dataset") else None
    return DistillResult(
        summary["run_id"], Path(summary["run_dir"]), summary["status"], dataset, summary
    )
