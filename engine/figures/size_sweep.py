"""Size sweep: final return against the dataset size N, and the ES curves per N."""

from __future__ import annotations

import math

from engine.figures.grid import Subplots


def figure(finals: dict, curves: list[dict], env: str) -> dict:
    """`finals` {N: final returns (array)}; `curves` rows {size, generation,
    mean_return}."""
    sizes = list(finals)
    fig = Subplots(
        1,
        2,
        subplot_titles=(
            "final return vs dataset size N",
            "ES mean dataset return per N",
        ),
    )
    fig.add(
        {
            "type": "scatter",
            "x": sizes,
            "y": [float(finals[n].mean()) for n in sizes],
            "error_y": {
                "type": "data",
                "array": [float(finals[n].std()) for n in sizes],
            },
            "mode": "lines+markers",
            "name": "final return",
        },
        1,
        1,
    )
    for n in sizes:
        c = [r for r in curves if r["size"] == n]
        fig.add(
            {
                "type": "scatter",
                "x": [r["generation"] for r in c],
                "y": [r["mean_return"] for r in c],
                "mode": "lines+markers",
                "name": f"N={n}",
            },
            1,
            2,
        )
    fig.update_axes(
        "x", 1, 1, type="log", dtick=math.log10(2), title={"text": "N (pairs)"}
    )
    fig.update_axes("x", 1, 2, title={"text": "generation"})
    fig.update_axes("y", 1, 1, title={"text": "return"})
    fig.update_layout(
        title={"text": f"{env}: dataset size sweep"}, width=1100, height=430
    )
    return fig.spec
