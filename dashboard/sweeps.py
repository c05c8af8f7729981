"""A sweep's numbers for the Runs page (no Streamlit here): per grid point, the
curves of its seeds and the mean and spread of their last values.

A grid point (``group`` in sweep.json) is a sweep's run without its seed; its
seeds are the runs that differ only in the seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from dashboard import metrics as m
from engine.runs import RunError
from engine.sweeps import record

METRICS = {
    "mean_dataset_return": "mean-dataset return",
    "best_fitness": "best fitness so far",
    "fitness_mean": "population mean fitness",
}


@dataclass(frozen=True)
class PointStats:
    """The last value of a metric over the seeds of one grid point."""

    group: str
    values: tuple[float, ...]  # one per seed that has a value
    seeds: tuple[int, ...]
    runs: int  # runs of the point (with or without a value yet)
    finished: int

    @property
    def mean(self) -> float | None:
        return sum(self.values) / len(self.values) if self.values else None

    @property
    def std(self) -> float | None:
        if not self.values:
            return None
        mu = self.mean
        return math.sqrt(sum((v - mu) ** 2 for v in self.values) / len(self.values))

    @property
    def low(self) -> float | None:
        return min(self.values) if self.values else None

    @property
    def high(self) -> float | None:
        return max(self.values) if self.values else None


def point_curves(store, sweep: record.Sweep, metric: str) -> dict[str, list[tuple]]:
    """{group: [(run_id, seed, status, (generations, values)), ...]} in grid order."""
    statuses = {r["run_id"]: r["status"] for r in record.status_rows(store, sweep)}
    out: dict[str, list[tuple]] = {}
    for p in sweep.points:
        rid = p.get("run_id")
        if not rid:
            continue
        try:
            gens, _ = m.split_rows(store.read_metrics(rid))
        except RunError:
            continue
        curve = m.series(gens, metric)
        out.setdefault(p["group"], []).append((rid, p["seed"], statuses[rid], curve))
    return out


def point_stats(curves: dict[str, list[tuple]]) -> list[PointStats]:
    """Mean and spread of the last value of each seed's curve, per grid point."""
    out = []
    for group, runs in curves.items():
        vals, seeds = [], []
        for _, seed, _, (_, ys) in runs:
            if ys:
                vals.append(ys[-1])
                seeds.append(seed)
        out.append(
            PointStats(
                group,
                tuple(vals),
                tuple(seeds),
                len(runs),
                sum(1 for r in runs if r[2] == "finished"),
            )
        )
    return out


def overlay_groups(curves: dict[str, list[tuple]]) -> list[tuple[str, list]]:
    """`charts.overlay_figure` groups: one band (mean, lowest, highest) per point."""
    return [(group, [r[3] for r in runs]) for group, runs in curves.items()]


def stats_table(stats: list[PointStats]) -> dict[str, list]:
    return {
        "grid point": [s.group for s in stats],
        "seeds": [len(s.values) for s in stats],
        "finished": [f"{s.finished}/{s.runs}" for s in stats],
        "mean": [s.mean for s in stats],
        "std": [s.std for s in stats],
        "min": [s.low for s in stats],
        "max": [s.high for s in stats],
    }
