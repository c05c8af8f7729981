"""Explain results in the dashboard: the figures of `engine.figures.explain` (plain
specs, the same the CLI saves as PNG) as plotly figures, and the text around them.
Pure functions (no Streamlit, no JAX).
"""

from __future__ import annotations

import plotly.graph_objects as go

from engine.figures import explain as specs


def figure(name: str, res: dict, uirevision: str) -> go.Figure:
    """The explain figure `name` (see `specs.FIGURES`) of result `res`, sized by
    its container, zoom kept across reruns."""
    fig = go.Figure(specs.FIGURES[name](res))
    fig.update_layout(uirevision=uirevision, width=None)
    return fig


def coverage_table(res: dict) -> list[dict]:
    """One row per synthetic state: distance to the nearest visited state, and
    that distance in units of the visited states' typical spacing."""
    cov = res["coverage"]
    spacing = cov.get("typical_spacing") or 0.0
    return [
        {
            "pair": i,
            "nearest visited distance": round(float(d), 4),
            "x typical spacing": round(float(d) / spacing, 1) if spacing else None,
        }
        for i, d in enumerate(cov["nearest_distance"])
    ]


def headline(res: dict) -> str:
    """One markdown sentence: the most important pair and what removing it costs."""
    pairs = res["pairs"]
    if not pairs:
        return ""
    worst = min(pairs, key=lambda p: p["without_return"])
    full = res["full_return"]
    drop = full - worst["without_return"]
    rel = f" ({100 * drop / abs(full):.0f}%)" if full else ""
    best_alone = max(pairs, key=lambda p: p["alone_return"])
    return (
        f"Whole dataset: **{full:.1f}**. Removing **pair {worst['index']}** costs the "
        f"most: {worst['without_return']:.1f}, a drop of {drop:.1f}{rel}. Alone, "
        f"pair {best_alone['index']} does best ({best_alone['alone_return']:.1f})."
    )
