"""The Launch page's "Log to" option: a background job streams to TensorBoard (read
back with TensorBoard's reader); a tracker whose extra is missing is an error on
the page and nothing is launched."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT
from streamlit.testing.v1 import AppTest
from tracker_files import tensorboard_run, tensorboard_series

pytest.importorskip(
    "tensorboard",
    reason="the tensorboard extra: pip install 'hades-studio[tensorboard]'",
)

TINY = {
    "launch.f.outer.population": 8,
    "launch.f.outer.generations": 4,
    "launch.f.inner.width": 16,
    "launch.f.inner.steps": 10,
    "launch.f.fitness.num_envs": 2,
    "launch.f.fitness.num_steps": 50,
    "launch.f.outer.chunk": 2,
}


@pytest.fixture
def dashboard(tmp_path, monkeypatch):
    monkeypatch.setenv("HADES_RUNS", str(tmp_path / "runs"))
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=120)
    at.run()
    for k, v in TINY.items():
        at.number_input(key=k).set_value(v)
    yield at
    from dashboard import state

    state.manager().shutdown(wait=True, timeout=60)


def test_launch_logs_to_tensorboard(dashboard, tmp_path):
    from dashboard import state

    at = dashboard
    at.multiselect(key="launch.log").select("tensorboard")
    at.button(key="launch.go").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Live"
    (job,) = state.manager().jobs()
    assert state.manager().wait(job["run_id"], timeout=300)["status"] == "finished"
    run_dir = Path(job["run_dir"])
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    want = {r["generation"]: r["fitness_mean"] for r in rows if "fitness_mean" in r}
    last = max(want)
    series, rollouts = {}, []

    def done() -> bool:  # the trackers finish in their own threads
        return sorted(series) == sorted(want) and last in rollouts

    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not done():
        time.sleep(0.5)
        if (run_dir / "tensorboard").is_dir():
            series = tensorboard_series(run_dir / "tensorboard", "fitness_mean")
            acc = tensorboard_run(run_dir / "tensorboard")
            if "rollout" in acc.Tags()["images"]:
                rollouts = [e.step for e in acc.Images("rollout")]
    assert series == pytest.approx(want)
    assert last in rollouts  # the last evaluation point's video, drawn at the end


def test_launch_with_a_missing_extra_is_an_error(dashboard, monkeypatch):
    from dashboard import state

    monkeypatch.setitem(sys.modules, "wandb", None)  # as if not installed
    at = dashboard
    at.multiselect(key="launch.log").select("wandb")
    at.button(key="launch.go").click().run()
    assert not at.exception
    errors = [str(e.value) for e in at.error]
    assert any("pip install 'hades-studio[wandb]'" in e for e in errors), errors
    assert state.manager().jobs() == []
    assert at.title[0].value == "Launch a run"
