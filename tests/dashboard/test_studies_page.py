"""The Studies page under `streamlit.testing.v1.AppTest`: an empty runs root (every
study's form generated from its `Params`), a real tiny size sweep listed with its
figures, numbers and runs, broken study folders, invalid inputs, a study launched
from the page through the background manager, a real study stopped mid-run (its run
stopped through the store) and resumed from the page, and the running state
(progress, one at a time, stop) with a stand-in study."""

from __future__ import annotations

import json
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
TINY_LINES = tuple(f"{k}={v}" for k, v in TINY.items())
TINY_TEXT = "\n".join(TINY_LINES)


ELEMENT = {
    "select": "selectbox",
    "env": "selectbox",
    "dataset": "selectbox",
    "multiselect": "multiselect",
    "envs": "multiselect",
    "datasets": "multiselect",
    "number": "number_input",
    "checkbox": "checkbox",
    "list": "text_input",
    "text": "text_input",
    "lines": "text_area",
}
"""The AppTest element of each widget kind of `dashboard.study_form`."""


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
    at.number_input(key="studies.size-sweep.eval_inits").set_value(2)
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
        overrides=TINY_LINES,
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
    from dashboard.study_form import form_fields

    for name in STUDY_NAMES:
        at.selectbox(key="studies.study").set_value(name).run()
        _ok(at)
        assert study_lib.DESCRIPTIONS[name] in _texts(at, "caption"), name
        assert not at.button(key="studies.go").disabled
        # One widget per field of the study's Params, its docstring as help
        for w in form_fields(name):
            el = getattr(at, ELEMENT[w.widget])(key=w.key)
            assert el.proto.help == w.help and w.help, (name, w.field.name)
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
    assert "sizes='4,x': not ints" in _texts(at, "error")
    at.text_input(key="studies.size-sweep.sizes").input("4")
    at.text_area(key="studies.size-sweep.overrides").input("outer.sigma=-1")
    at.button(key="studies.go").click().run()
    assert any(e.startswith("outer.sigma=") for e in _texts(at, "error"))
    at.text_area(key="studies.size-sweep.overrides").input("no equals sign")
    at.button(key="studies.go").click().run()
    assert any(
        e.startswith("overrides='no equals sign'") and "not section.field=value" in e
        for e in _texts(at, "error")
    )
    at.text_area(key="studies.size-sweep.overrides").input(TINY_TEXT)
    at.number_input(key="studies.size-sweep.population").set_value(15)
    at.button(key="studies.go").click().run()
    assert any("outer.population=15 is invalid" in e for e in _texts(at, "error"))

    at.selectbox(key="studies.study").set_value("supervised").run()
    at.selectbox(key="studies.supervised.dataset").set_value("mnist")
    at.button(key="studies.go").click().run()
    _ok(at)
    assert any("mnist needs data_dir" in e for e in _texts(at, "error"))
    at.selectbox(key="studies.supervised.dataset").set_value("digits")
    at.text_area(key="studies.supervised.overrides").input("nonsense=1")
    at.button(key="studies.go").click().run()
    assert any("nonsense: not a supervised setting" in e for e in _texts(at, "error"))

    at.selectbox(key="studies.study").set_value("multitask").run()
    at.multiselect(key="studies.multitask.envs").set_value(["CartPole-v1"])
    at.button(key="studies.go").click().run()
    assert any("at least two" in e for e in _texts(at, "error"))
    at.multiselect(key="studies.multitask.envs").set_value(["CartPole-v1", "hopper"])
    at.button(key="studies.go").click().run()
    assert any("discrete and continuous" in e for e in _texts(at, "error"))

    at.selectbox(key="studies.study").set_value("transfer").run()
    at.text_input(key="studies.transfer.widths").input("8,wide")
    at.button(key="studies.go").click().run()
    assert "widths='8,wide': not ints" in _texts(at, "error")

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
    assert info["params"]["sizes"] == (4,) and info["params"]["population"] == 8
    # Its distillation is a run of the store tagged with the study, listed here
    runs = state.store().list(study=info["study_id"])
    assert [r["status"] for r in runs] == ["finished"] and runs[0]["host"]
    listed = at.dataframe[1].value
    assert list(listed["id"]) == [runs[0]["id"]]
    assert list(listed["status"]) == ["finished"]


