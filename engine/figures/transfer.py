"""Transfer: returns of fresh policies per setting, one box per value, an axis
(policy width, inner steps, inner learning rate) per subplot."""

from __future__ import annotations

from engine.figures.grid import Subplots

TITLES = {"width": "policy width", "steps": "inner steps", "lr": "inner learning rate"}


def value_label(axis: str, v) -> str:
    """How a setting's value is written (figure categories, result keys)."""
    return f"{v:.3g}" if axis == "lr" else str(int(v))


def figure(rows: list[dict], home: dict, env: str, size: int, inits: int) -> dict:
    """`rows` {axis, value, return, in_distribution}; `home` the dataset's own
    {width, steps, lr}."""
    fig = Subplots(1, 3, subplot_titles=list(TITLES.values()), shared_yaxes=True)
    for col, axis in enumerate(TITLES, start=1):
        for home_flag, color, name in (
            (False, "#636efa", "transfer setting"),
            (True, "#ef553b", "in-distribution"),
        ):
            sel = [
                r
                for r in rows
                if r["axis"] == axis and r["in_distribution"] == home_flag
            ]
            if not sel:
                continue
            fig.add(
                {
                    "type": "box",
                    "x": [value_label(axis, r["value"]) for r in sel],
                    "y": [r["return"] for r in sel],
                    "name": name,
                    "marker": {"color": color},
                    "boxpoints": "all",
                    "jitter": 0.3,
                    "legendgroup": name,
                    "showlegend": col == 1,
                },
                1,
                col,
            )
        order = [
            value_label(axis, v)
            for v in sorted({r["value"] for r in rows if r["axis"] == axis})
        ]
        fig.update_axes(
            "x",
            1,
            col,
            type="category",
            categoryorder="array",
            categoryarray=order,
            title={"text": TITLES[axis]},
        )
    fig.update_axes("y", 1, 1, title={"text": "return"})
    fig.update_layout(
        title={
            "text": (
                f"{env} N={size}: transfer to other policies ({inits} random inits "
                f"per setting; in-distribution: width {home['width']}, "
                f"{home['steps']} steps, lr {home['lr']:.3g})"
            )
        },
        width=1200,
        height=450,
    )
    return fig.spec
