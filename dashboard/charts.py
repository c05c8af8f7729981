"""Plotly figure builders: pure functions of metrics rows and datasets.

Every figure is downsampled (`metrics.MAX_POINTS` per curve) and carries a
`uirevision`, so zoom and legend clicks survive the Live page's periodic redraws.
Nothing here calls Streamlit or JAX.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard import metrics as m

COLOURS = {
    "mean": "#2f6fdb",
    "max": "#7aa6f0",
    "best": "#1b1f29",
    "dataset": "#e8590c",
    "control": "#c2255c",
    "life": "#868e96",
    "sigma": "#2b8a3e",
    "lr": "#c2255c",
    "loss": "#5f3dc4",
    "spg": "#495057",
    "compiled": "#f08c00",
}
PALETTE = (
    "#2f6fdb", "#e8590c", "#2b8a3e", "#c2255c", "#5f3dc4", "#0b7285", "#f08c00",
    "#495057",
)  # fmt: skip
MAX_ANNOTATIONS = 12


def _layout(fig: go.Figure, uirevision: str, height: int, **kw) -> go.Figure:
    layout = {
        "uirevision": uirevision,
        "height": height,
        "margin": {"l": 50, "r": 16, "t": 36, "b": 40},
        "legend": {"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
        "hovermode": "x unified",
        "template": "plotly_white",
    }
    layout.update(kw)
    fig.update_layout(**layout)
    return fig


def _line(xs, ys, name, colour, dash=None, width=2.0, mode="lines", **kw):
    return go.Scatter(
        x=xs,
        y=ys,
        name=name,
        mode=mode,
        line={"color": colour, "dash": dash, "width": width},
        **kw,
    )


def fitness_figure(
    rows: Sequence[dict],
    events: Sequence[dict] = (),
    uirevision: str = "fitness",
    height: int = 380,
    max_points: int = m.MAX_POINTS,
) -> go.Figure:
    """Population mean and max, best so far and mean-dataset return per generation,
    with live lr/sigma changes and pauses marked as vertical lines."""
    gens = m.downsample([r for r in rows if "event" not in r], max_points)
    fig = go.Figure()
    fig.add_trace(
        _line(*m.series(gens, "fitness_mean"), "population mean", COLOURS["mean"])
    )
    fig.add_trace(
        _line(
            *m.series(gens, "fitness_max"),
            "population max",
            COLOURS["max"],
            dash="dot",
            width=1.5,
        )
    )
    fig.add_trace(
        _line(
            *m.series(gens, "best_fitness"),
            "best so far",
            COLOURS["best"],
            dash="dash",
            width=1.5,
        )
    )
    evald = [r for r in rows if r.get("mean_dataset_return") is not None]
    fig.add_trace(
        _line(
            *m.series(m.downsample(evald, max_points), "mean_dataset_return"),
            "mean dataset",
            COLOURS["dataset"],
            mode="lines+markers",
            marker={"size": 6},
        )
    )
    _mark_events(fig, events)
    fig.update_xaxes(title_text="generation", rangemode="tozero")
    fig.update_yaxes(title_text="return")
    return _layout(fig, uirevision, height)


def _mark_events(fig: go.Figure, events: Sequence[dict], row=None, col=None) -> None:
    changes = m.control_changes(events)
    for c in changes[-MAX_ANNOTATIONS:]:
        fig.add_vline(
            x=c["generation"],
            line={"color": COLOURS["control"], "dash": "dash", "width": 1.2},
            annotation_text=c["text"],
            annotation_position="top left",
            annotation_font={"size": 10, "color": COLOURS["control"]},
            annotation_textangle=-90,
            row=row,
            col=col,
        )
    for e in m.lifecycle_marks(events)[-MAX_ANNOTATIONS:]:
        fig.add_vline(
            x=e["generation"],
            line={"color": COLOURS["life"], "dash": "dot", "width": 1},
            annotation_text=e["text"],
            annotation_position="bottom right",
            annotation_font={"size": 9, "color": COLOURS["life"]},
            row=row,
            col=col,
        )


def diagnostics_figure(
    rows: Sequence[dict],
    events: Sequence[dict] = (),
    uirevision: str = "diagnostics",
    height: int = 250,
    max_points: int = m.MAX_POINTS,
) -> go.Figure:
    """Three small panels: sigma and ES learning rate, inner-loop (BC) loss, and
    seconds per generation (chunks that compiled in orange)."""
    gens = m.downsample([r for r in rows if "event" not in r], max_points)
    fig = make_subplots(
        rows=1,
        cols=3,
        subplot_titles=("sigma and ES lr", "inner-loop loss", "seconds / generation"),
        horizontal_spacing=0.08,
    )
    fig.add_trace(_line(*m.series(gens, "sigma"), "sigma", COLOURS["sigma"]), 1, 1)
    fig.add_trace(
        _line(*m.series(gens, "lr"), "ES lr", COLOURS["lr"], dash="dash"), 1, 1
    )
    fig.add_trace(_line(*m.series(gens, "bc_loss"), "BC loss", COLOURS["loss"]), 1, 2)
    steady = [r for r in gens if not r.get("compiled")]
    comp = [r for r in gens if r.get("compiled")]
    fig.add_trace(
        _line(
            *m.series(steady, "seconds_per_generation"),
            "s/gen",
            COLOURS["spg"],
            mode="markers",
            marker={"size": 4},
        ),
        1,
        3,
    )
    if comp:
        fig.add_trace(
            _line(
                *m.series(comp, "seconds_per_generation"),
                "s/gen (compiling)",
                COLOURS["compiled"],
                mode="markers",
                marker={"size": 6},
            ),
            1,
            3,
        )
    for c in m.control_changes(events)[-MAX_ANNOTATIONS:]:
        fig.add_vline(
            x=c["generation"],
            line={"color": COLOURS["control"], "dash": "dash", "width": 1},
            row=1,
            col=1,
        )
    fig.update_yaxes(type="log", exponentformat="e", row=1, col=1)
    fig.update_yaxes(type="log", exponentformat="e", row=1, col=2)
    fig.update_yaxes(rangemode="tozero", row=1, col=3)
    fig.update_xaxes(title_text="generation")
    fig.update_annotations(font_size=12)
    return _layout(fig, uirevision, height, showlegend=False, hovermode="closest")


def overlay_figure(
    groups: Sequence[tuple[str, Sequence[tuple[list[int], list[float]]]]],
    metric_label: str = "return",
    uirevision: str = "overlay",
    height: int = 400,
    max_points: int = m.MAX_POINTS,
) -> go.Figure:
    """Curves of several runs: one line per group, the mean over its runs (seeds)
    with a band from the lowest to the highest run when it has more than one."""
    fig = go.Figure()
    for i, (label, curves) in enumerate(groups):
        colour = PALETTE[i % len(PALETTE)]
        gens, mean, low, high, count = m.aggregate(curves)
        pts = m.downsample(
            [
                {"g": g, "m": a, "lo": b, "hi": c, "n": n}
                for g, a, b, c, n in zip(gens, mean, low, high, count, strict=True)
            ],
            max_points,
        )
        xs = [p["g"] for p in pts]
        n_runs = len(curves)
        if n_runs > 1:
            fig.add_trace(
                go.Scatter(
                    x=xs,
                    y=[p["hi"] for p in pts],
                    mode="lines",
                    line={"width": 0, "color": colour},
                    showlegend=False,
                    hoverinfo="skip",
                    legendgroup=label,
                )
            )
            fig.add_trace(
                go.Scatter(
                    x=xs,
                    y=[p["lo"] for p in pts],
                    mode="lines",
                    line={"width": 0, "color": colour},
                    fill="tonexty",
                    fillcolor=_alpha(colour, 0.18),
                    showlegend=False,
                    hoverinfo="skip",
                    legendgroup=label,
                )
            )
        name = f"{label} (mean of {n_runs})" if n_runs > 1 else label
        fig.add_trace(_line(xs, [p["m"] for p in pts], name, colour, legendgroup=label))
    fig.update_xaxes(title_text="generation", rangemode="tozero")
    fig.update_yaxes(title_text=metric_label)
    fig = _layout(fig, uirevision, height)
    fig.update_layout(
        legend={
            "orientation": "v",
            "y": 1,
            "yanchor": "top",
            "x": 1.01,
            "xanchor": "left",
        }
    )
    return fig


def _alpha(hex_colour: str, a: float) -> str:
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{a})"


# Datasets ----------
def states_heatmap(
    values: np.ndarray,
    feature_names: Sequence[str],
    label_values: np.ndarray,
    label_names: Sequence[str],
    title: str = "",
    uirevision: str = "states",
    height: int | None = None,
) -> go.Figure:
    """Heatmap of the N states (rows) by feature, and of their labels beside it.

    Args:
        values: (N, F) state features (flattened observations).
        feature_names: F column names.
        label_values: (N, A) label matrix (actions, one-hot or probabilities).
        label_names: A action names.
    """
    values = np.asarray(values, np.float64)
    label_values = np.asarray(label_values, np.float64)
    n, f = values.shape
    rows = [f"#{i}" for i in range(n)]
    fig = make_subplots(
        rows=1,
        cols=2,
        shared_yaxes=True,
        column_widths=[0.82, 0.18] if f > 8 else [0.65, 0.35],
        horizontal_spacing=0.09,
        subplot_titles=("states", "labels"),
    )
    gap = fig.layout.xaxis.domain[1] + 0.008  # the states colour bar sits in the gap
    lim = float(np.max(np.abs(values))) if values.size else 1.0
    fig.add_trace(
        go.Heatmap(
            z=values,
            x=list(feature_names),
            y=rows,
            colorscale="RdBu",
            zmid=0,
            zmin=-lim or -1,
            zmax=lim or 1,
            colorbar={"x": gap, "xanchor": "left", "len": 0.9, "thickness": 10},
            hovertemplate="%{y} %{x}: %{z:.3f}<extra></extra>",
        ),
        1,
        1,
    )
    fig.add_trace(
        go.Heatmap(
            z=label_values,
            x=list(label_names),
            y=rows,
            colorscale="Viridis",
            colorbar={"x": 1.01, "xanchor": "left", "len": 0.9, "thickness": 10},
            hovertemplate="%{y} %{x}: %{z:.3f}<extra></extra>",
            text=np.round(label_values, 2) if label_values.size <= 200 else None,
            texttemplate="%{text}" if label_values.size <= 200 else None,
        ),
        1,
        2,
    )
    fig.update_yaxes(autorange="reversed")
    if f > 40:
        fig.update_xaxes(showticklabels=False, row=1, col=1)
    h = height or int(min(700, max(220, 90 + 28 * n)))
    return _layout(
        fig,
        uirevision,
        h,
        title={"text": title, "font": {"size": 14}},
        hovermode="closest",
    )


def label_bars(
    label_values: np.ndarray,
    label_names: Sequence[str],
    kind: str,
    uirevision: str = "labels",
    bounds: tuple[float, float] | None = None,
) -> go.Figure:
    """Labels per pair: grouped action bars (continuous) or stacked class
    probabilities (one-hot, soft)."""
    label_values = np.asarray(label_values, np.float64)
    n = label_values.shape[0]
    xs = [f"#{i}" for i in range(n)]
    fig = go.Figure()
    for a, name in enumerate(label_names):
        fig.add_trace(
            go.Bar(
                x=xs,
                y=label_values[:, a],
                name=name,
                marker_color=PALETTE[a % len(PALETTE)],
            )
        )
    if kind == "continuous":
        fig.update_layout(barmode="group")
        fig.update_yaxes(title_text="action label")
        if bounds is not None:
            for b in bounds:
                fig.add_hline(
                    y=b, line={"dash": "dash", "color": "#868e96", "width": 1}
                )
    else:
        fig.update_layout(barmode="stack", legend_traceorder="normal")
        fig.update_yaxes(title_text="class probability", range=[0, 1])
    fig.update_xaxes(title_text="pair")
    return _layout(fig, uirevision, 300, hovermode="closest")


def history_animation(
    snapshots: Sequence[tuple[int, np.ndarray]],
    feature_names: Sequence[str],
    uirevision: str = "history",
    height: int | None = None,
) -> go.Figure:
    """Animated heatmap of the states over generations (plays in the browser)."""
    if not snapshots:
        return go.Figure()
    lim = max(float(np.max(np.abs(v))) for _, v in snapshots) or 1.0
    n = snapshots[0][1].shape[0]
    rows = [f"#{i}" for i in range(n)]

    def heat(v):
        return go.Heatmap(
            z=np.asarray(v, np.float64),
            x=list(feature_names),
            y=rows,
            colorscale="RdBu",
            zmid=0,
            zmin=-lim,
            zmax=lim,
            hovertemplate="%{y} %{x}: %{z:.3f}<extra></extra>",
        )

    frames = [go.Frame(data=[heat(v)], name=str(g)) for g, v in snapshots]
    fig = go.Figure(data=[heat(snapshots[-1][1])], frames=frames)
    steps = [
        {
            "method": "animate",
            "label": str(g),
            "args": [
                [str(g)],
                {
                    "mode": "immediate",
                    "frame": {"duration": 0, "redraw": True},
                    "transition": {"duration": 0},
                },
            ],
        }
        for g, _ in snapshots
    ]
    fig.update_layout(
        sliders=[
            {
                "active": len(snapshots) - 1,
                "steps": steps,
                "currentvalue": {"prefix": "generation "},
                "pad": {"t": 30},
            }
        ],
        updatemenus=[
            {
                "type": "buttons",
                "direction": "left",
                "x": 0,
                "y": -0.12,
                "xanchor": "left",
                "yanchor": "top",
                "pad": {"t": 40},
                "buttons": [
                    {
                        "label": "\u25b6 play",
                        "method": "animate",
                        "args": [
                            None,
                            {
                                "frame": {"duration": 500, "redraw": True},
                                "fromcurrent": True,
                                "transition": {"duration": 0},
                            },
                        ],
                    },
                    {
                        "label": "\u275a\u275a pause",
                        "method": "animate",
                        "args": [
                            [None],
                            {
                                "mode": "immediate",
                                "frame": {"duration": 0, "redraw": False},
                            },
                        ],
                    },
                ],
            }
        ],
    )
    fig.update_yaxes(autorange="reversed")
    if len(feature_names) > 40:
        fig.update_xaxes(showticklabels=False)
    h = height or int(min(700, max(300, 180 + 28 * n)))
    return _layout(
        fig,
        uirevision,
        h,
        hovermode="closest",
        margin={"l": 50, "r": 16, "t": 30, "b": 120},
    )


def returns_figure(
    returns: Sequence[float], title: str = "", uirevision: str = "returns"
) -> go.Figure:
    """Distribution of the returns of freshly trained policies (box and points)."""
    ys = [float(r) for r in returns]
    fig = go.Figure()
    fig.add_trace(
        go.Box(
            x=ys,
            name="returns",
            boxpoints="all",
            jitter=0.4,
            pointpos=0,
            marker={"color": COLOURS["mean"], "size": 9},
            line={"color": COLOURS["best"]},
            fillcolor=_alpha(COLOURS["mean"], 0.12),
            hovertemplate="return %{x:.1f}<extra></extra>",
        )
    )
    fig.update_xaxes(title_text="episode return")
    fig.update_yaxes(showticklabels=False)
    return _layout(
        fig,
        uirevision,
        220,
        title={"text": title, "font": {"size": 14}},
        showlegend=False,
        hovermode="closest",
    )


def sweep_points_figure(
    stats: Sequence, metric_label: str = "return", uirevision: str = "sweep-points"
) -> go.Figure:
    """One column per grid point of a sweep: its seeds' last values as dots, their
    mean as a bar with the standard deviation (`dashboard.sweeps.PointStats`)."""
    fig = go.Figure()
    shown = [s for s in stats if s.values]
    fig.add_trace(
        go.Bar(
            x=[s.group for s in shown],
            y=[s.mean for s in shown],
            error_y={"type": "data", "array": [s.std for s in shown], "width": 6},
            name="mean over seeds (+- std)",
            marker={"color": _alpha(COLOURS["mean"], 0.35)},
            hovertemplate="%{x}<br>mean %{y:.2f}<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[s.group for s in shown for _ in s.values],
            y=[v for s in shown for v in s.values],
            text=[f"seed {seed}" for s in shown for seed in s.seeds],
            mode="markers",
            name="one seed",
            marker={"color": COLOURS["best"], "size": 7, "symbol": "circle-open"},
            hovertemplate="%{x} %{text}<br>%{y:.2f}<extra></extra>",
        )
    )
    fig.update_yaxes(title_text=metric_label)
    fig.update_xaxes(type="category")
    return _layout(fig, uirevision, 340, hovermode="closest")
