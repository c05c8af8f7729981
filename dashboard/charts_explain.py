"""Plotly figures of an explain result (`engine.explain`, as its JSON dict).

Pure functions (no Streamlit, no JAX): pair importance, label sensitivity, the
policy map and coverage. The CLI draws the same results with matplotlib
(`engine/render/explain_figures.py`; the engine never imports plotly).
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from dashboard.charts import PALETTE, _layout

FULL = "#1b1f29"


def _title(res: dict, what: str) -> str:
    kind = "fixed init (HaDES-F)" if res.get("fixed_init") else "fresh inits"
    return f"{what} ({res['inits']} {kind})"


def _reference(fig: go.Figure, value: float, label: str) -> None:
    fig.add_hline(
        y=value,
        line={"color": FULL, "dash": "dash", "width": 1.5},
        annotation_text=f"{label} {value:.1f}",
        annotation_position="top right",
    )


def _pair_names(res: dict) -> list[str]:
    return [f"pair {p['index']}" for p in res["pairs"]]


def importance_figure(res: dict, uirevision: str = "explain.imp", height=380):
    """Bars: mean return without pair i and with pair i alone, error bars the
    spread (std) over inits, dots every init; dashed: the whole dataset."""
    fig = go.Figure()
    names = _pair_names(res)
    for k, (key, label) in enumerate(
        (("without", "without pair i"), ("alone", "pair i alone"))
    ):
        per = [np.asarray(p.get(f"{key}_per_init") or [], float) for p in res["pairs"]]
        fig.add_trace(
            go.Bar(
                x=names,
                y=[p[f"{key}_return"] for p in res["pairs"]],
                name=label,
                marker_color=PALETTE[k],
                error_y={
                    "type": "data",
                    "array": [float(a.std()) if a.size else 0.0 for a in per],
                    "visible": True,
                },
                offsetgroup=str(k),
            )
        )
        xs = [n for n, a in zip(names, per, strict=True) for _ in a]
        ys = [float(v) for a in per for v in a]
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="markers",
                name=f"{label}: each init",
                marker={"color": "rgba(0,0,0,0.45)", "size": 5},
                offsetgroup=str(k),
                showlegend=False,
            )
        )
    _reference(fig, res["full_return"], "whole dataset")
    return _layout(
        fig,
        uirevision,
        height,
        barmode="group",
        scattermode="group",
        hovermode="closest",
        title={"text": _title(res, "Pair importance"), "font": {"size": 14}},
        yaxis_title="mean return",
    )


def label_figure(res: dict, uirevision: str = "explain.labels", height=360):
    """Grouped bars: the mean return with each pair's label changed."""
    fig = go.Figure()
    names = _pair_names(res)
    options: list[str] = []
    for p in res["pairs"]:
        options += [k for k in p["label_sensitivity"] if k not in options]
    for k, opt in enumerate(options):
        fig.add_trace(
            go.Bar(
                x=names,
                y=[p["label_sensitivity"].get(opt) for p in res["pairs"]],
                name=opt,
                marker_color=PALETTE[k % len(PALETTE)],
            )
        )
    _reference(fig, res["full_return"], "labels as evolved")
    what = (
        "Label sensitivity: label scaled"
        if res.get("label_kind") == "continuous"
        else "Label sensitivity: label changed to another action"
    )
    return _layout(
        fig,
        uirevision,
        height,
        barmode="group",
        hovermode="closest",
        title={"text": _title(res, what), "font": {"size": 14}},
        yaxis_title="mean return",
        legend_title_text="changed label",
    )


def _stars(pm: dict, xy, names) -> go.Scatter:
    xy = np.asarray(xy, float).reshape(-1, 2)
    acts = pm.get("synthetic_action") or []
    if pm.get("discrete") and len(acts) == len(xy):
        colour = [PALETTE[int(a) % len(PALETTE)] for a in acts]
        hover = [f"pair {i}: label {names[int(a)]}" for i, a in enumerate(acts)]
    else:
        colour = "white"
        hover = [
            f"pair {i}: label {names[0] if names else 'a0'} {a:+.2f}"
            for i, a in enumerate(acts or [0.0] * len(xy))
        ]
    return go.Scatter(
        x=xy[:, 0],
        y=xy[:, 1],
        mode="markers+text",
        text=[str(i) for i in range(len(xy))],
        textposition="top right",
        hovertext=hover,
        hoverinfo="text",
        name="synthetic states",
        marker={
            "symbol": "star",
            "size": 18,
            "color": colour,
            "line": {"color": "black", "width": 1.2},
        },
    )


