"""The Explain tab of the Dataset page and the talk clip buttons under AppTest: a
real tiny run (computed in the background thread, then cached in the run folder),
an imported file (cached beside it), a demo asset (its bundled result, nothing
computed) and bad inputs (one clear message, no exception)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, tiny_cartpole
from streamlit.testing.v1 import AppTest

PAGES = ROOT / "dashboard" / "app_pages"
TIMEOUT = 180


def _page(name: str) -> AppTest:
    return AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=TIMEOUT)


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _text(at: AppTest) -> str:
    parts = []
    for kind in ("markdown", "caption", "info", "error", "warning", "success"):
        parts += [str(e.value) for e in getattr(at, kind)]
    return "\n".join(parts)


def _charts(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def _titles(at: AppTest) -> list[str]:
    return [
        (c["layout"].get("title") or {}).get("text", "").lower() for c in _charts(at)
    ]


def _open_explain(at: AppTest, source: str) -> AppTest:
    at.session_state["hades.source"] = source
    at.session_state["dataset.tab"] = "Explain"
    at.run()
    _ok(at)
    return at


def _compute(at: AppTest, timeout: float = 300) -> None:
    """Click "Explain this dataset" and rerun until the background result shows."""
    at.button(key="dataset.explain.go").click().run()
    _ok(at)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any("pair importance" in t for t in _titles(at)):
            return
        assert "Explain failed" not in _text(at), _text(at)
        time.sleep(1.0)
        at.run()
        _ok(at)
    pytest.fail(f"no explain result within {timeout} s: {_text(at)}")


def _assert_result(at: AppTest) -> None:
    titles = _titles(at)
    for what in ("pair importance", "label sensitivity", "policy", "coverage"):
        assert any(what in t for t in titles), (what, titles)
    assert "Removing **pair" in _text(at)
    assert at.get("image"), "pictures of synthetic and nearest visited states"


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """A runs root with a finished tiny CartPole run (checkpoints kept)."""
    from engine.runs import Runner

    root = tmp_path_factory.mktemp("explain-runs")
    run = Runner.create(tiny_cartpole(), root=root, name="explain", keep_last=10)
    assert run.run()["status"] == "finished"
    return {"root": root, "run": run.run_id}


@pytest.fixture
def env(root, monkeypatch):
    monkeypatch.setenv("HADES_RUNS", str(root["root"]))
    return root


def test_explain_tab_run_computes_in_background_and_caches(env):
    from dashboard import explain_view

    at = _open_explain(_page("dataset"), f"run:{env['run']}")
    tabs = [t.label for t in at.tabs]
    assert tabs[-1] == "Explain", tabs
    _compute(at)
    _assert_result(at)
    cached = list((env["root"] / env["run"] / "media" / "explain").glob("g*.json"))
    assert len(cached) == 1, cached
    data = json.loads(cached[0].read_text())
    assert data["env"] == "CartPole-v1" and len(data["pairs"]) == 4
    assert not explain_view.manager().running()
    # A fresh session reads the cache: the result shows without any button
    at2 = _open_explain(_page("dataset"), f"run:{env['run']}")
    assert any("pair importance" in t for t in _titles(at2))
    assert not [b for b in at2.button if b.key == "dataset.explain.go"]


def test_explain_tab_imported_file_cached_beside_it(env):
    from engine import dataset as ds_lib

    ds = ds_lib.load(env["root"] / env["run"] / "dataset.npz")
    imports = env["root"] / ".imports"
    imports.mkdir(exist_ok=True)
    path = imports / "tiny-import.npz"
    ds_lib.save(ds.with_meta(file="tiny-import.npz"), path)
    at = _open_explain(_page("dataset"), f"import:{path}")
    _compute(at)
    _assert_result(at)
    assert list((imports / "tiny-import.explain").glob("g*.json"))
    # An imported file has no checkpoints: no talk clip, said plainly
    assert "Talk clips are made from runs" in _text(at)


def test_explain_tab_demo_asset_bundled(env):
    from dashboard.sources import demo_dir

    at = _open_explain(_page("dataset"), f"demo:{demo_dir() / 'cartpole'}")
    # Bundled explain.json: drawn at once, nothing to compute
    _assert_result(at)
    assert not [b for b in at.button if b.key == "dataset.explain.go"]
    dl = [b for b in at.get("download_button") if "talk clip" in str(b.proto.label)]
    assert dl, "the demo's bundled talk clip is offered for download"


def test_explain_tab_bad_inputs(env):
    from engine import dataset as ds_lib

    one = ds_lib.Dataset(
        "CartPole-v1",
        np.zeros((1, 4), np.float32),
        np.zeros(1, np.int32),
        "onehot",
        meta={"config": tiny_cartpole().to_dict()},
    )
    imports = env["root"] / ".imports"
    imports.mkdir(exist_ok=True)
    path = imports / "one-pair.npz"
    ds_lib.save(one, path)
    at = _open_explain(_page("dataset"), f"import:{path}")
    errors = [str(e.value) for e in at.error]
    assert any("nothing to remove" in e for e in errors), errors
    assert all("\n" not in e for e in errors)
    # State dimensions out of range for the policy map
    at = _open_explain(_page("dataset"), f"run:{env['run']}")
    dims = [t for t in at.text_input if t.label == "dims"][0]
    dims.input("0,9")
    at.button[[b.label for b in at.button].index("Apply settings")].click().run()
    _ok(at)
    errors = [str(e.value) for e in at.error]
    assert any("out of range" in e and "0..3" in e for e in errors), errors


def test_talk_clip_button_run_and_demo_page(env):
    from dashboard import explain_tasks, explain_view, sources

    at = _page("dataset")
    at.session_state["hades.source"] = f"run:{env['run']}"
    at.run()
    _ok(at)
    at.button(key="dataset.talk.go").click().run()
    _ok(at)
    from dashboard import state

    src = sources.Source("run", env["run"])
    path = explain_tasks.talk_path(src, state.store())
    info = explain_view.manager().wait(str(path), timeout=300)
    assert info is not None and info["done"] and not info["error"], info
    at.run()
    _ok(at)
    dl = [b for b in at.get("download_button") if "talk clip" in str(b.proto.label)]
    assert dl and Path(path).is_file()
    # Demo page: the bundled clip plays and downloads
    demo = _page("demo")
    demo.session_state["demo.item"] = "hopper"
    demo.session_state["demo.tab"] = "Talk clip"
    demo.run()
    _ok(demo)
    assert demo.get("video")
    dl = [b for b in demo.get("download_button") if "talk clip" in str(b.proto.label)]
    assert dl
