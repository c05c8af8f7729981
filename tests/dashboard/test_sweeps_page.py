"""Sweeps in the dashboard: the Runs page filters by sweep and draws each grid
point's seed band; the Launch page starts a sweep in a background process (bad
input is shown and creates nothing)."""

from __future__ import annotations

import math
import time

import pytest
from streamlit.testing.v1 import AppTest

from engine.runs import RunStore
from engine.runs.store import append_lines, read_json, write_json
from engine.sweeps import record
from engine.sweeps.grid import SweepSpec, expand
from engine.sweeps.ray_cluster import RaySettings
from tests.conftest import ROOT

# One local Ray instance at a time: under `pytest -n 2` these share one worker.
pytestmark = pytest.mark.xdist_group("ray")

PAGES = ROOT / "dashboard" / "app_pages"
TINY_SET = (
    "outer.population=8",
    "outer.generations=4",
    "outer.chunk=2",
    "outer.eval_every=2",
    "inner.width=16",
    "inner.steps=10",
    "fitness.num_envs=2",
    "fitness.num_steps=50",
)


def _page(name: str) -> AppTest:
    return AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=120)


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def returned(size: int, seed: int) -> float:
    return 10.0 * size + seed  # the mean-dataset return written for a run


@pytest.fixture(scope="module")
def sweep_root(tmp_path_factory):
    """A store with a 2 sizes x 3 seeds sweep whose runs were written by hand
    (four generations each), plus one run outside the sweep."""
    from tests.conftest import tiny_cartpole

    root = tmp_path_factory.mktemp("sweep-runs")
    store = RunStore(root)
    spec = SweepSpec(
        envs=("CartPole-v1",), sizes=(1, 2), seeds=(0, 1, 2), overrides=TINY_SET
    )
    sweep = record.create(
        store, spec, expand(spec), RaySettings(address="none").to_dict()
    )
    for p in sweep.points:
        rid = p["run_id"]
        rows = [
            {"generation": g, "fitness_mean": g + p["seed"], "best_fitness": 9.0}
            for g in range(1, 5)
        ]
        rows[-1]["mean_dataset_return"] = returned(p["size"], p["seed"])
        append_lines(store.paths(rid).metrics, rows)
        st = read_json(store.paths(rid).status)
        st.update(status="finished", generation=4, total_generations=4)
        write_json(store.paths(rid).status, st)
    store.create(tiny_cartpole(), name="outside")
    store.reindex()
    return {"root": root, "sweep": sweep}


def test_point_stats_are_mean_and_spread_over_seeds(sweep_root):
    from dashboard import sweeps as sw

    store = RunStore(sweep_root["root"])
    curves = sw.point_curves(store, sweep_root["sweep"], "mean_dataset_return")
    stats = {s.group: s for s in sw.point_stats(curves)}
    assert list(stats) == ["CartPole-v1 N=1", "CartPole-v1 N=2"]
    for n in (1, 2):
        s = stats[f"CartPole-v1 N={n}"]
        want = [returned(n, seed) for seed in (0, 1, 2)]
        assert s.values == tuple(want) and s.seeds == (0, 1, 2)
        assert s.mean == pytest.approx(sum(want) / 3)
        assert s.std == pytest.approx(math.sqrt(2 / 3))
        assert (s.low, s.high, s.finished, s.runs) == (want[0], want[2], 3, 3)
    groups = sw.overlay_groups(
        sw.point_curves(store, sweep_root["sweep"], "fitness_mean")
    )
    assert [len(curves) for _, curves in groups] == [3, 3]


def test_runs_page_filters_by_sweep_with_seed_bands(sweep_root, monkeypatch):
    monkeypatch.setenv("HADES_RUNS", str(sweep_root["root"]))
    sid = sweep_root["sweep"].sweep_id
    at = _page("runs")
    at.run()
    _ok(at)
    assert "7 of 7 runs" in "\n".join(c.value for c in at.caption)
    at.selectbox(key="runs.sweep").set_value(sid).run()
    _ok(at)
    assert "6 of 7 runs" in "\n".join(c.value for c in at.caption)
    table = at.dataframe[0].value  # the per-point table, before the run table
    assert list(table["grid point"]) == ["CartPole-v1 N=1", "CartPole-v1 N=2"]
    assert list(table["mean"]) == pytest.approx([11.0, 21.0])
    specs = [c.proto.spec for c in at.get("plotly_chart")]
    assert any("mean over seeds" in s for s in specs)  # last values per point
    assert any("mean of 3" in s for s in specs)  # curves: one band per point
    progress = at.get("progress")[0].proto
    assert sid in progress.text and "6 finished" in progress.text


@pytest.fixture
def launch_env(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    monkeypatch.setenv("HADES_RUNS", str(root))
    monkeypatch.setenv("HADES_CPU_DEVICES", "1")
    yield root
    from dashboard import state

    state.manager().shutdown(wait=True, timeout=60)


def test_launch_page_starts_a_sweep_in_the_background(launch_env):
    at = _page("launch")
    at.run()
    _ok(at)
    seeds = at.text_input(key="sweep.f.seeds")
    assert seeds.help.startswith("Seeds, a list")  # the SweepSpec docstring
    assert at.text_input(key="sweep.f.address").value == "local"  # Ray by default
    # Bad input: one message, nothing created
    seeds.input("3-1")
    at.text_area(key="sweep.f.overrides").input("\n".join(TINY_SET))
    at.button(key="sweep.go").click().run()
    _ok(at)
    assert any("ends below its start" in e.value for e in at.error)
    assert not record.list_sweeps(RunStore(launch_env))
    at.text_input(key="sweep.f.address").input("127.0.0.1:1")
    at.text_input(key="sweep.f.seeds").input("0-1")
    at.button(key="sweep.go").click().run()
    assert any("cannot reach the Ray cluster" in e.value for e in at.error)
    assert not RunStore(launch_env).list()
    # A good grid (here without Ray: this test is about the page, not Ray)
    at.text_input(key="sweep.f.address").input("none")
    at.button(key="sweep.go").click().run()
    _ok(at)
    assert any("2 runs, executing in process" in s.value for s in at.success)
    store = RunStore(launch_env)
    (sweep,) = record.list_sweeps(store)
    assert len(sweep.run_ids) == 2

    def all_finished():
        return all(store.read_status(r)["status"] == "finished" for r in sweep.run_ids)

    deadline = time.monotonic() + 400
    while not all_finished() and time.monotonic() < deadline:
        time.sleep(0.5)
    log = (sweep.path / "driver.log").read_text()
    assert all_finished(), log
    assert "2 finished" in log
