"""`Trackers`: a run's progress events fanned out to tracker backends, off the run's
thread.

`progress(event)` is a run's `progress_fn` (the runner's "chunk" / "status" event
dicts). It only copies what it needs and queues it, so the run never waits for a
tracker. A dispatcher thread turns events into scalars (one set per generation
row: what metrics.jsonl holds) and, at evaluation points, media (the mean
dataset drawn, and a rollout of a policy trained on it); each backend has its own
thread and queue. A backend that raises (no network, no login, a full disk) is
dropped with one warning and the others go on. `close()` waits for the backends
that are working and gives up on one still connecting, with a warning.

Drawing media competes with the run for the CPU, so it runs at a lower priority
(nice 10, Linux) and within a budget: at most `MEDIA_SHARE` of the wall time while
the run computes. An evaluation point that comes sooner is skipped; the last one
is drawn when the run ends (so `close()` may wait for one picture and video).
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from engine.trackers.base import (
    Media,
    RunInfo,
    Tracker,
    TrackerError,
    scalars,
    write_record,
)

KNOWN = ("wandb", "tensorboard")
TERMINAL = ("finished", "stopped", "failed")
START_GRACE_SECONDS = 5.0  # at close: how long a still-connecting backend gets
FINISH_SECONDS = 300.0  # at close: how long a working backend may take to finish
MEDIA_SHARE = 0.25  # while the run computes, drawing media takes at most this
# share of the wall time (it competes with the run for the CPU): an evaluation
# point that comes sooner is skipped; the last one is drawn when the run ends
MEDIA_NICE = 10  # priority of the thread that draws media (and its ffmpeg)
MEDIA_SIZE = (240, 180)  # rollout frame size logged to trackers
MEDIA_FRAMES = 120  # at most this many rollout frames

_DONE = object()


def warn_stderr(message: str) -> None:
    print(f"hades: warning: {message}", file=sys.stderr, flush=True)


def info_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def is_eval_point(event: dict) -> bool:
    """A chunk that ended with an evaluation of the mean dataset (or an export's
    marker for the run's final dataset): media are drawn there."""
    return event.get("mean_dataset_return") is not None or bool(event.get("media"))


def normalize(names, flag: str = "--log") -> list[str]:
    """Tracker names in order, without repeats; TrackerError for unknown ones."""
    out: list[str] = []
    for n in names or []:
        n = str(n).strip().lower()
        if n not in KNOWN:
            raise TrackerError(
                f"{flag} {n!r}: unknown tracker (known: {', '.join(KNOWN)})"
            )
        if n not in out:
            out.append(n)
    return out


def check_trackers(
    names, tensorboard_dir=None, run_dir=None, flag: str = "--log"
) -> list[str]:
    """Validate before a run starts: known names, extras installed, a writable
    TensorBoard directory. Returns the names; raises TrackerError (one line)."""
    names = normalize(names, flag)
    if tensorboard_dir is not None and "tensorboard" not in names:
        raise TrackerError("--tensorboard-dir needs --log tensorboard")
    if "wandb" in names:
        from engine.trackers.wandb_tracker import require

        require()
    if "tensorboard" in names:
        from engine.trackers import tensorboard_tracker as tb

        tb.require()
        if tensorboard_dir is not None:
            tb.check_writable(Path(tensorboard_dir).expanduser())
        elif run_dir is not None:
            tb.check_writable(Path(run_dir) / "tensorboard")
    return names


def backends_for(names, tensorboard_dir=None, wandb_new_id=False) -> list[Tracker]:
    out: list[Tracker] = []
    for n in names:
        if n == "wandb":
            from engine.trackers.wandb_tracker import WandbTracker

            out.append(WandbTracker(new_id=wandb_new_id))
        else:
            from engine.trackers.tensorboard_tracker import TensorBoardTracker

            out.append(TensorBoardTracker(tensorboard_dir))
    return out


def make_trackers(
    names,
    run,
    tensorboard_dir=None,
    job: str = "distill",
    media: bool = True,
    warn: Callable[[str], None] = warn_stderr,
    info: Callable[[str], None] | None = info_stderr,
) -> Trackers | None:
    """The trackers `names` ("wandb", "tensorboard") for `run` (a `Runner`, or a
    run directory), ready to receive its progress events; None for no names.

    `job` (distill, resume, fork, sweep, export) is recorded with the run.
    Raises TrackerError (one line) before anything starts when a name is
    unknown, an extra is missing or the TensorBoard directory is unwritable.
    """
    run_dir = Path(getattr(run, "run_dir", run))
    names = check_trackers(names, tensorboard_dir, run_dir)
    if not names:
        return None
    run_info = RunInfo.from_run_dir(run_dir, job)
    backends = backends_for(names, tensorboard_dir)
    return Trackers(run_info, backends, media=media, warn=warn, info=info)


def trackers_on_first_event(
    names,
    root,
    tensorboard_dir=None,
    job: str = "distill",
    warn: Callable[[str], None] = warn_stderr,
    info: Callable[[str], None] | None = info_stderr,
) -> Callable[[dict], None] | None:
    """A `progress_fn` for a run that is created later (a job queued in the
    dashboard): the trackers are made on the run's first event (its `run_id`
    names the folder under `root`) and close themselves when the run ends. Check
    the names first (`check_trackers`); None for no names."""
    names = normalize(names)
    if not names:
        return None
    holder: list[Trackers] = []
    lock = threading.Lock()

    def progress(event: dict) -> None:
        with lock:
            if not holder:
                run_dir = Path(root) / event["run_id"]
                hub = make_trackers(names, run_dir, tensorboard_dir, job=job,
                                    warn=warn, info=info)  # fmt: skip
                hub.auto_close = True
                holder.append(hub)
        holder[0].progress(event)

    return progress


class _Worker:
    """One backend in its own thread: start, then queued calls, then finish."""

    def __init__(self, backend: Tracker, run: RunInfo, warn, info):
        self.backend = backend
        self.run = run
        self.warn = warn
        self.info = info
        self.state = "starting"  # starting | ready | failed | done
        self._lock = threading.Lock()
        self.q: queue.SimpleQueue = queue.SimpleQueue()
        self.thread = threading.Thread(
            target=self._main, name=f"hades-tracker-{backend.name}", daemon=True
        )
        self.thread.start()

    def put(self, item) -> None:
        if self.state != "failed":
            self.q.put(item)

    def give_up(self) -> bool:
        """Abandon a backend still starting; True if this call did it."""
        with self._lock:
            if self.state != "starting":
                return False
            self.state = "failed"
            return True

    def _fail(self, e: BaseException, doing: str) -> None:
        with self._lock:
            if self.state == "failed":
                return  # warned already (or given up at close)
            self.state = "failed"
        msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
        why = f"{doing}: {type(e).__name__}{': ' + msg[:300] if msg else ''}"
        name = self.backend.name
        with contextlib.suppress(OSError):  # `hades runs show` / a page can tell
            write_record(self.run.run_dir, name, {"error": why})
        if self.run.job == "export":
            self.warn(f"{name}: the export failed ({why})")
            return
        self.warn(
            f"{name} stopped logging ({why}); the run goes on and metrics.jsonl "
            f"has every generation (`hades runs export {self.run.run_id} --to "
            f"{name}` logs it later)"
        )

    def _main(self) -> None:
        try:
            line = self.backend.start(self.run)
            with self._lock:
                if self.state == "failed":  # given up while connecting
                    return
                self.state = "ready"
            record = getattr(self.backend, "record", None)
            if record:
                write_record(self.run.run_dir, self.backend.name, record)
            if self.info is not None and line:
                self.info(line)
        except Exception as e:
            self._fail(e, "start")
        status = "finished"
        while True:
            item = self.q.get()
            if item is _DONE:
                break
            kind, payload = item
            if self.state == "failed":
                continue
            try:
                if kind == "scalars":
                    self.backend.log_scalars(*payload)
                elif kind == "media":
                    self.backend.log_media(payload)
                elif kind == "status":
                    status = payload
            except Exception as e:
                self._fail(e, f"logging {kind}")
        if self.state == "ready":
            try:
                self.backend.finish(status)
                self.state = "done"
            except Exception as e:
                self._fail(e, "finish")


class Trackers:
    """Backends fed by a run's progress events (see the module docstring)."""

    def __init__(
        self,
        run: RunInfo,
        backends: list[Tracker],
        media: bool = True,
        warn: Callable[[str], None] = warn_stderr,
        info: Callable[[str], None] | None = info_stderr,
    ):
        self.run = run
        self.names = [b.name for b in backends]
        self.media = media
        self.warn = warn
        self._media_warned = False
        self._tmp = Path(tempfile.mkdtemp(prefix="hades-media-"))
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self._pending_media = 0
        self._lock = threading.Lock()
        self._closed = False
        self._finished = threading.Event()
        self.auto_close = False  # close in a thread of its own when the run ends
        self.workers = [_Worker(b, run, warn, info) for b in backends]
        self._thread = threading.Thread(
            target=self._dispatch, name="hades-trackers", daemon=True
        )
        self._thread.start()

    # The run's side (cheap) ----------
    def progress(self, event: dict) -> None:
        """A run's `progress_fn`: queue what the trackers need from `event`."""
        if self._closed:
            return
        rows = [(int(r["generation"]), scalars(r), float(r.get("time") or time.time()))
                for r in event.get("metrics") or [] if "generation" in r]  # fmt: skip
        snap = None
        if self.media and event.get("kind") == "chunk" and is_eval_point(event):
            snap = self._snapshot(int(event.get("generation") or 0))
        if rows or snap:
            self._q.put(("chunk", (rows, snap)))
        if event.get("status") in TERMINAL and event.get("kind") == "status":
            self._q.put(("status", event["status"]))
            self._closed = True
            self._q.put(_DONE)
            if self.auto_close:
                threading.Thread(
                    target=self.close, name="hades-trackers-close", daemon=True
                ).start()

    __call__ = progress

    def _snapshot(self, generation: int) -> Path | None:
        """Copy the run's mean dataset now: the run overwrites it next chunk."""
        src = self.run.run_dir / "dataset.npz"
        dst = self._tmp / f"g{generation:06d}.npz"
        try:
            shutil.copyfile(src, dst)
        except OSError:
            return None
        with self._lock:
            self._pending_media += 1
        return dst

    # The dispatcher thread ----------
    def _dispatch(self) -> None:
        with contextlib.suppress(AttributeError, OSError):  # the run's threads first
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), MEDIA_NICE)
        status = "finished"
        waiting: Path | None = None  # the latest evaluation point not drawn yet
        next_draw = 0.0  # monotonic time from which drawing fits MEDIA_SHARE
        while True:
            item = self._q.get()
            if item is _DONE:
                break
            kind, payload = item
            if kind == "status":
                status = payload
                continue
            rows, snap = payload
            for step, values, wall in rows:
                if values:
                    for w in self.workers:
                        w.put(("scalars", (step, values, wall)))
            if snap is None:
                continue
            with self._lock:
                self._pending_media -= 1
                newer = self._pending_media > 0  # a newer one is queued
            waiting = snap
            if not newer and time.monotonic() >= next_draw:
                t0 = time.monotonic()
                if self._draw(waiting):
                    waiting = None
                spent = time.monotonic() - t0
                next_draw = time.monotonic() + spent * (1 / MEDIA_SHARE - 1)
        if waiting is not None:  # the run is over: nothing left to slow down
            deadline = time.monotonic() + START_GRACE_SECONDS
            while (
                any(w.state == "starting" for w in self.workers)
                and time.monotonic() < deadline
            ):
                time.sleep(0.05)
            self._draw(waiting)
        for w in self.workers:
            w.put(("status", status))
            w.q.put(_DONE)
        self._finished.set()

    def _draw(self, snap: Path) -> bool:
        """Draw an evaluation point if a backend is logging (not one still
        connecting: a tracker that never connects costs the run nothing).
        False when it was not drawn for that reason."""
        if not any(w.state == "ready" for w in self.workers):
            return False
        media = self._render(snap)
        if media is not None:
            for w in self.workers:
                w.put(("media", media))
        return True

    def _render(self, snap: Path) -> Media | None:
        from engine import dataset as ds_lib
        from engine import render

        step = int(snap.stem[1:])
        media = Media(step=step)
        try:
            ds = ds_lib.load(snap)
            picture = self._tmp / f"{snap.stem}.png"
            render.render_states(ds, picture)
            media.picture = picture
            frames, info = render.rollout_frames(
                ds, seed=0, frame_cap=MEDIA_FRAMES, size=MEDIA_SIZE
            )
            media.frames, media.fps, media.info = frames, info["fps"], info
            try:
                media.mp4 = Path(
                    render.video.write_mp4(
                        frames, self._tmp / f"{snap.stem}.mp4", info["fps"]
                    )
                )
            except render.RenderError:
                media.mp4 = None  # no ffmpeg: trackers that need mp4 skip video
        except Exception as e:  # pictures are a bonus: the scalars go on
            if not self._media_warned:
                self._media_warned = True
                self.warn(
                    f"trackers: no dataset pictures or videos ({type(e).__name__}: {e})"
                )
            if media.picture is None:
                return None
        return media

    # Closing ----------
    def close(self, status: str | None = None) -> None:
        """Wait for the trackers to finish (called once the run has ended).

        A backend still connecting after `START_GRACE_SECONDS` is given up with a
        warning (its thread is a daemon: the process exits without it)."""
        if not self._closed:
            self._closed = True
            self._q.put(("status", status or "stopped"))
            self._q.put(_DONE)
        self._thread.join()
        deadline_start = time.monotonic() + START_GRACE_SECONDS
        for w in self.workers:
            while w.state == "starting" and time.monotonic() < deadline_start:
                time.sleep(0.05)
            if w.give_up():
                self.warn(
                    f"{w.backend.name} was still connecting when the run ended; gave "
                    f"up (the run is complete in metrics.jsonl: `hades runs export "
                    f"{self.run.run_id} --to {w.backend.name}` logs it later)"
                )
                continue
            w.thread.join(FINISH_SECONDS)
        with contextlib.suppress(OSError):
            shutil.rmtree(self._tmp)

    @property
    def failed(self) -> list[str]:
        """Backends that stopped (after `close()`: every one that did not finish)."""
        return [w.backend.name for w in self.workers if w.state == "failed"]

    def __enter__(self) -> Trackers:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
