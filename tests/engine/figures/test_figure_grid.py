"""engine.figures.grid.Subplots lays subplots out exactly as plotly's make_subplots."""

from __future__ import annotations

import json

import pytest

from engine.figures.grid import Subplots

go = pytest.importorskip("plotly.graph_objects")
make_subplots = pytest.importorskip("plotly.subplots").make_subplots

GRIDS = [
    {"rows": 1, "cols": 1},
    {"rows": 1, "cols": 2, "subplot_titles": ("a", "b")},
    {"rows": 1, "cols": 3, "column_widths": [0.4, 0.4, 0.2], "subplot_titles": "xyz"},
    {"rows": 1, "cols": 3, "subplot_titles": ["p", "q", "r"], "shared_yaxes": True},
    {
        "rows": 2,
        "cols": 5,
        "horizontal_spacing": 0.01,
        "vertical_spacing": 0.08,
        "subplot_titles": ["0", "1", "2", "3", "4", "", "", "", "", ""],
    },
    {"rows": 3, "cols": 2, "shared_yaxes": True},
]


def _layout(fig) -> dict:
    lay = json.loads(fig.to_json())["layout"]
    lay.pop("template", None)
    return lay


@pytest.mark.parametrize("kw", GRIDS, ids=lambda kw: f"{kw['rows']}x{kw['cols']}")
def test_layout_equals_make_subplots(kw):
    ours = Subplots(**kw)
    theirs = make_subplots(**kw)
    for r in range(1, kw["rows"] + 1):
        for c in range(1, kw["cols"] + 1):
            trace = {"type": "scatter", "x": [r], "y": [c], "name": f"{r},{c}"}
            ours.add(trace, r, c)
            theirs.add_trace(go.Scatter(x=[r], y=[c], name=f"{r},{c}"), r, c)
    ours.update_axes("x", 1, 1, title={"text": "first"}, type="log")
    theirs.update_xaxes(title_text="first", type="log", row=1, col=1)
    ours.update_axes("y", visible=False)
    theirs.update_yaxes(visible=False)
    assert _layout(go.Figure(ours.spec)) == _layout(theirs)
    assert [(t["xaxis"], t["yaxis"]) for t in ours.spec["data"]] == [
        (t.xaxis, t.yaxis) for t in theirs.data
    ]


def test_bad_cell_and_half_address_raise():
    fig = Subplots(1, 2)
    with pytest.raises(ValueError, match="outside the 1x2 grid"):
        fig.add({"type": "scatter"}, 1, 3)
    with pytest.raises(ValueError, match="both row and col"):
        fig.update_axes("x", row=1)


def test_update_merges_nested_properties():
    fig = Subplots(1, 1)
    fig.update_axes("x", 1, 1, title={"text": "t"})
    fig.update_axes("x", 1, 1, title={"font": {"size": 9}})
    assert fig.spec["layout"]["xaxis"]["title"] == {"text": "t", "font": {"size": 9}}
