"""The Studies page under `streamlit.testing.v1.AppTest`: an empty runs root, a real
tiny size sweep listed with its figures and numbers, broken study folders, invalid
inputs, a study launched from the page through the background manager, and the
running state (progress, one at a time, stop) with a stand-in study."""

from __future__ import annotations

import threading
import time

import pytest
from conftest import ROOT
from streamlit.testing.v1 import AppTest

PAGE = ROOT / "dashboard" / "app_pages" / "studies.py"
TIMEOUT = 120
TINY = {
    "outer.chunk": 2,
    "outer.eval_every": 2,
    "inner.width": 16,
    "inner.steps": 10,
    "fitness.num_envs": 2,
    "fitness.num_steps": 50,
}
# The page's inputs for the same tiny size sweep (population and generations have
# their own inputs): compiled programs are shared in-process, so a second run is fast.
TINY_TEXT = "\n".join(f"{k}={v}" for k, v in TINY.items())


def _page() -> AppTest:
    return AppTest.from_file(str(PAGE), default_timeout=TIMEOUT)


def _texts(at: AppTest, kind: str) -> list[str]:
    return [str(e.value) for e in getattr(at, kind)]


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _ids_in_table(at: AppTest) -> list[str]:
    return list(at.dataframe[0].value["id"]) if at.dataframe else []


def _fill_tiny_sweep(at: AppTest) -> None:
    at.selectbox(key="studies.study").set_value("size-sweep").run()
    at.text_input(key="studies.size-sweep.sizes").input("4")
    at.number_input(key="studies.size-sweep.generations").set_value(4)
    at.number_input(key="studies.size-sweep.population").set_value(8)
    at.number_input(key="studies.size-sweep.inits").set_value(2)
    at.text_area(key="studies.size-sweep.overrides").input(TINY_TEXT)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """A runs root holding one finished tiny size sweep (N = 4, 4 generations)."""
    from engine.studies import run_size_sweep

    root = tmp_path_factory.mktemp("study-runs")
    res = run_size_sweep(
        sizes=(4,),
        generations=4,
        population=8,
        runs_root=root,
        overrides=TINY,
        eval_inits=2,
    )
    return {"root": root, "res": res}


@pytest.fixture
def root_env(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    monkeypatch.setenv("HADES_RUNS", str(root))
    yield root
    from dashboard import state

    state.study_manager().wait(timeout=60)


# Empty root ----------
def test_empty_root_renders_every_study_form(root_env):
    from dashboard import studies as study_lib
    from engine.studies import STUDY_NAMES

    at = _page()
    at.run()
    _ok(at)
    assert at.title[0].value == "Studies"
    assert any("No studies yet" in t for t in _texts(at, "info"))
    assert not at.dataframe  # no table without studies
    for name in STUDY_NAMES:
        at.selectbox(key="studies.study").set_value(name).run()
        _ok(at)
        assert study_lib.DESCRIPTIONS[name] in _texts(at, "caption"), name
        assert not at.button(key="studies.go").disabled
    # Published: the reference folder beside the checkout is the default when present
    from engine.studies.published import default_folder

    folder = at.text_input(key="studies.published.folder").value
    assert folder == (str(default_folder()) if default_folder() else "")
    # The navigation shows the page
    app = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=TIMEOUT)
    app.run()
    app.switch_page("app_pages/studies.py").run()
    _ok(app)
    assert app.title[0].value == "Studies"


