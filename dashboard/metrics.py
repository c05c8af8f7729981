"""Pure helpers over run metrics, statuses and configs (no Streamlit, no JAX).

Rows are what `RunStore.read_metrics` returns (see `engine/runs/store.py`):
generation rows (no ``event`` key) and event rows (``event`` set). Everything here
is a plain function of those lists, so pages stay thin and tests call it directly.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

MAX_POINTS = 500
"""Charts draw at most this many points per curve."""

ACTIVE = ("queued", "compiling", "running", "paused")
ENDED = ("stopped", "finished", "failed")

STATUS_COLOURS = {
    "queued": "gray",
    "compiling": "orange",
    "running": "blue",
    "paused": "violet",
    "stopped": "gray",
    "finished": "green",
    "failed": "red",
}

CONTROL_KNOBS = ("lr", "sigma", "temperature")


def split_rows(rows: Iterable[dict]) -> tuple[list[dict], list[dict]]:
    """(generation rows, event rows), each in file order."""
    gens, events = [], []
    for r in rows:
        (events if "event" in r else gens).append(r)
    return gens, events


def downsample(rows: Sequence[dict], max_points: int = MAX_POINTS) -> list[dict]:
    """At most `max_points` rows, evenly spaced, first and last always kept."""
    n = len(rows)
    if n <= max_points:
        return list(rows)
    if max_points < 2:
        return [rows[-1]]
    step = (n - 1) / (max_points - 1)
    idx = sorted({round(i * step) for i in range(max_points)} | {0, n - 1})
    return [rows[i] for i in idx]


def series(rows: Sequence[dict], key: str) -> tuple[list[int], list[float]]:
    """(generations, values) of `key` over the rows where it is a finite number."""
    xs, ys = [], []
    for r in rows:
        v = r.get(key)
        if isinstance(v, bool) or not isinstance(v, int | float):
            continue
        if not math.isfinite(v):
            continue
        xs.append(int(r.get("generation") or 0))
        ys.append(float(v))
    return xs, ys


def last_value(rows: Sequence[dict], key: str) -> float | None:
    """The last finite value of `key` in the rows, or None."""
    for r in reversed(rows):
        v = r.get(key)
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
            return float(v)
    return None


def control_changes(events: Iterable[dict]) -> list[dict]:
    """Live changes as {generation, text, knobs}: one per applied control event."""
    out = []
    for e in events:
        if e.get("event") != "control":
            continue
        prev = e.get("previous") or {}
        parts = []
        knobs = {}
        for k in CONTROL_KNOBS:
            if k in e and e[k] is not None:
                knobs[k] = e[k]
                p = prev.get(k)
                parts.append(
                    f"{k} {fmt_num(p)} \u2192 {fmt_num(e[k])}"
                    if p is not None
                    else f"{k} \u2192 {fmt_num(e[k])}"
                )
        for k, why in (e.get("rejected") or {}).items():
            parts.append(f"{k} rejected ({why})")
        if parts:
            out.append(
                {
                    "generation": int(e.get("generation") or 0),
                    "text": ", ".join(parts),
                    "knobs": knobs,
                }
            )
    return out


def lifecycle_marks(events: Iterable[dict]) -> list[dict]:
    """Pauses, resumes and stops as {generation, text} (for chart annotations)."""
    names = {
        "pause": "paused",
        "unpause": "resumed",
        "resume": "resumed from checkpoint",
        "stop": "stopped",
        "fail": "failed",
    }
    out = []
    for e in events:
        kind = e.get("event")
        if kind in names:
            if kind == "resume" and e.get("from") == "parent":
                text = "forked from parent"
            else:
                text = names[kind]
            g = int(e.get("generation") or 0)
            if out and out[-1]["generation"] == g:  # e.g. paused and resumed at g
                if text not in out[-1]["text"]:
                    out[-1]["text"] += f", {text}"
                continue
            out.append({"generation": g, "text": text})
    return out


def fmt_num(x: Any, digits: int = 4) -> str:
    """Compact number: 0.05, 1.2e-05, 500, or an em dash for None."""
    if x is None:
        return "\u2014"
    try:
        x = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not math.isfinite(x):
        return "\u2014"
    if x == int(x) and abs(x) < 1e6:
        return str(int(x))
    return f"{x:.{digits}g}"


def fmt_seconds(s: float | None) -> str:
    """Durations for people: 0.24 s, 12 s, 3 min 05 s, 1 h 02 min."""
    if s is None:
        return "\u2014"
    try:
        s = float(s)
    except (TypeError, ValueError):
        return "\u2014"
    if not math.isfinite(s) or s < 0:
        return "\u2014"
    if s < 10:
        return f"{s:.2g} s" if s < 1 else f"{s:.1f} s"
    if s < 60:
        return f"{s:.0f} s"
    m, sec = divmod(int(round(s)), 60)
    if m < 60:
        return f"{m} min {sec:02d} s"
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min"


def summary(status: dict, gens: Sequence[dict]) -> dict:
    """The numbers shown above the Live charts, from status.json and the rows."""
    last = gens[-1] if gens else {}
    steady = [r for r in gens if not r.get("compiled")]
    spg = status.get("seconds_per_generation")
    if spg is None and steady:
        spg = steady[-1].get("seconds_per_generation")
    gen = int(status.get("generation") or (last.get("generation") or 0))
    total = status.get("total_generations")
    eta = status.get("eta_seconds")
    if eta is None and spg and total and status.get("status") in ("running",):
        eta = max(0, int(total) - gen) * float(spg)
    return {
        "status": status.get("status", "unknown"),
        "message": status.get("message") or "",
        "generation": gen,
        "total_generations": total,
        "fitness_mean": last.get("fitness_mean"),
        "fitness_max": last.get("fitness_max"),
        "best_fitness": last_value(gens, "best_fitness"),
        "mean_dataset_return": last_value(gens, "mean_dataset_return"),
        "sigma": last.get("sigma", status.get("sigma")),
        "lr": last.get("lr", status.get("lr")),
        "bc_loss": last.get("bc_loss"),
        "seconds_per_generation": spg,
        "eta_seconds": eta,
        "compile_seconds": status.get("compile_seconds"),
    }


def progress_fraction(gen: int, total: int | None) -> float:
    if not total:
        return 0.0
    return max(0.0, min(1.0, gen / float(total)))


# Configs ----------
def flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    """{"outer": {"lr": 0.05}} -> {"outer.lr": 0.05} (lists stay values)."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict):
            out.update(flatten(v, key))
        else:
            out[key] = v
    return out


