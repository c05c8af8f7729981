"""Published datasets: our returns per init against the paper's reference numbers."""

from __future__ import annotations

import re

from engine.figures.grid import Subplots


def short_name(file: str) -> str:
    """'brax-hopper-D64-runningnorm-hadesF-seed0.pkl' -> 'D64 running F seed0'."""
    parts = []
    for pat, fmt in (
        (r"-D(\d+)-", "D{}"),
        (r"-(const|running)norm", "{}"),
        (r"hades([RF])", "{}"),
        (r"seed(\d+)", "seed{}"),
    ):
        m = re.search(pat, file)
        if m:
            parts.append(fmt.format(m.group(1)))
    return " ".join(parts) if len(parts) >= 2 else file.removesuffix(".pkl")[:24]


def figure(rows: list[dict], per_init: list[dict]) -> dict:
    """`rows` one per file {file, env, status, reference}; `per_init` {file,
    return}."""
    ev = [r for r in rows if r["status"] == "evaluated"]
    envs = sorted({r["env"] for r in ev})
    fig = Subplots(1, len(envs), subplot_titles=envs)
    for col, env in enumerate(envs, start=1):
        sel = [r for r in ev if r["env"] == env]
        names = [short_name(r["file"]) for r in sel]
        pts = [p for p in per_init if any(p["file"] == r["file"] for r in sel)]
        fig.add(
            {
                "type": "box",
                "x": [short_name(p["file"]) for p in pts],
                "y": [p["return"] for p in pts],
                "boxpoints": "all",
                "name": "ours (per init)",
                "marker": {"color": "#636efa"},
                "showlegend": col == 1,
            },
            1,
            col,
        )
        ref = [
            (n, r["reference"])
            for n, r in zip(names, sel, strict=True)
            if r["reference"] is not None
        ]
        if ref:
            fig.add(
                {
                    "type": "scatter",
                    "x": [n for n, _ in ref],
                    "y": [v for _, v in ref],
                    "mode": "markers",
                    "name": "reference",
                    "marker": {"color": "#ef553b", "size": 12, "symbol": "x"},
                    "showlegend": col == 1,
                },
                1,
                col,
            )
        fig.update_axes(
            "x", 1, col, type="category", categoryorder="array", categoryarray=names
        )
    fig.update_axes("y", 1, 1, title={"text": "return"})
    fig.update_layout(
        title={"text": "Published datasets re-evaluated"},
        width=600 * len(envs),
        height=500,
    )
    return fig.spec
