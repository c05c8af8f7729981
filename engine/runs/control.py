"""Live control of a running job: pause, resume, stop, and knobs that keep shapes.

A `Control` is shared between the thread that runs a job and any thread that
steers it (the dashboard, a CLI signal handler). The runner reads it between jitted
chunks: it applies pending lr/sigma/temperature changes (values only, so the chunk
does not recompile), and while paused it sleeps on a condition variable (no busy
wait) until resumed or stopped. Changes that alter shapes or static settings
(population, dataset size, network) are forks, not controls.

Controllers in other processes (the CLI's `hades control`, a dashboard that did
not start the run) reach the run through its directory: `send` writes
`control.json`, and the runner applies it with `sync_from_store` between chunks.
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import threading
import time
from pathlib import Path

KNOBS = ("lr", "sigma", "temperature")
RUN, WAIT, STOP = 0, 1, 2
"""A run's decision before its next chunk (what the leader of a run over several
processes tells the others, `engine.runs.distributed`)."""


class Control:
    """Thread-safe pause / resume / stop flags and pending knob changes."""

    def __init__(self):
        self._cond = threading.Condition()
        self._paused = False
        self._stopped = False
        self.reason = "stopped by user"
        self._pending: dict[str, float] = {}

    # Commands ----------
    def pause(self) -> None:
        """Hold the run after its current chunk."""
        with self._cond:
            self._paused = True
            self._bump()

    def resume(self) -> None:
        """Continue a paused run."""
        with self._cond:
            self._paused = False
            self._bump()

    def stop(self, reason: str = "stopped by user") -> None:
        """Stop after the current chunk (checkpoint written, status stopped);
        `reason` becomes the run's status message."""
        with self._cond:
            self._stopped = True
            self.reason = reason
            self._bump()

    def set(
        self,
        lr: float | None = None,
        sigma: float | None = None,
        temperature: float | None = None,
    ) -> dict[str, float]:
        """Queue new knob values for the next chunk; returns all pending values.

        lr and sigma must be finite and > 0, temperature finite and >= 0.
        """
        changes = {"lr": lr, "sigma": sigma, "temperature": temperature}
        changes = {k: v for k, v in changes.items() if v is not None}
        for k, v in changes.items():
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise ValueError(f"{k}={v!r} must be a number")
            v = float(v)
            ok = math.isfinite(v) and (v >= 0 if k == "temperature" else v > 0)
            if not ok:
                raise ValueError(
                    f"{k}={v!r} must be finite and "
                    + (">= 0" if k == "temperature" else "> 0")
                )
            changes[k] = v
        with self._cond:
            self._pending.update(changes)
            self._bump()
            return dict(self._pending)

    # State ----------
    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def stopped(self) -> bool:
        return self._stopped

    @property
    def pending(self) -> dict[str, float]:
        with self._cond:
            return dict(self._pending)

    # Runner side ----------
    def take_pending(self) -> dict[str, float]:
        """Pending changes, cleared (called by the runner between chunks)."""
        with self._cond:
            out, self._pending = self._pending, {}
            return out

    def wait_while_paused(self, timeout: float | None = None) -> bool:
        """Block (sleeping) while paused and not stopped; True when it may go on."""
        with self._cond:
            self._cond.wait_for(lambda: not self._paused or self._stopped, timeout)
            return not self._paused or self._stopped

    def _bump(self) -> None:
        self._cond.notify_all()

    def __repr__(self) -> str:
        return (
            f"Control(paused={self._paused}, stopped={self._stopped}, "
            f"pending={self._pending})"
        )


# Control through the run store ----------
# Any process that sees the runs folder steers a run by writing `control.json` in
# its directory (atomically, under an flock so that two controllers never lose
# each other's changes); the process that executes the run reads it between chunks
# (`Runner`) and writes what it applied to status.json's "control" record. The
# executor never writes control.json, so there is one writer per file.
CONTROL_FILE = "control.json"
COMMANDS = ("pause", "continue", "stop", "set")


def check_knobs(knobs: dict) -> dict[str, float]:
    """Knob values checked as `Control.set` does; raises ValueError naming the knob."""
    unknown = sorted(set(knobs) - set(KNOBS))
    if unknown:
        raise ValueError(
            f"unknown knob {', '.join(unknown)}: live knobs are {', '.join(KNOBS)} "
            "(other settings change shapes or compiled code: use `hades fork`)"
        )
    return Control().set(**knobs)


def read_commands(run_dir) -> dict:
    """The run's control record ({} when none was ever sent)."""
    from engine.runs.store import read_json

    return read_json(Path(run_dir) / CONTROL_FILE) or {}


def send(
    run_dir,
    command: str,
    knobs: dict | None = None,
    sender: str = "",
    reason: str = "",
) -> dict:
    """Write `command` (pause, continue, stop, set) for the run's executor;
    `reason` (stop only) becomes the stopped run's status message.

    Returns the record written: {seq, paused, stopped, set, time, sender}. Knob
    changes that the executor has not acknowledged yet are kept (merged), so two
    quick `set`s both apply. Raises ValueError for an unknown command or knob, or a
    value out of range.
    """
    from engine.runs.lock import process_record
    from engine.runs.store import read_json, write_json

    if command not in COMMANDS:
        raise ValueError(f"unknown command {command!r}: use {', '.join(COMMANDS)}")
    knobs = check_knobs(knobs or {}) if command == "set" else {}
    if command == "set" and not knobs:
        raise ValueError("set needs at least one knob=value (lr, sigma, temperature)")
    run_dir = Path(run_dir)
    with open(run_dir / ".control.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        cur = read_commands(run_dir)
        status = read_json(run_dir / "status.json") or {}
        ack = status.get("control") or {}
        acked = int(ack.get("seq") or 0)
        seq = max(int(cur.get("seq") or 0), acked) + 1
        if int(cur.get("seq") or 0) <= acked:  # all acknowledged: start from the run
            cur = {"paused": bool(ack.get("paused")), "stopped": False, "set": {}}
        paused = bool(cur.get("paused"))
        if command in ("pause", "continue"):
            paused = command == "pause"
        record = {
            "seq": seq,
            "command": command,
            "paused": paused,
            "stopped": bool(cur.get("stopped")) or command == "stop",
            "set": {**(cur.get("set") or {}), **knobs},
            "time": time.time(),
            "sender": sender or "{host}:{pid}".format(**process_record()),
        }
        if command == "stop" and reason:
            record["reason"] = reason
        write_json(run_dir / CONTROL_FILE, record)
    return record


def sync_from_store(run_dir, control: Control, last_seq: int) -> tuple[int, dict]:
    """Apply control.json's commands newer than `last_seq` to `control`.

    Returns (seq, record): the record applied ({} when nothing was new).
    """
    rec = read_commands(run_dir)
    seq = int(rec.get("seq") or 0)
    if seq <= last_seq:
        return last_seq, {}
    if rec.get("stopped"):
        control.stop(rec.get("reason") or "stopped by user")
    if rec.get("paused"):
        control.pause()
    else:
        control.resume()
    knobs = {k: v for k, v in (rec.get("set") or {}).items() if k in KNOBS}
    if knobs:
        with contextlib.suppress(ValueError):
            control.set(**knobs)
    return seq, rec
