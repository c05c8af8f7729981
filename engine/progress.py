"""Progress of a counted loop with an ETA, as `hades distill` shows it: the time
per step is measured on the steps after the first (the first one compiles), so the
ETA appears from the second step on. Used by `hades evaluate` and the studies."""

from __future__ import annotations

import time


def format_duration(seconds: float | None) -> str:
    """ "45s", "3m05s", "2h07m", "3d04h"; "-" when unknown."""
    if seconds is None:
        return "-"
    s = int(round(seconds))
    if s >= 86400:
        return f"{s // 86400}d{s % 86400 // 3600:02d}h"
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"


class Eta:
    """Steps done of `total` -> seconds left (None until two steps are timed)."""

    def __init__(self, total: int, clock=time.monotonic):
        self.total = int(total)
        self.clock = clock
        self.t0 = clock()
        self.first: tuple[int, float] | None = None  # (done, time) after step one

    def update(self, done: int) -> float | None:
        now = self.clock()
        if done <= 0:
            return None
        if self.first is None:
            self.first = (done, now)
            return None
        d0, t0 = self.first
        if done <= d0:
            return None
        per_step = (now - t0) / (done - d0)
        return max(0.0, (self.total - done) * per_step)

    def elapsed(self) -> float:
        return self.clock() - self.t0


def bar(done: int, total: int, width: int = 20) -> str:
    filled = min(width, int(width * done / total)) if total > 0 else 0
    return "[" + "#" * filled + "-" * (width - filled) + "]"
