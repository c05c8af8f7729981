"""The trackers' command-line flags (`--log`, `--tensorboard-dir`) on distill,
resume, fork and sweep, and the trackers they make for a run."""

from __future__ import annotations

import argparse

from engine.trackers.hub import KNOWN, Trackers, check_trackers, make_trackers


def add_tracker_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--log",
        action="append",
        metavar="TRACKER",
        default=None,
        help=f"Also log the run to an experiment tracker ({', '.join(KNOWN)}; "
        "repeatable): metrics per generation, the config, dataset pictures and "
        "rollout videos at evaluation points. Needs the extra: pip install "
        "'hades-studio[wandb]' / '[tensorboard]'. W&B honours WANDB_MODE, "
        "WANDB_PROJECT.",
    )
    p.add_argument(
        "--tensorboard-dir",
        metavar="DIR",
        default=None,
        help="TensorBoard event files go to DIR/<run id> (default: the run "
        "folder's tensorboard/).",
    )


def check_tracker_flags(args) -> list[str]:
    """Validate --log / --tensorboard-dir before a run is created (TrackerError)."""
    return check_trackers(
        getattr(args, "log", None), getattr(args, "tensorboard_dir", None)
    )


def trackers_for(args, runner, job: str) -> Trackers | None:
    """The trackers asked for on the command line, for `runner`'s run."""
    return make_trackers(
        getattr(args, "log", None),
        runner,
        tensorboard_dir=getattr(args, "tensorboard_dir", None),
        job=job,
    )
