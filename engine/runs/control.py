"""Live control of a running job: pause, resume, stop, and knobs that keep shapes.

A `Control` is shared between the thread that runs a job and any thread that
steers it (the dashboard, a CLI signal handler). The runner reads it between jitted
chunks: it applies pending lr/sigma/temperature changes (values only, so the chunk
does not recompile), and while paused it sleeps on a condition variable (no busy
wait) until resumed or stopped. Changes that alter shapes or static settings
(population, dataset size, network) are forks, not controls.
"""

from __future__ import annotations

import math
import threading

KNOBS = ("lr", "sigma", "temperature")


class Control:
    """Thread-safe pause / resume / stop flags and pending knob changes."""

    def __init__(self):
        self._cond = threading.Condition()
        self._paused = False
        self._stopped = False
        self._pending: dict[str, float] = {}
        self.version = 0  # bumped on every change (for waiters and tests)

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

    def stop(self) -> None:
        """Stop after the current chunk (checkpoint written, status stopped)."""
        with self._cond:
            self._stopped = True
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

    def wait_change(self, version: int, timeout: float | None = None) -> int:
        """Block until the control changes after `version`; returns the new one."""
        with self._cond:
            self._cond.wait_for(lambda: self.version != version, timeout)
            return self.version

    def _bump(self) -> None:
        self.version += 1
        self._cond.notify_all()

    def __repr__(self) -> str:
        return (
            f"Control(paused={self._paused}, stopped={self._stopped}, "
            f"pending={self._pending})"
        )
