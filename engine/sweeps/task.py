"""What a Ray worker executes for one run: open it in the store and run it.

`execute_run` is a plain module-level function, so Ray pickles it by reference and
every node imports it from its own installed hades-studio. It resumes the run from
its last checkpoint when a previous attempt died (Ray retries the task; the dead
worker's lock is stale and `Runner.run` takes it over), and returns at once when
the run has already finished.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from engine.runs.errors import RunError

EXECUTOR = "ray"


def check_visible(root: str, run_id: str) -> None:
    """RunError unless this node sees the run's directory under `root` (the runs
    root must be one filesystem that every node mounts at the same path)."""
    if not (Path(root) / run_id / "config.json").is_file():
        what = "does not exist" if not Path(root).is_dir() else f"has no run {run_id}"
        raise RunError(
            f"runs root {root} {what} on node {socket.gethostname()}: the runs root "
            "must be a shared filesystem that every Ray node mounts at the same path "
            "(choose one with --runs)"
        )


def _drop_inherited_device_flags() -> None:
    """Let the run's claim set this worker's XLA CPU devices: a Ray worker inherits
    the environment of whoever started Ray, and a driver that ran `engine.setup()`
    exported its own device count in XLA_FLAGS, which would otherwise win."""
    from engine.runtime import DEVICES_FLAG, EIGEN_FLAG

    flags = os.environ.get("XLA_FLAGS", "").split()
    kept = [f for f in flags if not f.startswith((DEVICES_FLAG, EIGEN_FLAG))]
    os.environ["XLA_FLAGS"] = " ".join(kept)


def summary_of(status: dict) -> dict:
    """A `Runner.run`-like summary of a run that needs no execution."""
    return {
        "run_id": status.get("run_id"),
        "status": status.get("status"),
        "message": status.get("message", ""),
        "generations": status.get("generation"),
        "total_generations": status.get("total_generations"),
        "best_fitness": status.get("best_fitness"),
        "mean_dataset_return": status.get("mean_dataset_return"),
        "seconds": 0.0,
        "skipped": True,
    }


def run_logged(
    runner, trackers: dict | None = None, progress_fn=None, control=None
) -> dict:
    """`runner.run()` with the experiment trackers of the sweep (`trackers`:
    {"log": [...], "tensorboard_dir": ...}, as `hades sweep --log` records it)
    fed every progress event and closed when the run ends; `control` steers it."""
    from engine.trackers.hub import make_trackers

    trackers = trackers or {}
    hub = make_trackers(
        trackers.get("log"),
        runner,
        tensorboard_dir=trackers.get("tensorboard_dir"),
        job="sweep",
    )
    if hub is None:
        return runner.run(progress_fn=progress_fn, control=control)

    def progress(ev: dict) -> None:
        hub.progress(ev)
        if progress_fn is not None:
            progress_fn(ev)

    status = "failed"
    try:
        summary = runner.run(progress_fn=progress, control=control)
        status = summary["status"]
        return summary
    finally:
        hub.close(status)


def execute_run(
    run_id: str,
    root: str,
    cpu_devices: int | None = None,
    trackers: dict | None = None,
) -> dict:
    """Run (or resume) `run_id` under `root` to its end; returns its summary.

    Called in a Ray worker: `engine.setup` first, with `cpu_devices` XLA CPU
    devices (one per claimed CPU), before JAX computes anything in this process.
    `trackers`: the sweep's experiment trackers (see `run_logged`)."""
    check_visible(root, run_id)
    import engine
    from engine import runtime

    if cpu_devices and runtime.info() is None:
        _drop_inherited_device_flags()
    engine.setup(cpu_devices=cpu_devices)
    from engine.runs.runner import Runner
    from engine.runs.store import RunStore

    store = RunStore(root)
    status = store.read_status(run_id)
    if status.get("status") == "finished":
        return summary_of(status)
    runner = Runner.open(run_id, root=store)
    runner.executor = EXECUTOR
    summary = run_logged(runner, trackers)
    summary["pid"] = os.getpid()
    summary["host"] = socket.gethostname()
    return summary
