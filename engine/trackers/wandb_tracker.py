"""Weights & Biases backend.

- step = generation; every metrics.jsonl metric under its own key;
- config: the run's config with its identity and lineage (`hades.*`);
- media at evaluation points: `dataset` (the picture) and `rollout` (mp4 video);
- lineage: a fork of a run that was logged to W&B starts as a W&B fork of it
  (`fork_from="<parent>?_step=<generation>"`) when it inherits the parent's ES
  state or mean; a resumed run continues its own W&B run (`resume="allow"`).

W&B's own settings apply: WANDB_MODE (offline writes run files to sync later),
WANDB_PROJECT (default project "hades-studio"), WANDB_ENTITY, WANDB_DIR (default:
the run folder), WANDB_BASE_URL. W&B's run output is silenced; the tracker prints
one line saying where it logs.

An unreachable server must not hold the run's process: W&B's service retries a
failing request for about as long as `init_timeout` (90 s) and the process waits
for it at exit. So unless the environment sets them, requests are retried
`GRAPHQL_RETRIES` times (init then fails within seconds, with one warning) and
`finish()` waits at most `FINISH_TIMEOUT` seconds for uploads.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

from engine.trackers.base import Media, RunInfo, Tracker, TrackerError, read_record

DEFAULT_PROJECT = "hades-studio"
GRAPHQL_RETRIES = 3
FINISH_TIMEOUT = 120.0


def _settings(wandb):
    """Quiet W&B settings with bounded retries (environment values win)."""
    kw = {"silent": True, "console": "off"}
    if not os.environ.get("WANDB__GRAPHQL_RETRY_MAX"):
        kw["x_graphql_retry_max"] = GRAPHQL_RETRIES
    if not os.environ.get("WANDB_FINISH_TIMEOUT"):
        kw["finish_timeout"] = FINISH_TIMEOUT
    return wandb.Settings(**kw)


def require():
    try:
        import wandb
    except ImportError as e:
        raise TrackerError(
            f"--log wandb needs the wandb package ({e}): "
            "pip install 'hades-studio[wandb]'"
        ) from None
    return wandb


def wandb_id(run_id: str) -> str:
    """A W&B run id for a run (W&B allows letters, digits, '-' and '_')."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", run_id)[:64]


def fork_point(run: RunInfo, project: str) -> str | None:
    """`fork_from` for a fork whose parent was logged to W&B in this project and
    whose ES state or mean it inherits (its generations continue the parent's)."""
    p = run.parent or {}
    if run.job not in ("fork", "export") or p.get("inherit") in (None, "none"):
        return None
    if p.get("generation") is None or not p.get("run_id"):
        return None
    parent_dir = run.run_dir.parent / p["run_id"]
    rec = read_record(parent_dir).get("wandb") or {}
    if not rec.get("id") or rec.get("project") != project:
        return None
    return f"{rec['id']}?_step={int(p['generation'])}"


class WandbTracker(Tracker):
    name = "wandb"

    def __init__(self, new_id: bool = False):
        self.new_id = new_id  # exports make a new W&B run each time
        self.run = None

    def start(self, run: RunInfo) -> str:
        wandb = require()
        project = os.environ.get("WANDB_PROJECT") or DEFAULT_PROJECT
        cfg = run.config
        fork = fork_point(run, project)
        rid = wandb_id(run.run_id)
        kwargs = {"id": f"{rid}-{secrets.token_hex(3)}" if self.new_id else rid}
        if fork is not None:
            kwargs["fork_from"] = fork
        elif not self.new_id:
            kwargs["resume"] = "allow"  # a resumed run continues its W&B run
        self.run = wandb.init(
            project=project,
            name=run.label,
            dir=None if os.environ.get("WANDB_DIR") else str(run.run_dir),
            config=run.hyperparameters(),
            job_type=run.job,
            group=cfg.get("env", {}).get("name"),
            tags=[
                str(cfg.get("env", {}).get("name")),
                f"N={cfg.get('dataset', {}).get('size')}",
                str(cfg.get("outer", {}).get("strategy")),
                str(cfg.get("preset", "")) or "custom",
            ],
            reinit="create_new",
            settings=_settings(wandb),
            **kwargs,
        )
        url = "" if self.run.offline else (self.run.url or "")  # offline: warns
        self.record = {
            "id": self.run.id,
            "project": self.run.project,
            "entity": self.run.entity or "",
            "mode": "offline" if self.run.offline else "online",
            "dir": self.run.dir,
            "url": url,
            "fork_from": fork,
        }
        where = url or f"offline run in {Path(self.run.dir).parent}"
        extra = f", forked from {fork}" if fork else ""
        return f"wandb: {where}{extra}"

    def log_scalars(self, step: int, values: dict[str, float], wall_time: float):
        self.run.log(values, step=step)

    def log_media(self, media: Media) -> None:
        import wandb

        data = {}
        if media.picture is not None:
            data["dataset"] = wandb.Image(str(media.picture))
        if media.mp4 is not None:
            data["rollout"] = wandb.Video(str(media.mp4), format="mp4")
        if data:
            self.run.log(data, step=media.step)

    def finish(self, status: str) -> None:
        if self.run is not None:
            self.run.summary["hades_status"] = status
            self.run.finish(exit_code=0 if status in ("finished", "stopped") else 1)
