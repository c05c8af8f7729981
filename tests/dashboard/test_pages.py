"""Every dashboard page under `streamlit.testing.v1.AppTest` with a seeded run store:
a tiny real run (checkpoints, dataset), a second seed written by hand, and a run
owned by "another process" (a lock from another host). Invalid inputs included."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, tiny_cartpole
from streamlit.testing.v1 import AppTest

PAGES = ROOT / "dashboard" / "app_pages"
TIMEOUT = 120


def _page(name: str) -> AppTest:
    return AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=TIMEOUT)


def _texts(at: AppTest, kind: str) -> list[str]:
    return [str(e.value) for e in getattr(at, kind)]


def _all_text(at: AppTest) -> str:
    parts = []
    for kind in ("markdown", "caption", "info", "error", "warning", "success"):
        parts += _texts(at, kind)
    return "\n".join(parts)


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """A runs root with: a finished tiny run, a 'seed 1' twin, a CLI-owned run."""
    from engine.runs import Runner, RunStore
    from engine.runs.store import append_lines, read_json, write_json

    root = tmp_path_factory.mktemp("dash-runs")
    run = Runner.create(tiny_cartpole(), root=root, name="seeded", keep_last=10)
    summary = run.run()
    assert summary["status"] == "finished"
    store = RunStore(root)
    rows = store.read_metrics(run.run_id)

    def twin(seed: int, status: str, lock_host: str | None = None) -> str:
        info = store.create(tiny_cartpole(seed=seed), name=f"twin{seed}")
        gen_rows = [
            {**r, "fitness_mean": r["fitness_mean"] + seed}
            for r in rows
            if "event" not in r
        ]
        append_lines(info.path / "metrics.jsonl", gen_rows)
        st = read_json(info.path / "status.json")
        st.update(status=status, generation=4, seconds_per_generation=0.05)
        if lock_host:
            st.update(host=lock_host, pid=12345)
            (info.path / "lock").write_text(
                json.dumps({"pid": 12345, "host": lock_host, "start_time": 1})
            )
        write_json(info.path / "status.json", st)
        return info.run_id

    seed1 = twin(1, "finished")
    cli = twin(2, "running", lock_host="another-host")
    store.reindex()
    return {"root": root, "run": run.run_id, "seed1": seed1, "cli": cli}


@pytest.fixture
def runs_env(seeded, monkeypatch):
    monkeypatch.setenv("HADES_RUNS", str(seeded["root"]))
    return seeded


@pytest.fixture
def empty_env(tmp_path, monkeypatch):
    monkeypatch.setenv("HADES_RUNS", str(tmp_path / "runs"))
    yield tmp_path / "runs"
    from dashboard import state

    state.manager().shutdown(wait=True, timeout=60)


# App and navigation ----------


def _wait(pred, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return False


def test_app_navigation_runs_every_page(runs_env):
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=TIMEOUT)
    at.run()
    _ok(at)
    assert at.title[0].value == "Launch a run"
    for page, title in [
        ("live", "Live"),
        ("dataset", "Dataset"),
        ("rollouts", "Rollouts"),
        ("runs", "Runs"),
        ("import_page", "Import"),
        ("demo", "Demo"),
    ]:
        at.switch_page(f"app_pages/{page}.py").run()
        _ok(at)
        assert at.title[0].value == title


# Launch ----------
def test_launch_defaults_and_estimate(runs_env):
    at = _page("launch")
    at.run()
    _ok(at)
    assert at.selectbox(key="launch.env").value == "CartPole-v1"
    assert at.number_input(key="launch.size").value == 4
    assert at.radio(key="launch.preset").value == "quick"
    assert at.number_input(key="launch.f.outer.population").value == 64
    assert at.selectbox(key="launch.f.outer.strategy").value == "Open_ES"
    text = _all_text(at)
    assert "per generation" in text and "estimate" in text.lower()
    # Help texts are the config docstrings
    w = at.number_input(key="launch.f.outer.sigma")
    assert w.help.startswith("Initial search standard deviation")
    assert not at.button(key="launch.go").disabled


def test_launch_invalid_inputs_show_engine_messages(runs_env):
    at = _page("launch")
    at.run()
    at.number_input(key="launch.f.outer.population").set_value(63).run()
    _ok(at)
    errs = _texts(at, "error")
    assert any(
        "outer.population=63 is invalid: must be even with antithetic" in e
        for e in errs
    )
    assert at.button(key="launch.go").disabled
    at.number_input(key="launch.f.outer.population").set_value(64)
    at.number_input(key="launch.f.inner.width").set_value(0).run()
    errs = _texts(at, "error")
    assert any(e.startswith("inner.width=0 is invalid") for e in errs)
    at.number_input(key="launch.f.inner.width").set_value(64)
    at.number_input(key="launch.f.outer.sigma").set_value(-0.5).run()
    assert any("outer.sigma" in e for e in _texts(at, "error"))
    at.number_input(key="launch.f.outer.sigma").set_value(0.1)
    at.number_input(key="launch.size").set_value(0).run()
    _ok(at)
    assert any("dataset.size=0 is invalid" in e for e in _texts(at, "error"))


def test_launch_env_change_resets_to_preset(runs_env):
    at = _page("launch")
    at.run()
    at.number_input(key="launch.f.outer.population").set_value(32).run()
    at.radio(key="launch.group").set_value("MinAtar").run()
    _ok(at)
    from engine import presets

    quick = presets.make("quick", "Breakout-MinAtar")
    assert at.selectbox(key="launch.env").value == "Breakout-MinAtar"
    assert at.number_input(key="launch.size").value == quick.dataset.size
    assert at.selectbox(key="launch.f.outer.strategy").value == quick.outer.strategy
    pop = at.number_input(key="launch.f.outer.population").value
    assert pop == quick.outer.population != 32
    # HaDES-F: one fixed init, the init count is locked to 1
    at.radio(key="launch.f.variant").set_value("HaDES-F").run()
    _ok(at)
    assert at.number_input(key="launch.k_fixed").disabled
    assert at.number_input(key="launch.f.fitness.fixed_init_seed").value == -1


def test_launch_submits_a_background_job(empty_env):
    from dashboard import state

    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=TIMEOUT)
    at.run()
    tiny = {
        "launch.f.outer.population": 8,
        "launch.f.outer.generations": 2,
        "launch.f.inner.width": 16,
        "launch.f.inner.steps": 10,
        "launch.f.fitness.num_envs": 2,
        "launch.f.fitness.num_steps": 50,
        "launch.f.outer.chunk": 2,
    }
    for k, v in tiny.items():
        at.number_input(key=k).set_value(v)
    at.text_input(key="launch.name").input("from-apptest")
    at.button(key="launch.go").click().run()
    _ok(at)
    assert at.title[0].value == "Live"  # moved to Live
    jobs = state.manager().jobs()
    assert len(jobs) == 1 and jobs[0]["name"] == "from-apptest"
    info = state.manager().wait(jobs[0]["run_id"], timeout=120)
    assert info["status"] == "finished"
    cfg = state.store().hades_config(jobs[0]["run_id"])
    assert cfg.outer.population == 8 and cfg.inner.width == 16


# Live ----------
def test_live_shows_a_finished_run(runs_env):
    at = _page("live")
    at.session_state["hades.run"] = runs_env["run"]
    at.run()
    _ok(at)
    labels = {mt.label: mt.value for mt in at.metric}
    assert labels["best so far"] != "\u2014" and labels["ETA"] == "\u2014"
    assert len(at.get("plotly_chart")) == 2
    assert at.button(key="live.pause").disabled and at.button(key="live.stop").disabled
    assert "finished" in [b.proto.label for b in at.get("badge")] or True


def test_live_run_of_another_host_is_steerable(runs_env):
    at = _page("live")
    at.session_state["hades.run"] = runs_env["cli"]
    at.run()
    _ok(at)
    assert "pid 12345 on another-host" in _all_text(at)  # who executes it
    assert not at.button(key="live.pause").disabled
    assert not at.button(key="live.stop").disabled
    assert [w for w in at.number_input if w.label == "ES learning rate"]


def test_live_steers_a_run_of_another_process(empty_env):
    """A `hades distill` in its own process, steered from the Live page."""
    import json
    import subprocess
    import sys

    from engine.runs import RunStore
    from engine.runs.runner import write_config_file

    cfg_path = empty_env.parent / "cfg.json"
    write_config_file(tiny_cartpole(**{"outer.generations": 100000}), cfg_path)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "engine.runs.worker",
            str(cfg_path),
            str(empty_env),
            "--quiet",  # an unread pipe must not fill up
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        run_id = proc.stdout.readline().split()[1]
        store = RunStore(empty_env)
        assert _wait(lambda: store.read_status(run_id).get("generation", 0) >= 2, 120)
        at = _page("live")
        at.session_state["hades.run"] = run_id
        at.run()
        _ok(at)
        text = _all_text(at)
        assert f"pid {proc.pid}" in text and "worker" in text  # who executes it
        at.button(key="live.pause").click().run()
        assert _wait(lambda: store.read_status(run_id)["status"] == "paused")
        at.run()
        tune = [w for w in at.number_input if w.label == "ES learning rate"][0]
        tune.set_value(0.3)
        at.button[[b.label for b in at.button].index("Apply")].click().run()
        at.button(key="live.resume").click().run()
        assert _wait(lambda: store.read_status(run_id)["status"] == "running")
        assert _wait(
            lambda: any(
                r.get("lr") == pytest.approx(0.3)
                for r in store.read_metrics(run_id)
                if "event" not in r
            )
        )
        at.run()
        at.button(key="live.stop").click().run()
        assert proc.wait(timeout=120) == 0
        st = store.read_status(run_id)
        assert st["status"] == "stopped" and st["control"]["command"] == "stop"
        assert json.loads(json.dumps(st["control"]))["sender"] == "dashboard"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_live_controls_pause_resume_tune_stop(empty_env):
    from dashboard import state

    cfg = tiny_cartpole(**{"outer.generations": 100000})
    run_id = state.manager().submit(cfg, name="long")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if (state.manager().job(run_id)["generation"] or 0) >= 2:
            break
        time.sleep(0.1)
    at = _page("live")
    at.session_state["hades.run"] = run_id
    at.run()
    _ok(at)
    assert not at.button(key="live.pause").disabled
    at.button(key="live.pause").click().run()
    store = state.store()
    assert _wait(lambda: store.read_status(run_id)["status"] == "paused")
    assert state.manager().job(run_id)["paused"]
    # Live tuning (queued for the next chunk, i.e. after the pause)
    at.number_input(key=None) if False else None
    tune = [w for w in at.number_input if w.label == "ES learning rate"][0]
    tune.set_value(0.2)
    at.button[[b.label for b in at.button].index("Apply")].click().run()
    _ok(at)
    from engine.runs.control import read_commands

    assert read_commands(store.resolve(run_id))["set"] == {"lr": 0.2}
    assert any("Queued for the next chunk" in s for s in _texts(at, "success"))
    # Invalid live value: the engine's message
    tune = [w for w in at.number_input if w.label == "sigma"][0]
    tune.set_value(-1.0)
    at.button[[b.label for b in at.button].index("Apply")].click().run()
    assert any("sigma=-1.0 must be finite and > 0" in e for e in _texts(at, "error"))
    at.run()
    at.button(key="live.resume").click().run()
    assert _wait(lambda: store.read_status(run_id)["status"] != "paused")
    assert not state.manager().job(run_id)["paused"]
    deadline = time.monotonic() + 60
    store = state.store()
    while time.monotonic() < deadline:
        ev = [r for r in store.read_metrics(run_id) if r.get("event") == "control"]
        if ev:
            break
        time.sleep(0.1)
    assert ev and ev[0]["lr"] == 0.2
    at.run()
    fig = at.get("plotly_chart")[0]
    assert "lr 0.05" in fig.proto.spec  # the change is marked on the curve
    at.button(key="live.stop").click().run()
    info = state.manager().wait(run_id, timeout=60)
    assert info["status"] == "stopped"


def test_live_fork_with_invalid_and_valid_changes(runs_env):
    from dashboard import state

    at = _page("live")
    at.session_state["hades.run"] = runs_env["run"]
    at.run()
    pop = [w for w in at.number_input if w.label == "population"][0]
    pop.set_value(7)
    at.button[[b.label for b in at.button].index("Fork")].click().run()
    _ok(at)
    assert any("must be even with antithetic" in e for e in _texts(at, "error"))
    pop = [w for w in at.number_input if w.label == "population"][0]
    pop.set_value(8)
    gens = [w for w in at.number_input if w.label == "generations (total)"][0]
    gens.set_value(6)
    width = [w for w in at.number_input if w.label == "inner width"][0]
    width.set_value(8)
    at.button[[b.label for b in at.button].index("Fork")].click().run()
    _ok(at)
    new = at.session_state["hades.run"]
    assert new != runs_env["run"]
    info = state.manager().wait(new, timeout=120)
    assert info["status"] == "finished"
    meta = state.store().read_config(new)
    assert meta["parent"]["run_id"] == runs_env["run"]
    assert meta["config"]["inner"]["width"] == 8


# Dataset ----------
def test_dataset_page_views_and_checkpoint(runs_env):
    at = _page("dataset")
    at.session_state["hades.run"] = runs_env["run"]
    at.run()
    _ok(at)
    assert [t.label for t in at.tabs] == [
        "Pictures",
        "Heatmap",
        "Labels",
        "Table",
        "Over generations",
        "Explain",
    ]
    assert len(at.get("image")) == 4  # CartPole drawings of the 4 states
    at.session_state["dataset.tab"] = "Heatmap"
    at.run()
    _ok(at)
    assert "x_dot" in at.get("plotly_chart")[0].proto.spec
    at.session_state["dataset.tab"] = "Table"
    at.run()
    assert list(at.dataframe[0].value["label"])[:2] == ["push left", "push right"]
    at.session_state["dataset.tab"] = "Over generations"
    at.run()
    _ok(at)
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert [f["name"] for f in spec["frames"]] == ["2", "4"]
    slider = at.select_slider(key=f"dataset.gen.run:{runs_env['run']}")
    assert slider.value == 4
    slider.set_value(2).run()  # rebuilt from the checkpoint's ES state
    _ok(at)
    assert "**generation** 2" in _all_text(at)


def test_dataset_page_demo_source(runs_env):
    from dashboard.sources import demo_dir

    at = _page("dataset")
    at.session_state["hades.source"] = f"demo:{demo_dir() / 'breakout'}"
    at.run()
    _ok(at)
    assert "Breakout-MinAtar" in _all_text(at)


# Rollouts ----------
def test_rollouts_train_and_render(runs_env):
    at = _page("rollouts")
    at.session_state["hades.run"] = runs_env["run"]
    at.run()
    _ok(at)
    inits = [w for w in at.number_input if w.label == "policies (inits)"][0]
    inits.set_value(2)
    at.button[[b.label for b in at.button].index("Train and evaluate")].click().run()
    _ok(at)
    assert "Mean return" in _all_text(at)
    assert len(at.get("plotly_chart")) == 1
    at.button(key="rollouts.render").click().run()
    _ok(at)
    assert at.get("video"), _all_text(at)
    media = Path(runs_env["root"]) / runs_env["run"] / "media"
    assert list(media.glob("*.mp4"))


# Runs ----------
def test_runs_table_overlay_diff_and_delete(runs_env):
    from dashboard import state

    n = len(state.store().list())
    at = _page("runs")
    at.run()
    _ok(at)
    assert f"{n} of {n} runs" in _all_text(at)
    at.text_input(key="runs.text").input("twin").run()
    assert f"2 of {n} runs" in _all_text(at)
    at.text_input(key="runs.text").input("").run()
    at.multiselect(key="runs.status").set_value(["running"]).run()
    assert f"1 of {n} runs" in _all_text(at)
    # Preselected runs: overlay (seeds grouped), config diff, files
    at = _page("runs")
    at.session_state["runs.compare"] = [runs_env["run"], runs_env["seed1"]]
    at.run()
    _ok(at)
    assert "2 selected" in [h.value for h in at.subheader]
    fig = at.get("plotly_chart")[0].proto.spec
    assert "mean of 2" in fig  # two seeds, one curve with a band
    diff = at.dataframe[1].value
    assert list(diff["field"]) == ["seed"]
    at.selectbox(key="runs.files_of").set_value(runs_env["run"]).run()
    labels = [b.proto.label for b in at.get("download_button")]
    assert {"dataset.npz", "config.json"} <= set(labels)
    at.button(key="runs.zip").click().run()
    _ok(at)
    labels = [b.proto.label for b in at.get("download_button")]
    assert "run.zip" in labels


def test_runs_helpers_on_seeded_store(runs_env):
    from dashboard import metrics as m
    from dashboard import state

    store = state.store()
    ids = [runs_env["run"], runs_env["seed1"]]
    cfgs = {i: store.read_config(i)["config"] for i in ids}
    assert {r["field"] for r in m.config_diff(cfgs)} == {"seed"}
    assert m.seed_group_key(cfgs[ids[0]]) == m.seed_group_key(cfgs[ids[1]])


def test_runs_delete_refuses_live_and_deletes_ended(runs_env, tmp_path):
    from dashboard import state
    from engine.runs import RunError

    with pytest.raises(RunError, match="stop it before deleting"):
        state.store().delete(runs_env["cli"])


# Import ----------
class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/hades-import-pwned",))


def test_import_hostile_file_is_refused_and_app_stays_up(runs_env, tmp_path):
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps({"state": _Evil(), "config": {}, "es_config": {}}))
    at = _page("import_page")
    at.run()
    at.text_input[0].input(str(evil))
    at.button[[b.label for b in at.button].index("Load")].click().run()
    _ok(at)
    errs = _texts(at, "error")
    assert errs and "system" in errs[0]
    assert not os.path.exists("/tmp/hades-import-pwned")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip at all")
    at.text_input[0].input(str(junk))
    at.button[[b.label for b in at.button].index("Load")].click().run()
    _ok(at)
    assert any("junk.npz" in e for e in _texts(at, "error"))
    at.text_input[0].input(str(tmp_path / "notes.txt"))
    at.button[[b.label for b in at.button].index("Load")].click().run()
    assert any("only .npz" in e for e in _texts(at, "error"))
    at.run()  # still up
    _ok(at)
    assert at.title[0].value == "Import"


def test_import_npz_then_view(runs_env, tmp_path):
    from dashboard import state

    ds_path = Path(runs_env["root"]) / runs_env["run"] / "dataset.npz"
    at = _page("import_page")
    at.run()
    at.text_input[0].input(str(ds_path))
    at.button[[b.label for b in at.button].index("Load")].click().run()
    _ok(at)
    assert not _texts(at, "error")
    assert at.session_state["hades.source"].startswith("import:")
    assert "Heatmap" in [t.label for t in at.tabs]
    assert list(state.imports_dir().glob("dataset-*.npz"))


def test_import_paper_pickle_if_available(runs_env):
    from conftest import REFERENCE

    path = REFERENCE / "datasets" / "brax-hopper-D4-constnorm-hadesR-seed0.pkl"
    if not path.exists():
        pytest.skip(f"reference data not available: {path}")
    at = _page("import_page")
    at.run()
    at.text_input[0].input(str(path))
    at.button[[b.label for b in at.button].index("Load")].click().run()
    _ok(at)
    assert not _texts(at, "error")
    assert at.selectbox(key="import.pick").value.endswith(".npz")
    assert "brax-hopper-D4" in at.selectbox(key="import.pick").value
    assert "**environment** hopper" in _all_text(at), _all_text(at)


# Demo ----------
def test_demo_page_every_item(runs_env):
    at = _page("demo")
    at.run()
    _ok(at)
    items = at.get("button_group")[0].proto.options
    assert len(items) == 3
    for key in ("cartpole", "breakout", "hopper"):
        at.session_state["demo.item"] = key
        at.session_state["demo.tab"] = "Curves"
        at.run()
        _ok(at)
        assert len(at.get("plotly_chart")) >= 2
        at.session_state["demo.tab"] = "Dataset"
        at.run()
        _ok(at)
        assert at.get("image"), key  # drawn states, or the pre-rendered figure
        at.session_state["demo.ds.tab"] = "Over generations"
        at.run()
        _ok(at)
        assert json.loads(at.get("plotly_chart")[0].proto.spec)["frames"]
        at.session_state["demo.ds.tab"] = "Pictures"
        at.session_state["demo.tab"] = "Rollout"
        at.run()
        _ok(at)
        assert at.get("video"), key


def test_demo_page_computes_nothing(tmp_path):
    """In a fresh interpreter the Demo page never imports JAX."""
    code = (
        "import sys\n"
        "from streamlit.testing.v1 import AppTest\n"
        f"at = AppTest.from_file({str(PAGES / 'demo.py')!r}, default_timeout=60)\n"
        "for item in ('cartpole', 'breakout', 'hopper'):\n"
        "    at.session_state['demo.item'] = item\n"
        "    at.run()\n"
        "    assert not at.exception, at.exception\n"
        "print('jax' in sys.modules, 'brax' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HADES_RUNS": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "False False"