def config_diff(
    configs: dict[str, dict], only_differences: bool = True
) -> list[dict[str, Any]]:
    """Rows {"field", <run>: value, ...} over the union of flattened fields.

    With `only_differences`, fields equal in every config are left out.
    """
    flat = {name: flatten(cfg or {}) for name, cfg in configs.items()}
    fields: list[str] = []
    for f in flat.values():
        for k in f:
            if k not in fields:
                fields.append(k)
    rows = []
    for k in sorted(fields):
        values = [f.get(k, "\u2014") for f in flat.values()]
        if only_differences and all(repr(v) == repr(values[0]) for v in values):
            continue
        rows.append({"field": k, **{n: _cell(v) for n, v in zip(flat, values)}})
    return rows


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return fmt_num(v, 6)
    return str(v)


def seed_group_key(cfg: dict) -> str:
    """Configs that differ only in seed (and preset name) share this key."""
    flat = flatten(cfg or {})
    flat.pop("seed", None)
    return repr(sorted(flat.items(), key=lambda kv: kv[0]))


def aggregate(
    curves: Sequence[tuple[list[int], list[float]]],
) -> tuple[list[int], list[float], list[float], list[float], list[int]]:
    """Mean, min and max over several (generations, values) curves.

    Returns (generations, mean, low, high, count) at each generation that any curve
    has; `count` says how many curves contributed there.
    """
    by_gen: dict[int, list[float]] = {}
    for xs, ys in curves:
        for x, y in zip(xs, ys, strict=False):
            by_gen.setdefault(int(x), []).append(float(y))
    gens = sorted(by_gen)
    mean = [sum(by_gen[g]) / len(by_gen[g]) for g in gens]
    low = [min(by_gen[g]) for g in gens]
    high = [max(by_gen[g]) for g in gens]
    count = [len(by_gen[g]) for g in gens]
    return gens, mean, low, high, count


def read_jsonl(path) -> list[dict]:
    """Complete JSON lines of a metrics file (a torn last line is skipped).

    The same rule as `engine.runs.store.read_metrics_file`, without importing the
    run machinery (the Demo page stays free of JAX).
    """
    import json

    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return []
    end = data.rfind(b"\n")
    out = []
    for line in data[: end if end >= 0 else 0].split(b"\n"):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict):
            out.append(row)
    return out


def poll_seconds(status: dict, chunk: int, lo: float = 1.0, hi: float = 5.0) -> float:
    """How often the Live view should look for new rows.

    New rows arrive once per chunk, so polling faster than a chunk takes only
    costs the run CPU time: poll every chunk (between `lo` and `hi` seconds);
    every `lo` seconds while compiling or queued (to catch the start). The Live
    page uses `lo` = 2 s.
    """
    spg = status.get("seconds_per_generation")
    if status.get("status") in ("compiling", "queued") or not spg:
        return lo
    try:
        return float(min(hi, max(lo, float(spg) * max(1, int(chunk)))))
    except (TypeError, ValueError):
        return lo
