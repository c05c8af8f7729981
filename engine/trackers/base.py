"""What every tracker backend gets: the run it logs (`RunInfo`), the interface it
implements (`Tracker`) and what it is fed (scalars per generation, `Media` at the
evaluation points)."""

from __future__ import annotations

import contextlib
import json
import math
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.atomic import write_json

TRACKERS_FILE = "trackers.json"
"""Per run: where each tracker logged it ({"wandb": {"id", "project", ...}}); a fork
reads its parent's to branch from it (W&B `fork_from`)."""

# Generation-row keys that are not metrics
_NOT_METRICS = ("generation", "time", "event")


# The run folder's files, read here without the run layer (engine.runs imports the
# trackers, so the trackers do not import it back).
def read_json(path: Path) -> dict | None:
    try:
        obj = json.loads(Path(path).read_bytes())
    except (OSError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


def read_rows(path: Path) -> list[dict]:
    """The complete JSON lines of a metrics.jsonl (a line being appended is not)."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return []
    rows = []
    for line in data[: data.rfind(b"\n") + 1].splitlines():
        with contextlib.suppress(ValueError):
            row = json.loads(line)
            if isinstance(row, dict):
                rows.append(row)
    return rows


class TrackerError(ValueError):
    """A tracker cannot be used (unknown name, extra not installed, unwritable
    directory); the message says what to do."""


@dataclass(frozen=True)
class RunInfo:
    """The run a tracker logs: identity, config, lineage, where it starts."""

    run_id: str
    run_dir: Path
    name: str
    config: dict
    parent: dict | None  # config.json's lineage record of a fork
    job: str  # distill | resume | fork | export | sweep
    start_generation: int = 0
    created: float | None = None

    @property
    def label(self) -> str:
        return self.name or self.run_id

    def hyperparameters(self) -> dict[str, Any]:
        """The config with the run's identity and lineage (W&B config, TB hparams)."""
        hades = {"run_id": self.run_id, "name": self.name, "job": self.job}
        if self.parent:
            hades["parent"] = self.parent
        return {**self.config, "hades": hades}

    @classmethod
    def from_run_dir(
        cls, run_dir, job: str, start_generation: int | None = None
    ) -> RunInfo:
        run_dir = Path(run_dir)
        meta = read_json(run_dir / "config.json") or {}
        if "config" not in meta:
            raise TrackerError(f"{run_dir} is not a run directory (no config.json)")
        if start_generation is None:  # a resume restarts at its last checkpoint
            st = read_json(run_dir / "status.json") or {}
            g = st.get("checkpoint_generation", st.get("generation"))
            start_generation = int(g or 0)
        return cls(
            run_id=run_dir.name,
            run_dir=run_dir,
            name=meta.get("name") or "",
            config=meta["config"],
            parent=meta.get("parent"),
            job=job,
            start_generation=start_generation,
            created=meta.get("created"),
        )


@dataclass
class Media:
    """The mean dataset at one evaluation point, drawn: a picture of its states and
    a rollout of a policy trained on it (frames, and an mp4 when ffmpeg works)."""

    step: int
    picture: Path | None = None
    frames: Any = None  # (T, H, W, 3) uint8
    fps: float = 0.0
    mp4: Path | None = None
    info: dict = field(default_factory=dict)


def scalars(row: dict) -> dict[str, float]:
    """The numeric metrics of a metrics.jsonl generation row (finite values only)."""
    out = {}
    for k, v in row.items():
        if k in _NOT_METRICS or isinstance(v, bool) or v is None:
            continue
        if isinstance(v, int | float) and math.isfinite(v):
            out[k] = float(v)
    return out


def flat_hyperparameters(
    d: dict, prefix: str = ""
) -> dict[str, bool | int | float | str]:
    """{"outer.lr": 0.05, ...}: nested config values as TensorBoard hparams."""
    out: dict[str, bool | int | float | str] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flat_hyperparameters(v, key + "."))
        elif isinstance(v, bool | int | float | str):
            out[key] = v
        elif v is not None:
            out[key] = str(v)
    return out


_RECORD_LOCK = threading.Lock()


def read_record(run_dir: Path) -> dict:
    return read_json(Path(run_dir) / TRACKERS_FILE) or {}


def write_record(run_dir: Path, tracker: str, info: dict) -> None:
    """Remember where `tracker` logged the run (run_dir/trackers.json)."""
    with _RECORD_LOCK:
        rec = read_record(run_dir)
        rec[tracker] = {**(rec.get(tracker) or {}), **info}
        write_json(Path(run_dir) / TRACKERS_FILE, rec)


class Tracker:
    """One backend. Its methods run in its own thread (`hub.Trackers`), in order:
    `start`, then `log_scalars` / `log_media`, then `finish`. Any exception
    disables the backend with one warning; the run never waits for it."""

    name = ""

    def start(self, run: RunInfo) -> str:
        """Open the run; returns one line saying where it logs."""
        raise NotImplementedError

    def log_scalars(self, step: int, values: dict[str, float], wall_time: float):
        raise NotImplementedError

    def log_media(self, media: Media) -> None:
        raise NotImplementedError

    def finish(self, status: str) -> None:
        raise NotImplementedError