def test_running_study_progress_one_at_a_time_and_stop(root_env, monkeypatch):
    from dashboard import state
    from engine.studies import STUDIES, StudyError

    started = threading.Event()

    def stand_in(params, *, runs_root, progress_fn, resume=None):
        assert params.dataset == "digits" and resume is None
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
    from engine.studies.supervised import Params

    with pytest.raises(StudyError, match="one study at a time"):
        state.study_manager().start("supervised", Params())
    at.button(key="studies.stop").click().run()
    info = state.study_manager().wait(timeout=10)
    assert info["done"] and "Stopped from the dashboard" in info["error"]
    at.run()
    _ok(at)
    assert any("failed: Stopped from the dashboard" in e for e in _texts(at, "error"))
    assert not at.button(key="studies.go").disabled


def test_a_study_queues_behind_a_run_of_the_one_job_manager(root_env, monkeypatch):
    """Runs and studies share the dashboard's one `JobManager`: on a CPU (one
    slot) a study waits for the run computing here, the page says what it waits
    for, and Stop cancels it before it starts."""
    from dashboard import state
    from engine import presets
    from engine.studies import STUDIES

    calls: list[str] = []
    monkeypatch.setitem(
        STUDIES, "supervised", lambda *a, **k: calls.append("ran") or {}
    )
    jobs = state.manager()
    assert state.study_manager().jobs is jobs and jobs.max_concurrent == 1

    def hold(ev):
        if ev["kind"] == "chunk":
            jobs.pause(ev["run_id"])

    cfg = presets.make("quick", "CartPole-v1", 4, 0).with_overrides(
        {**TINY, "outer.population": 8, "outer.generations": 100}
    )
    run = jobs.submit(cfg, progress_fn=hold)
    try:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline and jobs.job(run)["status"] != "paused":
            time.sleep(0.05)
        at = _page()
        at.run()
        at.selectbox(key="studies.study").set_value("supervised").run()
        at.button(key="studies.go").click().run()
        _ok(at)
        info = state.study_manager().info()
        assert info["queued"] and info["waiting_for"] == [run] and not info["done"]
        assert any("is queued in this dashboard" in t for t in _texts(at, "markdown"))
        bars = at.get("progress")
        assert bars and f"waiting for `{run}`" in bars[0].proto.text
        at.button(key="studies.stop").click().run()
        info = state.study_manager().info()
        assert info["done"] and "Stopped from the dashboard" in info["error"]
        assert calls == []  # cancelled before it started
    finally:
        jobs.stop(run)
        jobs.wait(run, timeout=60)


