"""Explain figures (`engine.figures.explain`) from the real bundled results of the
demo runs (discrete grid map, MinAtar and Brax projections): specs plotly accepts,
saved as JSON and PNG by the matplotlib renderer."""

from __future__ import annotations

import json

import pytest
from conftest import ROOT

from engine.figures import explain, save_figure

DEMO = ROOT / "dashboard" / "assets" / "demo"


def _result(item: str) -> dict:
    path = DEMO / item / "explain.json"
    if not path.is_file():
        pytest.skip(f"{path} missing (scripts/make_demo_assets.py --extras-only)")
    return json.loads(path.read_text())


@pytest.mark.parametrize("item", ["cartpole", "breakout", "hopper"])
def test_explain_specs_are_plotly_and_save_png(item, tmp_path):
    go = pytest.importorskip("plotly.graph_objects")
    res = _result(item)
    figs = explain.figures(res)
    assert list(figs) == list(explain.FIGURES)
    for name, spec in figs.items():
        go.Figure(spec)  # plotly validates every property
        out = save_figure(spec, tmp_path, name)
        assert out["png"] is not None, out.get("png_error")
        assert (tmp_path / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
        assert json.loads((tmp_path / f"{name}.json").read_text()) == json.loads(
            json.dumps(spec)
        )
    kinds = [t["type"] for t in figs["policy_map"]["data"]]
    if item == "cartpole":
        assert kinds[0] == "heatmap"  # a grid over two state dimensions
    else:
        assert "heatmap" not in kinds  # visited states in the PCA projection
    bars = figs["importance"]["data"]
    assert [b["name"] for b in bars] == ["without pair i", "pair i alone"]
    assert len(bars[0]["y"]) == res["size"]