def policy_map_figure(res: dict, uirevision: str = "explain.map", height=480):
    """Classic control: the policy's action over a grid of two state dimensions
    (others held), visited states faint, synthetic states as stars. MinAtar and
    Brax: visited states in the coverage projection coloured by action."""
    pm, cov = res["policy_map"], res["coverage"]
    names = pm.get("action_names") or []
    fig = go.Figure()
    if pm.get("kind") == "grid":
        z = np.asarray(pm["z"], float)
        if pm["discrete"]:
            k = max(2, len(names))
            scale = []
            for a in range(k):
                c = PALETTE[a % len(PALETTE)]
                scale += [(a / k, c), ((a + 1) / k, c)]
            fig.add_trace(
                go.Heatmap(
                    x=pm["x"],
                    y=pm["y"],
                    z=z,
                    zmin=-0.5,
                    zmax=k - 0.5,
                    colorscale=scale,
                    colorbar={
                        "tickvals": list(range(len(names))),
                        "ticktext": names,
                        "title": "action",
                    },
                    opacity=0.8,
                    hovertemplate="%{x:.3f}, %{y:.3f}: action %{z}<extra></extra>",
                )
            )
        else:
            fig.add_trace(
                go.Heatmap(
                    x=pm["x"],
                    y=pm["y"],
                    z=z,
                    colorscale="RdBu",
                    zmid=0.0,
                    colorbar={"title": pm["z_kind"]},
                )
            )
        vis = np.asarray(pm["visited"], float).reshape(-1, 2)
        fig.add_trace(
            go.Scattergl(
                x=vis[:, 0],
                y=vis[:, 1],
                mode="markers",
                name="visited states",
                marker={"color": "rgba(255,255,255,0.55)", "size": 3},
                hoverinfo="skip",
            )
        )
        fig.add_trace(_stars(pm, pm["synthetic"], names))
        xt = f"{pm['dim_names'][0]} (dim {pm['dims'][0]})"
        yt = f"{pm['dim_names'][1]} (dim {pm['dims'][1]})"
        sub = f"others held at the {pm['hold_source']}"
    else:
        pts = np.asarray(cov["visited_2d"], float).reshape(-1, 2)
        if pm["discrete"]:
            act = np.asarray(pm["action"], int)
            for a, name in enumerate(names):
                sel = act == a
                fig.add_trace(
                    go.Scattergl(
                        x=pts[sel, 0],
                        y=pts[sel, 1],
                        mode="markers",
                        name=name,
                        marker={"color": PALETTE[a % len(PALETTE)], "size": 4},
                    )
                )
        else:
            val = np.asarray(pm["value"], float)[:, 0]
            fig.add_trace(
                go.Scattergl(
                    x=pts[:, 0],
                    y=pts[:, 1],
                    mode="markers",
                    name="visited states",
                    marker={
                        "color": val,
                        "colorscale": "RdBu",
                        "cmid": 0.0,
                        "size": 4,
                        "colorbar": {"title": f"action mean ({names[0]})"},
                    },
                )
            )
        fig.add_trace(_stars(pm, cov["synthetic_2d"], names))
        ev = cov["explained_variance"]
        xt, yt = f"PC 1 ({100 * ev[0]:.0f}% of variance)", f"PC 2 ({100 * ev[1]:.0f}%)"
        sub = "the action of the policy that visited each state"
    return _layout(
        fig,
        uirevision,
        height,
        hovermode="closest",
        title={"text": _title(res, f"Policy map: {sub}"), "font": {"size": 14}},
        xaxis_title=xt,
        yaxis_title=yt,
    )


def coverage_figure(res: dict, uirevision: str = "explain.cov", height=480):
    """Visited and synthetic states in one PCA projection; a dotted line joins
    each synthetic state to its nearest visited state (distance in the hover)."""
    cov = res["coverage"]
    fig = go.Figure()
    vis = np.asarray(cov["visited_2d"], float).reshape(-1, 2)
    fig.add_trace(
        go.Scattergl(
            x=vis[:, 0],
            y=vis[:, 1],
            mode="markers",
            name="visited states",
            marker={"color": "#9ecae1", "size": 4},
            hoverinfo="skip",
        )
    )
    syn = np.asarray(cov["synthetic_2d"], float).reshape(-1, 2)
    near = np.asarray(cov.get("nearest_2d") or [], float).reshape(-1, 2)
    for i in range(min(len(syn), len(near))):
        fig.add_trace(
            go.Scatter(
                x=[syn[i, 0], near[i, 0]],
                y=[syn[i, 1], near[i, 1]],
                mode="lines",
                line={"color": "#d62728", "dash": "dot", "width": 1.2},
                showlegend=False,
                hoverinfo="skip",
            )
        )
    dist = cov["nearest_distance"]
    fig.add_trace(
        go.Scatter(
            x=syn[:, 0],
            y=syn[:, 1],
            mode="markers+text",
            text=[f"{i}: {d:.2f}" for i, d in enumerate(dist)],
            textposition="top right",
            name="synthetic states",
            hovertext=[
                f"pair {i}: nearest visited state at distance {d:.3f}"
                for i, d in enumerate(dist)
            ],
            hoverinfo="text",
            marker={
                "symbol": "star",
                "size": 18,
                "color": "#d62728",
                "line": {"color": "black", "width": 1},
            },
        )
    )
    ev = cov["explained_variance"]
    return _layout(
        fig,
        uirevision,
        height,
        hovermode="closest",
        title={
            "text": _title(res, "Coverage: synthetic and visited states (PCA)"),
            "font": {"size": 14},
        },
        xaxis_title=f"PC 1 ({100 * ev[0]:.0f}% of variance)",
        yaxis_title=f"PC 2 ({100 * ev[1]:.0f}%)",
    )


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
