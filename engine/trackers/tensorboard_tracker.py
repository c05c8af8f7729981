"""TensorBoard backend: event files written with TensorBoard's own writer (no
TensorFlow needed).

- scalars: every metrics.jsonl metric, tag = its key, step = generation;
- hyperparameters: the flattened config in the HParams plugin, and the whole
  config (with the run's lineage) as a text summary;
- media at evaluation points: the dataset picture (PNG) and the rollout as an
  animated GIF (TensorBoard's image dashboard plays GIFs; it has no video type).

A resumed run first writes a SessionLog START at its first new generation:
TensorBoard then drops the steps after the checkpoint that the earlier attempt
logged (the same rows the run store dropped from metrics.jsonl).
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

from engine.trackers.base import (
    Media,
    RunInfo,
    Tracker,
    TrackerError,
    flat_hyperparameters,
)

GIF_MAX_FPS = 25


def require():
    """TensorBoard's writer and protos, or TrackerError naming the install."""
    try:
        from tensorboard.compat.proto import event_pb2, summary_pb2
        from tensorboard.summary.writer.event_file_writer import EventFileWriter
    except ImportError as e:
        raise TrackerError(
            f"--log tensorboard needs the tensorboard package ({e}): "
            "pip install 'hades-studio[tensorboard]'"
        ) from None
    return EventFileWriter, event_pb2, summary_pb2


def log_dir(run: RunInfo, tensorboard_dir=None) -> Path:
    """run_dir/tensorboard, or DIR/<run id> with --tensorboard-dir DIR (one
    `tensorboard --logdir DIR` then compares runs)."""
    if tensorboard_dir is None:
        return run.run_dir / "tensorboard"
    return Path(tensorboard_dir).expanduser() / run.run_id


def check_writable(path: Path) -> None:
    """TrackerError unless event files can be written under `path`."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".hades-write-check"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        reason = e.strerror or type(e).__name__
        raise TrackerError(
            f"--tensorboard-dir: cannot write event files to {path}: {reason}"
        ) from None


class TensorBoardTracker(Tracker):
    name = "tensorboard"

    def __init__(self, tensorboard_dir=None):
        self.tensorboard_dir = tensorboard_dir
        self.writer = None

    def start(self, run: RunInfo) -> str:
        EventFileWriter, self._event_pb2, self._summary_pb2 = require()
        self.dir = log_dir(run, self.tensorboard_dir)
        check_writable(self.dir)
        self.writer = EventFileWriter(str(self.dir), flush_secs=5)
        self.record = {"dir": str(self.dir)}
        if run.start_generation > 0:
            log = self._event_pb2.SessionLog(status=self._event_pb2.SessionLog.START)
            self._add(
                self._event_pb2.Event(step=run.start_generation + 1, session_log=log)
            )
        from tensorboard.plugins.hparams import summary_v2 as hp
        from tensorboard.plugins.text import summary_v2 as text

        params = flat_hyperparameters(run.hyperparameters())
        self._summary(hp.hparams_pb(params, trial_id=run.run_id), run.start_generation)
        config_md = "```json\n" + json.dumps(run.hyperparameters(), indent=1) + "\n```"
        self._summary(text.text_pb("config", config_md), run.start_generation)
        self.writer.flush()
        return f"tensorboard: event files in {self.dir}"

    def _add(self, event) -> None:
        if not event.wall_time:
            event.wall_time = time.time()
        self.writer.add_event(event)

    def _summary(self, summary, step: int, wall_time: float | None = None) -> None:
        self._add(
            self._event_pb2.Event(
                wall_time=wall_time or time.time(), step=step, summary=summary
            )
        )

    def log_scalars(self, step: int, values: dict[str, float], wall_time: float):
        Value = self._summary_pb2.Summary.Value
        summary = self._summary_pb2.Summary(
            value=[Value(tag=k, simple_value=v) for k, v in values.items()]
        )
        self._summary(summary, step, wall_time)
        self.writer.flush()

    def _image(self, tag: str, data: bytes, width: int, height: int):
        image = self._summary_pb2.Summary.Image(
            height=height, width=width, colorspace=3, encoded_image_string=data
        )
        return self._summary_pb2.Summary.Value(tag=tag, image=image)

    def log_media(self, media: Media) -> None:
        from PIL import Image

        values = []
        if media.picture is not None:
            with Image.open(media.picture) as im:
                w, h = im.size
            values.append(self._image("dataset", media.picture.read_bytes(), w, h))
        if media.frames is not None and len(media.frames):
            frames = [Image.fromarray(f) for f in media.frames]
            buf = io.BytesIO()
            fps = min(float(media.fps or GIF_MAX_FPS), GIF_MAX_FPS)
            frames[0].save(
                buf,
                format="GIF",
                save_all=True,
                append_images=frames[1:],
                duration=max(20, round(1000 / fps)),
                loop=0,
            )
            w, h = frames[0].size
            values.append(self._image("rollout", buf.getvalue(), w, h))
        if values:
            self._summary(self._summary_pb2.Summary(value=values), media.step)
            self.writer.flush()

    def finish(self, status: str) -> None:
        if self.writer is not None:
            self.writer.close()