# Stop and resume ----------
def test_stop_a_real_study_then_resume_it_from_the_page(root_env):
    """Stop a two-size sweep during its second run (the run is stopped through
    the store and keeps a checkpoint), then resume the study from Past studies:
    the finished run is not redone, the stopped one continues."""
    from dashboard import state
    from dashboard.study_form import to_params
    from engine.runs import RunStore

    params = to_params(
        "size-sweep",
        {
            "sizes": "1,4",
            "generations": 20,  # 10 chunks: the stop lands long before the end
            "population": 8,
            "eval_inits": 2,
            "overrides": TINY_TEXT,
        },
    )
    mgr = state.study_manager()
    mgr.start("size-sweep", params)

    def second_run_started():
        ev = (mgr.info() or {}).get("event") or {}
        return ev.get("stage") == "distil N=4" and ev.get("done", 0) >= 2

    # Generous bounds (not timings): two compilations on a busy 2-core machine
    deadline = time.monotonic() + 400
    while time.monotonic() < deadline and not second_run_started():
        assert not mgr.info()["done"], mgr.info()["error"]
        time.sleep(0.02)
    assert second_run_started(), mgr.info()
    assert mgr.stop()
    info = mgr.wait(timeout=60)
    assert info["done"] and info["error"].startswith("Stopped from the dashboard")
    store = RunStore(root_env)
    sid = store.list()[0]["study"]
    runs = {r["name"]: r for r in store.list(study=sid)}
    assert runs["size_sweep N=1"]["status"] == "finished"
    assert runs["size_sweep N=4"]["status"] == "stopped"
    stopped_at = runs["size_sweep N=4"]["generation"]
    assert 2 <= stopped_at < 20
    n1_rows = len(store.read_metrics(runs["size_sweep N=1"]["id"]))

    at = _page()
    at.session_state["studies.selected"] = sid
    at.run()
    _ok(at)
    assert list(at.dataframe[0].value["status"]) == ["failed"]
    assert any("ended stopped" in e for e in _texts(at, "error"))
    listed = at.dataframe[1].value  # the study's runs
    assert sorted(listed["status"]) == ["finished", "stopped"]
    at.button(key="studies.resume").click().run()
    _ok(at)
    # The resume itself raised nothing (the list may still show the study failed
    # until its thread has reopened it)
    assert not [e for e in _texts(at, "error") if not e.startswith("This study")]
    assert mgr.info()["resume"] == sid
    assert any("(resumed)" in t for t in _texts(at, "markdown") + _texts(at, "success"))
    deadline = time.monotonic() + 400
    while time.monotonic() < deadline and not at.success:
        time.sleep(0.5)
        at.run()
        _ok(at)
    assert at.success, f"the resumed study did not finish: {mgr.info()}"
    info = mgr.info()
    assert info["error"] is None and info["study_id"] == sid
    assert list(at.dataframe[0].value["status"]) == ["finished"]
    after = {r["name"]: r for r in store.list(study=sid)}
    assert {r["id"] for r in after.values()} == {r["id"] for r in runs.values()}
    assert all(r["status"] == "finished" for r in after.values())
    assert len(store.read_metrics(after["size_sweep N=1"]["id"])) == n1_rows
    events = [r.get("event") for r in store.read_metrics(after["size_sweep N=4"]["id"])]
    assert events.count("resume") == 1 and events.count("stop") == 1
    assert after["size_sweep N=4"]["generation"] == 20
    res = json.loads((root_env / "studies" / sid / "results.json").read_text())
    assert res["sizes"] == [1, 4] and res["runs"] == [
        after["size_sweep N=1"]["id"],
        after["size_sweep N=4"]["id"],
    ]
    # "Open in Runs" asks the Runs page for this study's runs
    at.button(key="studies.open_runs").click().run()
    assert at.session_state["hades.runs_study"] == sid
    assert sorted(at.session_state["runs.compare"]) == sorted(listed["id"])


# Pure helpers ----------
def test_form_values_to_params_and_headline_helpers(tmp_path):
    from dashboard import studies as study_lib
    from dashboard.study_form import precheck, to_params
    from engine.config import ConfigError
    from engine.studies import StudyError

    p = to_params(
        "transfer",
        {"dataset": "", "widths": "8, 16", "lrs": "5e-3", "steps": "", "eval_inits": 2},
    )
    assert p.widths == (8, 16) and p.lrs == (0.005,) and p.steps is None
    assert p.dataset is None and p.eval_inits == 2 and p.env == "CartPole-v1"
    precheck("transfer", p, tmp_path)
    with pytest.raises(StudyError, match="dataset nope: no run 'nope'"):
        precheck("transfer", to_params("transfer", {"dataset": "nope"}), tmp_path)
    p = to_params(
        "supervised",
        {"generations": 3, "overrides": "chunk=5\n\n# a comment\nsigma=0.1", "seed": 2},
    )
    assert p.overrides == ("chunk=5", "sigma=0.1") and p.generations == 3
    assert p.settings().chunk == 5 and p.settings().sigma == 0.1 and p.seed == 2
    p = to_params("baseline", {"env": "Acrobot-v1", "methods": "hades_r", "size": None})
    assert p.methods == ("hades_r",) and p.size is None
    with pytest.raises(ConfigError, match="outer.population=15 is invalid"):
        precheck("baseline", to_params("baseline", {"population": 15}))
    with pytest.raises(StudyError, match="env: unknown environment 'nowhere'"):
        to_params("size-sweep", {"env": "nowhere"})
    ref = tmp_path / "ref.csv"
    ref.write_text("name,value\nx,1\n")
    (tmp_path / "a.pkl").write_bytes(b"")
    bad_ref = to_params("published", {"folder": str(tmp_path), "reference": str(ref)})
    with pytest.raises(StudyError, match="needs columns 'file' and 'reference'"):
        precheck("published", bad_ref)
    # Malformed results never raise: the top-level numbers are shown instead
    assert study_lib.headline("baseline", {"methods": 3}) == [("methods", "3")]
    assert study_lib.headline("size_sweep", None) == []
    frac, text = study_lib.progress_text({"stage": "distil N=4", "done": 1, "total": 4})
    assert frac == 0.25 and text.startswith("distil N=4 1/4")
