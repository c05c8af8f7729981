"""engine.figures.png draws figure specs with matplotlib (no plotly)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from engine.figures.grid import Subplots
from engine.figures.png import NAMED_COLORSCALES, write_png


def _all_traces() -> dict:
    fig = Subplots(1, 4, subplot_titles=("a", "b", "c", "d"))
    fig.add(
        {
            "type": "scatter",
            "x": [1, 2, 4],
            "y": [1, 3, 2],
            "error_y": {"type": "data", "array": [0.1] * 3},
            "name": "s",
        },
        1,
        1,
    )
    fig.add(
        {
            "type": "bar",
            "x": ["u", "v"],
            "y": [3, 4],
            "marker": {"color": ["red", "blue"]},
        },
        1,
        2,
    )
    fig.add({"type": "box", "x": ["p"] * 3 + ["q"] * 3, "y": [1, 2, 3, 2, 3, 4]}, 1, 3)
    fig.add({"type": "violin", "x": ["p"] * 3, "y": [1, 2, 3]}, 1, 3)
    fig.add({"type": "heatmap", "z": np.eye(4).tolist(), "colorscale": "gray"}, 1, 4)
    fig.update_axes("x", 1, 1, type="log")
    fig.update_layout(
        title={"text": "all"},
        width=900,
        height=300,
        shapes=[{"type": "line", "xref": "x", "yref": "y", "y0": 2, "y1": 2}],
    )
    return fig.spec


def _pixels(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), np.int16)


def test_every_trace_type_draws(tmp_path):
    write_png(_all_traces(), tmp_path / "f.png")
    img = _pixels(tmp_path / "f.png")
    # About the layout's size (bbox "tight" trims the margins).
    assert 700 < img.shape[1] < 1000 and 200 < img.shape[0] < 350
    # Something other than white is drawn, in colour (the red/blue bars).
    assert (img.min(axis=2) < 200).mean() > 0.01
    red = (img[..., 0] > 200) & (img[..., 1] < 60) & (img[..., 2] < 60)
    assert red.sum() > 50
    assert not list(tmp_path.glob("*.tmp"))


def test_drawing_depends_on_the_data(tmp_path):
    spec = _all_traces()
    write_png(spec, tmp_path / "a.png")
    write_png(spec, tmp_path / "b.png")
    assert np.array_equal(_pixels(tmp_path / "a.png"), _pixels(tmp_path / "b.png"))
    spec["data"][1]["y"] = [3, 1]
    write_png(spec, tmp_path / "c.png")
    assert not np.array_equal(_pixels(tmp_path / "a.png"), _pixels(tmp_path / "c.png"))


def test_unknown_trace_type_is_skipped(tmp_path):
    spec = {"data": [{"type": "sunburst", "labels": ["a"]}], "layout": {}}
    write_png(spec, tmp_path / "f.png")
    assert (tmp_path / "f.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_failed_write_leaves_nothing(tmp_path):
    spec = {"data": [{"type": "scatter", "x": [1, 2], "y": [1]}], "layout": {}}
    with pytest.raises(ValueError):
        write_png(spec, tmp_path / "f.png")
    assert list(tmp_path.iterdir()) == []


def test_named_colorscale_is_plotlys():
    colors = pytest.importorskip("plotly.colors")
    for name, stops in NAMED_COLORSCALES.items():
        theirs = colors.get_colorscale(name)
        assert [p for p, _ in stops] == pytest.approx([p for p, _ in theirs])
        assert [c.replace(" ", "") for _, c in stops] == [
            c.replace(" ", "") for _, c in theirs
        ]
