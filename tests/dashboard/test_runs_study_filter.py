"""A study's runs on the Runs and Live pages (AppTest): the Runs page filters by
study (any, none, one study; preselected by the Studies page) and shows the study
and host columns; the Live page lists a study's run and names its study.

The runs are real run-store records (`RunStore.create` with the study label, no
compute), as a study's distillations are."""

from __future__ import annotations

import pytest
from conftest import ROOT, tiny_cartpole
from streamlit.testing.v1 import AppTest

PAGES = ROOT / "dashboard" / "app_pages"
STUDY = "size_sweep-20250101-000000-abcdef"


def _page(name: str) -> AppTest:
    return AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=120)


def _text(at: AppTest) -> str:
    return "\n".join(str(e.value) for e in [*at.caption, *at.markdown, *at.info])


@pytest.fixture
def root(tmp_path, monkeypatch):
    """Two runs of a study (one on another host) and one run of no study."""
    from engine.runs import RunStore
    from engine.runs.store import read_json, write_json

    store = RunStore(tmp_path / "runs")
    ids = {}
    for key, labels, host in (
        ("plain", None, None),
        ("n1", {"study": STUDY, "slot": "N=1"}, None),
        ("n4", {"study": STUDY, "slot": "N=4"}, "gpu-box"),
    ):
        info = store.create(tiny_cartpole(), name=f"run {key}", labels=labels)
        st = read_json(info.path / "status.json")
        st.update(status="stopped", generation=2)
        if host:
            st["host"] = host
        write_json(info.path / "status.json", st)
        ids[key] = info.run_id
    store.reindex()
    monkeypatch.setenv("HADES_RUNS", str(tmp_path / "runs"))
    return ids


def test_runs_page_filters_by_study_and_shows_study_and_host(root):
    at = _page("runs")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "3 of 3 runs" in _text(at)
    table = at.dataframe[0].value
    by_id = dict(zip(table["id"], table["study"], strict=True))
    assert by_id == {root["plain"]: "", root["n1"]: STUDY, root["n4"]: STUDY}
    hosts = dict(zip(table["id"], table["host"], strict=True))
    assert hosts[root["n4"]] == "gpu-box" and hosts[root["plain"]]
    box = at.selectbox(key="runs.study")
    assert box.options == ["(any)", "(no study)", STUDY]
    box.set_value("(no study)").run()
    assert "1 of 3 runs" in _text(at)
    assert list(at.dataframe[0].value["id"]) == [root["plain"]]
    at.selectbox(key="runs.study").set_value(STUDY).run()
    assert "2 of 3 runs" in _text(at)
    assert set(at.dataframe[0].value["id"]) == {root["n1"], root["n4"]}


def test_runs_page_takes_the_study_the_studies_page_asks_for(root):
    at = _page("runs")
    at.session_state["hades.runs_study"] = STUDY
    at.session_state["runs.compare"] = [root["n1"], root["n4"]]
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="runs.study").value == STUDY
    assert "2 of 3 runs" in _text(at)
    assert "2 selected" in [h.value for h in at.subheader]
    # An unknown study (deleted meanwhile) falls back to every run
    at = _page("runs")
    at.session_state["hades.runs_study"] = "gone-study"
    at.run()
    assert at.selectbox(key="runs.study").value == "(any)"
    assert "3 of 3 runs" in _text(at)


def test_live_page_lists_a_study_run_and_names_its_study(root):
    at = _page("live")
    at.session_state["hades.run"] = root["n4"]
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="live.run").value == root["n4"]
    assert len(at.selectbox(key="live.run").options) == 3  # every run of the store
    assert f"A run of study `{STUDY}`" in _text(at)
    at = _page("live")
    at.session_state["hades.run"] = root["plain"]
    at.run()
    assert "A run of study" not in _text(at)
