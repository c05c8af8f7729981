"""Multitask: one zero-shot policy against single-task and random policies."""

from __future__ import annotations

from engine.figures.grid import Subplots

COLORS = {"multitask": "#636efa", "single_task": "#00cc96", "random": "#7f7f7f"}
NAMES = {
    "multitask": "one multitask policy",
    "single_task": "single-task policy",
    "random": "random policy",
}


def figure(tasks: dict) -> dict:
    """`tasks` {env: {multitask, single_task, random and their `_std`}}."""
    envs = list(tasks)
    fig = Subplots(1, len(envs), subplot_titles=envs)
    keys = tuple(NAMES)
    for col, env in enumerate(envs, start=1):
        t = tasks[env]
        fig.add(
            {
                "type": "bar",
                "x": [NAMES[k] for k in keys],
                "y": [t[k] for k in keys],
                "error_y": {"type": "data", "array": [t[f"{k}_std"] for k in keys]},
                "marker": {"color": [COLORS[k] for k in keys]},
                "showlegend": False,
            },
            1,
            col,
        )
    fig.update_axes("y", 1, 1, title={"text": "return"})
    fig.update_layout(
        title={"text": "Zero-shot multi-task policy from single-task datasets"},
        width=450 * len(envs),
        height=420,
    )
    return fig.spec
