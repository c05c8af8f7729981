"""The Runs and Live pages (dashboard/app_pages) on a damaged store: a full disk
(the run index cannot be written), a run whose config.json is unreadable, a
damaged metrics line. They keep working, read-only, and say what is wrong."""

from __future__ import annotations

import contextlib

import pytest
from streamlit.testing.v1 import AppTest

from engine.runs.store import RunStore, append_lines, read_json, write_json
from tests.cli_run import fill, tmpfs
from tests.conftest import ROOT, tiny_cartpole

PAGES = ROOT / "dashboard" / "app_pages"


def _page(name: str) -> AppTest:
    return AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=120)


def _warnings(at: AppTest) -> str:
    return "\n".join(str(w.value) for w in at.warning)


@contextlib.contextmanager
def _full_root(tmp_path):
    """A runs root on a full tmpfs; where mounting is not allowed, a root whose
    index cannot be opened (its path is a directory) stands in for it."""
    with tmpfs(tmp_path / "mnt", "8m") as mnt:
        if mnt is None:
            root = tmp_path / "runs"
            (root / "index.sqlite").mkdir(parents=True)
            yield root, lambda: None
        else:
            yield mnt / "runs", lambda: fill(mnt)


@pytest.fixture
def damaged_store(tmp_path, monkeypatch):
    with _full_root(tmp_path) as (root, fill_disk):
        store = RunStore(root)
        info = store.create(tiny_cartpole(), name="kept", check=False)
        rows = [
            {"generation": g, "fitness_mean": 10.0 + g, "fitness_max": 20.0 + g}
            for g in (1, 2, 3, 4)
        ]
        append_lines(info.path / "metrics.jsonl", rows[:2])
        with open(info.path / "metrics.jsonl", "a") as f:
            f.write("{torn by hand\n")
        append_lines(info.path / "metrics.jsonl", rows[2:])
        st = read_json(info.path / "status.json")
        st.update(status="finished", generation=4)
        write_json(info.path / "status.json", st)
        bad = store.create(tiny_cartpole(seed=1), name="bad", check=False)
        (bad.path / "config.json").write_text("{not json")
        (root / "index.sqlite").unlink(missing_ok=True)
        fill_disk()
        monkeypatch.setenv("HADES_RUNS", str(root))
        yield {"root": root, "run": info.run_id, "bad": bad.run_id}


def test_runs_and_live_pages_on_a_damaged_store(damaged_store):
    at = _page("runs")
    at.session_state["runs.compare"] = [damaged_store["run"]]
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    text = _warnings(at)
    assert "the run index" in text and "read-only" in text
    assert damaged_store["bad"] in text and "config.json is not valid JSON" in text
    assert "line 3: not JSON" in text
    table = at.dataframe[0].value
    assert set(table["status"]) == {"finished", "damaged"}

    at = _page("live")
    at.session_state["hades.run"] = damaged_store["run"]
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "line 3: not JSON" in _warnings(at)
