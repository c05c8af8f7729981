"""Every study figure builder: a spec plotly accepts, saved as JSON and PNG."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.config import HadesConfig
from engine.figures import (
    baseline,
    multitask,
    published,
    save_figure,
    size_sweep,
    supervised,
    transfer,
)

rng = np.random.default_rng(0)


def _size_sweep():
    finals = {n: rng.normal(100 * n, 10, 8) for n in (1, 4, 16)}
    curves = [
        {"size": n, "generation": g, "mean_return": float(n * g)}
        for n in finals
        for g in (0, 5)
    ]
    return size_sweep.figure(finals, curves, "CartPole-v1")


def _baseline():
    dims = (("hades_r", 16), ("hades_f", 16), ("neuroevolution", 4610))
    results = {m: {"search_dims": d} for m, d in dims}
    curves = [
        {"method": m, "generation": g, k: float(g)}
        for m in results
        for g in (1, 2)
        for k in ("mean_return", "fitness_mean")
    ]
    labels = {m: m.upper() for m in results}
    return baseline.figure(curves, results, "CartPole-v1", HadesConfig(), labels)


def _transfer():
    rows = [
        {"axis": a, "value": v, "return": float(rng.normal()), "in_distribution": h}
        for a, v, h in (("width", 32, False), ("width", 64, True), ("lr", 1e-3, True))
        for _ in range(3)
    ]
    home = {"width": 64, "steps": 100, "lr": 1e-3}
    return transfer.figure(rows, home, "CartPole-v1", 4, 3)


def _multitask():
    t = {"multitask": 1.0, "single_task": 2.0, "random": 0.5}
    t.update({f"{k}_std": 0.1 for k in list(t)})
    return multitask.figure({"CartPole-v1": t, "Acrobot-v1": dict(t)})


def _images():
    return supervised.image_figure(
        rng.uniform(size=(3, 4, 4, 1)), rng.uniform(size=(3, 4, 4, 1)), "digits"
    )


def _curve():
    curve = [{"generation": g, "fitness_mean": -1.0 / g} for g in (1, 2, 3)]
    evals = [{"generation": g, "mean_train_accuracy": 0.1 * g} for g in (0, 3)]
    return supervised.curve_figure(curve, evals, "digits")


def _published():
    f = "brax-hopper-D4-constnorm-hadesR-seed0.pkl"
    rows = [{"file": f, "env": "hopper", "status": "evaluated", "reference": 1.0}]
    return published.figure(
        rows, [{"file": f, "return": 2.0}, {"file": f, "return": 3.0}]
    )


BUILDERS = {
    "size_sweep": _size_sweep,
    "baseline": _baseline,
    "transfer": _transfer,
    "multitask": _multitask,
    "images": _images,
    "curve": _curve,
    "published": _published,
}


@pytest.mark.parametrize("name", BUILDERS)
def test_builder_spec_is_valid_plotly_and_saves(name, tmp_path):
    go = pytest.importorskip("plotly.graph_objects")
    from dashboard.figures import load_figure

    spec = BUILDERS[name]()
    assert set(spec) == {"data", "layout"} and spec["data"]
    fig = go.Figure(spec)  # plotly validates every property (raises on a typo)
    assert fig.layout.title.text
    out = save_figure(spec, tmp_path, name)
    assert out["png"] is not None, out.get("png_error")
    assert (tmp_path / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = json.loads((tmp_path / f"{name}.json").read_text())
    assert len(saved["data"]) == len(spec["data"])
    assert len(load_figure(out["json"]).data) == len(spec["data"])


def test_published_short_names():
    assert (
        published.short_name("brax-hopper-D64-runningnorm-hadesF-seed0.pkl")
        == "D64 running F seed0"
    )
    assert published.short_name("odd.pkl") == "odd"


def test_save_figure_reports_a_png_it_cannot_draw(tmp_path):
    spec = {"data": [{"type": "scatter", "x": [1, 2], "y": [1]}], "layout": {}}
    out = save_figure(spec, tmp_path, "bad")
    assert out["png"] is None and "ValueError" in out["png_error"]
    assert json.loads((tmp_path / "bad.json").read_text()) == spec