def test_invalid_inputs_show_messages_and_start_nothing(root_env):
    from dashboard import state

    at = _page()
    at.run()
    _fill_tiny_sweep(at)
    at.text_input(key="studies.size-sweep.sizes").input("4,x")
    at.button(key="studies.go").click().run()
    _ok(at)
    assert any("sizes: '4,x'" in e for e in _texts(at, "error"))
    at.text_input(key="studies.size-sweep.sizes").input("4")
    at.text_area(key="studies.size-sweep.overrides").input("outer.sigma=-1")
    at.button(key="studies.go").click().run()
    assert any(e.startswith("outer.sigma=") for e in _texts(at, "error"))
    at.text_area(key="studies.size-sweep.overrides").input("no equals sign")
    at.button(key="studies.go").click().run()
    assert any("not section.field=value" in e for e in _texts(at, "error"))

    at.selectbox(key="studies.study").set_value("supervised").run()
    at.radio(key="studies.supervised.dataset").set_value("mnist")
    at.button(key="studies.go").click().run()
    _ok(at)
    assert any("local data folder" in e for e in _texts(at, "error"))
    at.radio(key="studies.supervised.dataset").set_value("digits")
    at.text_area(key="studies.supervised.settings").input("nonsense=1")
    at.button(key="studies.go").click().run()
    assert any("unknown field 'nonsense'" in e for e in _texts(at, "error"))

    at.selectbox(key="studies.study").set_value("multitask").run()
    at.multiselect(key="studies.multitask.envs").set_value(["CartPole-v1"])
    at.button(key="studies.go").click().run()
    assert any("at least two" in e for e in _texts(at, "error"))
    at.multiselect(key="studies.multitask.envs").set_value(["CartPole-v1", "hopper"])
    at.button(key="studies.go").click().run()
    assert any("discrete and continuous" in e for e in _texts(at, "error"))

    at.selectbox(key="studies.study").set_value("published").run()
    at.text_input(key="studies.published.folder").input(str(root_env / "nowhere"))
    at.button(key="studies.go").click().run()
    _ok(at)
    assert any("no such folder" in e for e in _texts(at, "error"))
    assert state.study_manager().info() is None  # nothing was started


# A real study ----------
def test_lists_a_finished_study_with_figures_and_numbers(sweep, monkeypatch):
    monkeypatch.setenv("HADES_RUNS", str(sweep["root"]))
    res = sweep["res"]
    at = _page()
    at.run()
    _ok(at)
    assert _ids_in_table(at) == [res["study_id"]]
    table = at.dataframe[0].value
    assert list(table["study"]) == ["size-sweep"]
    assert list(table["status"]) == ["finished"]
    assert "best N 4" in table["headline"][0]
    # The newest study is shown: its numbers, every figure, its files
    metrics = {mt.label: mt.value for mt in at.metric}
    assert metrics["best N"] == "4"
    assert float(metrics["N=4 return"]) == pytest.approx(res["final_return"][0], 1e-3)
    assert len(at.get("plotly_chart")) == len(res["figures"]) >= 1
    labels = [b.proto.label for b in at.get("download_button")]
    assert "size_sweep.csv" in labels and "results.json" in labels
    assert {f"{name}.png" for name in res["figures"]} <= set(labels)
    assert not at.error


# Broken folders ----------
def test_failed_and_corrupt_studies_show_messages(root_env):
    from engine.studies.common import StudyDir

    with pytest.raises(RuntimeError), StudyDir("size_sweep", {}, root_env):
        raise RuntimeError("boom: out of memory")
    corrupt = StudyDir("supervised", {"dataset": "digits"}, root_env)
    corrupt.status("finished")
    corrupt.file("results.json").write_text("{not json")
    (corrupt.figures / "bad.json").write_text("garbage")
    junk = root_env / "studies" / "junk"
    junk.mkdir()
    (junk / "config.json").write_text("[1, 2")  # not a study: not listed

    at = _page()
    at.session_state["studies.selected"] = corrupt.study_id
    at.run()
    _ok(at)
    ids = _ids_in_table(at)
    assert len(ids) == 2 and corrupt.study_id in ids and "junk" not in ids
    warns = _texts(at, "warning")
    assert any("results.json is missing or unreadable" in w for w in warns)
    assert any(w.startswith("Figure bad cannot be read") for w in warns)
    assert not at.get("plotly_chart") and not at.metric

    failed = [i for i in ids if i != corrupt.study_id][0]
    at = _page()
    at.session_state["studies.selected"] = failed
    at.run()
    _ok(at)
    errs = _texts(at, "error")
    assert any(
        "This study failed: RuntimeError: boom: out of memory" in e for e in errs
    )
    assert list(at.dataframe[0].value["status"]).count("failed") == 1


