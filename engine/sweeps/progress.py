"""A sweep's progress as text: one line per finished run, an overall bar with ETA.

The bar counts generations over every run of the sweep, read from the store (what
a run writes after each chunk, wherever it executes), so it moves while runs are
still going; the ETA is the generations left at the rate measured since the start.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from engine.runs.cli import format_duration
from engine.runs.store import RunStore
from engine.sweeps.execute import CANCEL_GRACE_S

BAR_WIDTH = 20


def bar_line(
    done: int, total_runs: int, gens: int, total_gens: int, elapsed: float, eta
) -> str:
    frac = gens / total_gens if total_gens else 0.0
    filled = min(BAR_WIDTH, int(BAR_WIDTH * frac))
    return (
        f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {done}/{total_runs} runs, "
        f"{100 * frac:.0f}% of generations, {format_duration(elapsed)} elapsed, "
        f"ETA {format_duration(eta)}"
    )


def done_line(k: int, n: int, slot: str, ev: dict) -> str:
    def num(x):
        return "-" if x is None else f"{x:.1f}"

    msg = ev.get("message") or ""
    status = ev.get("status") or "?"
    if msg and status != "finished":
        status = f"{status} ({msg[:120]})"
    return (
        f"[{k}/{n}] {slot}  run {ev['run_id']}  {status}  mean-dataset "
        f"{num(ev.get('mean_dataset_return'))}  best {num(ev.get('best_fitness'))}  "
        f"{ev.get('seconds', 0):.0f} s"
    )


class SweepProgress:
    """The `on_event` of an `Executor`: prints to `out` (stderr with --json)."""

    def __init__(
        self,
        store: RunStore,
        slots: dict[str, str],
        todo: list[str],
        out: TextIO | None = None,
        quiet: bool = False,
        bar_every_s: float = 10.0,
    ):
        self.store = store
        self.slots = slots  # run id -> slot, every run of the sweep
        self.todo = list(todo)
        self.out = out or sys.stdout
        self.quiet = quiet
        self.bar_every_s = bar_every_s
        self.t0 = time.time()
        self.finished: list[str] = []
        self.gens0 = self._generations()[0]
        self._last_bar = 0.0

    def _generations(self) -> tuple[int, int]:
        gens = total = 0
        for rid in self.todo:
            try:
                st = self.store.read_status(rid)
            except Exception:  # noqa: BLE001 - a run deleted meanwhile counts as 0
                continue
            total += int(st.get("total_generations") or 0)
            gens += min(int(st.get("generation") or 0), total)
        return gens, total

    def bar(self) -> str:
        gens, total = self._generations()
        elapsed = time.time() - self.t0
        rate = (gens - self.gens0) / elapsed if elapsed > 0 else 0.0
        eta = (total - gens) / rate if rate > 0 else None
        return bar_line(len(self.finished), len(self.todo), gens, total, elapsed, eta)

    def print(self, line: str) -> None:
        if not self.quiet:
            print(line, file=self.out, flush=True)

    def __call__(self, ev: dict) -> None:
        now = time.time()
        if ev.get("kind") == "stopping":
            self.print(
                f"interrupted: stopping {ev['runs']} runs at their next checkpoint "
                f"(at most {CANCEL_GRACE_S:.0f} s; Ctrl-C again to stop at once)"
            )
            return
        if ev.get("kind") == "done":
            self.finished.append(ev["run_id"])
            slot = self.slots.get(ev["run_id"], "")
            self.print(done_line(len(self.finished), len(self.todo), slot, ev))
        elif now - self._last_bar < self.bar_every_s:
            return
        self._last_bar = now
        self.print(self.bar())
