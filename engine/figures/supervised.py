"""Supervised: the images the ES started from and distilled, and its curves."""

from __future__ import annotations

import numpy as np

from engine.figures.grid import Subplots


def image_figure(start: np.ndarray, final: np.ndarray, name: str) -> dict:
    """Two rows of images (k, height, width, 1): the class means the ES started at,
    the distilled ones."""
    k = final.shape[0]
    fig = Subplots(
        2,
        k,
        horizontal_spacing=0.01,
        vertical_spacing=0.08,
        subplot_titles=[str(c) for c in range(k)] + [""] * k,
    )
    lo = float(min(start.min(), final.min()))
    hi = float(max(start.max(), final.max()))
    for row, imgs in ((1, start), (2, final)):
        for c in range(k):
            fig.add(
                {
                    "type": "heatmap",
                    "z": np.asarray(imgs[c, :, :, 0], np.float64).tolist(),
                    "colorscale": "gray",
                    "zmin": lo,
                    "zmax": hi,
                    "showscale": False,
                },
                row,
                c + 1,
            )
    fig.update_axes("x", visible=False)
    fig.update_axes("y", visible=False, autorange="reversed")
    fig.update_layout(
        title={"text": f"{name}: class means (top) and distilled images (bottom)"},
        width=110 * k,
        height=300,
        margin={"t": 60, "b": 10},
    )
    return fig.spec


def curve_figure(curve: list[dict], evals: list[dict], name: str) -> dict:
    """`curve` rows {generation, fitness_mean}; `evals` {generation,
    mean_train_accuracy}."""
    fig = Subplots(
        1,
        2,
        subplot_titles=(
            "population: training loss (fitness, minimised)",
            "ES mean images: training accuracy",
        ),
    )
    fig.add(
        {
            "type": "scatter",
            "x": [r["generation"] for r in curve],
            "y": [-r["fitness_mean"] for r in curve],
            "mode": "lines",
            "name": "population mean loss",
        },
        1,
        1,
    )
    fig.add(
        {
            "type": "scatter",
            "x": [e["generation"] for e in evals],
            "y": [e["mean_train_accuracy"] for e in evals],
            "mode": "lines+markers",
            "name": "mean images",
        },
        1,
        2,
    )
    fig.update_axes("x", title={"text": "generation"})
    fig.update_layout(
        title={"text": f"Supervised distillation on {name}"}, width=1000, height=420
    )
    return fig.spec
