"""Terminal progress for `hades distill`: one line, redrawn in place on a TTY.

Shows generation, fitness (population mean and max, mean dataset), sigma, seconds
per generation and ETA; compile time is reported apart, never mixed into s/gen.
"""

from __future__ import annotations

import sys


def _fmt_secs(s: float | None) -> str:
    if s is None:
        return "?"
    s = int(round(s))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{sec:02d}s" if m else f"{sec}s"


def format_event(event: dict, mean_ret: float | None = None) -> str:
    """One progress line from a runner event."""
    gen, total = event.get("generation", 0), event.get("total_generations", 0)
    width = 20
    filled = int(width * gen / total) if total else 0
    bar = "#" * filled + "-" * (width - filled)
    rows = event.get("metrics") or []
    last = rows[-1] if rows else {}
    parts = [f"[{bar}] gen {gen}/{total}"]
    if last:
        parts.append(f"fit mean {last.get('fitness_mean', float('nan')):.2f} "
                     f"max {last.get('fitness_max', float('nan')):.2f}")
    if mean_ret is not None:
        parts.append(f"mean-dataset {mean_ret:.2f}")
    if last.get("sigma") is not None:
        parts.append(f"sigma {last['sigma']:.4g}")
    spg = event.get("seconds_per_generation")
    if spg is not None:
        parts.append(f"{spg:.3f} s/gen")
    parts.append(f"ETA {_fmt_secs(event.get('eta_seconds'))}")
    return " | ".join(parts)


class ProgressPrinter:
    def __init__(self, stream=None, quiet: bool = False):
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.mean_ret: float | None = None
        self._open = False

    def header(self, text: str) -> None:
        if not self.quiet:
            print(text, file=self.stream, flush=True)

    def update(self, event: dict) -> None:
        if self.quiet:
            return
        if event.get("mean_dataset_return") is not None:
            self.mean_ret = event["mean_dataset_return"]
        if event.get("compile_seconds") is not None:
            self._newline()
            print(f"compiled in {event['compile_seconds']:.1f} s", file=self.stream,
                  flush=True)
        status = event.get("status")
        if status in ("compiling", "queued"):
            self._newline()
            print(f"{status}...", file=self.stream, flush=True)
            return
        line = format_event(event, self.mean_ret)
        if self.tty:
            print("\r" + line, end="", file=self.stream, flush=True)
            self._open = True
        else:
            print(line, file=self.stream, flush=True)

    def _newline(self) -> None:
        if self._open:
            print(file=self.stream)
            self._open = False

    def close(self) -> None:
        self._newline()
