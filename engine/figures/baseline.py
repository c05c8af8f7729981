"""Baseline: HaDES-R and HaDES-F against neuroevolution on the policy weights."""

from __future__ import annotations

from engine.config import HadesConfig
from engine.figures.grid import Subplots

COLORS = {"hades_r": "#636efa", "hades_f": "#ef553b", "neuroevolution": "#00cc96"}
SHORT = {"hades_r": "HaDES-R", "hades_f": "HaDES-F", "neuroevolution": "weights"}


def figure(
    curves: list[dict], results: dict, env: str, cfg: HadesConfig, labels: dict
) -> dict:
    """`curves` rows {method, generation, mean_return or fitness_mean}; `results`
    {method: {search_dims, ...}}; `labels` {method: legend name}."""
    fig = Subplots(
        1,
        3,
        column_widths=[0.4, 0.4, 0.2],
        subplot_titles=(
            "ES mean: return",
            "population mean fitness",
            "search dimensions",
        ),
    )
    for m in results:
        ev = [r for r in curves if r["method"] == m and "mean_return" in r]
        pop = [r for r in curves if r["method"] == m and "fitness_mean" in r]
        fig.add(
            {
                "type": "scatter",
                "x": [r["generation"] for r in ev],
                "y": [r["mean_return"] for r in ev],
                "mode": "lines+markers",
                "name": labels[m],
                "line": {"color": COLORS[m]},
                "legendgroup": m,
            },
            1,
            1,
        )
        fig.add(
            {
                "type": "scatter",
                "x": [r["generation"] for r in pop],
                "y": [r["fitness_mean"] for r in pop],
                "mode": "lines",
                "name": labels[m],
                "line": {"color": COLORS[m]},
                "legendgroup": m,
                "showlegend": False,
            },
            1,
            2,
        )
    fig.add(
        {
            "type": "bar",
            "x": [SHORT[m] for m in results],
            "y": [results[m]["search_dims"] for m in results],
            "marker": {"color": [COLORS[m] for m in results]},
            "text": [str(results[m]["search_dims"]) for m in results],
            "showlegend": False,
        },
        1,
        3,
    )
    fig.update_axes("y", 1, 3, type="log")
    fig.update_axes("x", 1, 1, title={"text": "generation"})
    fig.update_axes("x", 1, 2, title={"text": "generation"})
    fig.update_axes("y", 1, 1, title={"text": "return"})
    o = cfg.outer
    fig.update_layout(
        title={
            "text": (
                f"{env}: HaDES vs neuroevolution ({o.strategy}, population "
                f"{o.population}, {o.generations} generations, policy "
                f"{cfg.inner.depth}x{cfg.inner.width} {cfg.inner.activation})"
            )
        },
        width=1200,
        height=450,
    )
    return fig.spec