# Launching from the page ----------
def test_launch_a_tiny_study_from_the_page(root_env):
    from dashboard import state

    at = _page()
    at.run()
    _fill_tiny_sweep(at)
    at.button(key="studies.go").click().run()
    _ok(at)
    assert not _texts(at, "error")
    info = state.study_manager().info()
    assert info is not None and info["study"] == "size-sweep"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not at.success:
        time.sleep(0.5)
        at.run()
        _ok(at)
    assert at.success, "the study did not finish in 90 s"
    info = state.study_manager().info()
    assert info["error"] is None and info["event"]["study"] == "size_sweep"
    assert info["study_id"] in at.success[0].value
    assert _ids_in_table(at) == [info["study_id"]]
    assert list(at.dataframe[0].value["status"]) == ["finished"]
    assert at.get("plotly_chart") and "best N" in [mt.label for mt in at.metric]


def test_running_study_progress_one_at_a_time_and_stop(root_env, monkeypatch):
    from dashboard import state
    from engine.studies import STUDIES, StudyError

    started = threading.Event()

    def stand_in(preset, runs_root, progress_fn, **kwargs):
        started.set()
        for _ in range(2000):  # until the stop request raises in progress_fn
            progress_fn(
                {"study": "supervised", "stage": "distil", "done": 3, "total": 10}
            )
            time.sleep(0.01)
        return {"study_id": "never"}

    monkeypatch.setitem(STUDIES, "supervised", stand_in)
    at = _page()
    at.run()
    at.selectbox(key="studies.study").set_value("supervised").run()
    at.button(key="studies.go").click().run()
    _ok(at)
    assert started.wait(10)
    deadline = time.monotonic() + 10  # the first event follows `started` closely
    while time.monotonic() < deadline and not state.study_manager().info()["event"]:
        time.sleep(0.05)
    at.run()
    bars = at.get("progress")
    assert bars and bars[0].proto.value == 30 and "distil 3/10" in bars[0].proto.text
    assert at.button(key="studies.go").disabled
    assert any("one at a time" in c.lower() for c in _texts(at, "caption"))
    with pytest.raises(StudyError, match="one study at a time"):
        state.study_manager().start("supervised", {}, "quick")
    at.button(key="studies.stop").click().run()
    info = state.study_manager().wait(timeout=10)
    assert info["done"] and "Stopped from the dashboard" in info["error"]
    at.run()
    _ok(at)
    assert any("failed: Stopped from the dashboard" in e for e in _texts(at, "error"))
    assert not at.button(key="studies.go").disabled


# Pure helpers ----------
def test_study_kwargs_and_headline_helpers(tmp_path):
    from dashboard import studies as study_lib
    from engine.studies import StudyError

    kw = study_lib.study_kwargs(
        "transfer",
        {"env": "CartPole-v1", "widths": "8, 16", "lrs": "5e-3", "inits": 2},
        tmp_path,
    )
    assert kw["widths"] == [8, 16] and kw["lrs"] == [0.005] and "steps" not in kw
    assert kw["dataset"] is None and kw["inits"] == 2
    with pytest.raises(StudyError, match="no run 'nope'"):
        study_lib.study_kwargs("transfer", {"env": "CartPole-v1", "dataset": "nope"})
    kw = study_lib.study_kwargs(
        "supervised", {"generations": 3, "settings": "chunk=5\nsigma=0.1", "seed": 2}
    )
    assert kw == {
        "dataset": "digits",
        "data_dir": None,
        "seed": 2,
        "generations": 3,
        "chunk": 5,
        "sigma": 0.1,
    }
    kw = study_lib.study_kwargs(
        "baseline", {"env": "Acrobot-v1", "methods": ["hades_r"], "population": 16}
    )
    assert kw["methods"] == ("hades_r",) and kw["population"] == 16
    with pytest.raises(ValueError, match="outer.population=15 is invalid"):
        study_lib.study_kwargs("baseline", {"env": "Acrobot-v1", "population": 15})
    # Malformed results never raise: the top-level numbers are shown instead
    assert study_lib.headline("baseline", {"methods": 3}) == [("methods", "3")]
    assert study_lib.headline("size_sweep", None) == []
    frac, text = study_lib.progress_text({"stage": "distil N=4", "done": 1, "total": 4})
    assert frac == 0.25 and text.startswith("distil N=4 1/4")
