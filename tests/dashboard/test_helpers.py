"""Dashboard helpers without a browser or an app run: metrics, charts, forms,
uploads (hostile files included), sources and the shared state."""

from __future__ import annotations

import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from dashboard import charts, forms, sources, tables, uploads
from dashboard import metrics as m
from engine import presets
from engine.dataset import Dataset, save

ROWS = [
    {"event": "start", "generation": 0, "time": 0.0},
    *[
        {
            "generation": g,
            "fitness_mean": float(g),
            "fitness_max": 2.0 * g,
            "best_fitness": 2.0 * g,
            "sigma": 0.1 if g <= 600 else 0.3,
            "lr": 0.05 if g <= 600 else 0.2,
            "bc_loss": 1.0 / g,
            "seconds_per_generation": 0.1,
            "compiled": g <= 5,
            "time": float(g),
            **({"mean_dataset_return": 3.0 * g} if g % 10 == 0 else {}),
        }
        for g in range(1, 1201)
    ],
]
ROWS.insert(
    601,
    {
        "event": "control",
        "generation": 600,
        "lr": 0.2,
        "sigma": 0.3,
        "previous": {"lr": 0.05, "sigma": 0.1},
        "time": 600.0,
    },
)
ROWS.append({"event": "pause", "generation": 1200, "time": 1.0})


def test_split_and_downsample_keep_ends():
    gens, events = m.split_rows(ROWS)
    assert len(gens) == 1200 and [e["event"] for e in events] == [
        "start",
        "control",
        "pause",
    ]
    small = m.downsample(gens, 500)
    assert len(small) <= 500
    assert small[0]["generation"] == 1 and small[-1]["generation"] == 1200
    assert m.downsample(gens[:10], 500) == gens[:10]


def test_control_changes_describe_live_tuning():
    _, events = m.split_rows(ROWS)
    (c,) = m.control_changes(events)
    assert c["generation"] == 600
    assert "lr 0.05 \u2192 0.2" in c["text"] and "sigma 0.1 \u2192 0.3" in c["text"]
    rejected = m.control_changes(
        [{"event": "control", "generation": 3, "rejected": {"temperature": "no"}}]
    )
    assert "temperature rejected" in rejected[0]["text"]
    marks = m.lifecycle_marks(events)
    assert [x["text"] for x in marks] == ["paused"]
    both = m.lifecycle_marks(
        [{"event": "pause", "generation": 15}, {"event": "unpause", "generation": 15}]
    )
    assert both == [{"generation": 15, "text": "paused, resumed"}]


def test_summary_and_formatting():
    gens, _ = m.split_rows(ROWS)
    s = m.summary(
        {"status": "running", "generation": 1200, "total_generations": 2000}, gens
    )
    assert s["generation"] == 1200 and s["best_fitness"] == 2400.0
    assert s["mean_dataset_return"] == 3600.0
    assert s["eta_seconds"] == pytest.approx(80.0)  # 800 generations x 0.1 s
    assert m.fmt_seconds(0.24) == "0.24 s" and m.fmt_seconds(185) == "3 min 05 s"
    assert m.fmt_num(None) == "\u2014" and m.fmt_num(5.6e-6, 2) == "5.6e-06"


def test_fitness_figure_is_downsampled_with_uirevision_and_marks():
    gens, events = m.split_rows(ROWS)
    fig = charts.fitness_figure(gens, events, uirevision="run-x")
    assert fig.layout.uirevision == "run-x"
    names = [t.name for t in fig.data]
    assert names == ["population mean", "population max", "best so far", "mean dataset"]
    assert all(len(t.x) <= m.MAX_POINTS for t in fig.data)
    texts = [a.text for a in fig.layout.annotations]
    assert any("lr 0.05" in t for t in texts) and "paused" in texts
    diag = charts.diagnostics_figure(gens, events, uirevision="d")
    assert diag.layout.uirevision == "d"
    assert all(len(t.x) <= m.MAX_POINTS for t in diag.data)


def test_overlay_mean_and_spread():
    a = ([1, 2, 3], [1.0, 2.0, 3.0])
    b = ([1, 2, 3], [3.0, 4.0, 5.0])
    gens, mean, low, high, count = m.aggregate([a, b])
    assert gens == [1, 2, 3] and mean == [2.0, 3.0, 4.0]
    assert low == [1.0, 2.0, 3.0] and high == [3.0, 4.0, 5.0] and count == [2, 2, 2]
    fig = charts.overlay_figure([("two seeds", [a, b]), ("one", [a])])
    assert sum(1 for t in fig.data if t.fill == "tonexty") == 1  # band: 2 runs only
    assert fig.data[2].name == "two seeds (mean of 2)"


def test_config_diff_and_seed_groups():
    c0 = presets.make("quick", "CartPole-v1", 4, 0).to_dict()
    c1 = presets.make("quick", "CartPole-v1", 4, 1).to_dict()
    c2 = presets.make("quick", "CartPole-v1", 8, 0).to_dict()
    rows = m.config_diff({"a": c0, "b": c1, "c": c2})
    fields = {r["field"] for r in rows}
    assert fields == {"seed", "dataset.size"}
    assert len(m.config_diff({"a": c0, "b": c1}, only_differences=False)) > 20
    assert m.seed_group_key(c0) == m.seed_group_key(c1) != m.seed_group_key(c2)


def test_forms_validate_reports_engine_messages_per_field():
    base = presets.make("quick", "CartPole-v1", 4, 0)
    cfg, errors = forms.validate(base, {"outer.population": 63, "inner.width": 0})
    assert cfg is None
    assert "must be even with antithetic" in errors["outer.population"]
    assert errors["inner.width"].startswith("inner.width=0 is invalid")
    cfg, errors = forms.validate(base, {"outer.population": 32, "inner.lr": 0.01})
    assert errors == {} and cfg.outer.population == 32 and cfg.inner.lr == 0.01
    _, errors = forms.validate(base, {"outer.sigma": -1.0})
    assert "outer.sigma" in errors
    assert forms.changed(base, {"outer.population": 64, "inner.width": 32}) == {
        "inner.width": 32
    }
    assert forms.help_text("outer.sigma").startswith("Initial search standard")
    assert forms.float_step(0.05) == pytest.approx(0.01)


# Uploads ----------
def _dataset(env="CartPole-v1", n=4):
    rng = np.random.default_rng(0)
    return Dataset(
        env,
        rng.normal(size=(n, 4)).astype(np.float32),
        np.arange(n, dtype=np.int32) % 2,
        "onehot",
    )


class _Evil:
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned > /tmp/hades-dashboard-pwned",))


def test_upload_valid_npz_roundtrip(tmp_path):
    path = save(_dataset(), tmp_path / "ds.npz")
    data = Path(path).read_bytes()
    ds, notes = uploads.load_bytes("my data.npz", data)
    assert ds.env == "CartPole-v1" and ds.size == 4 and notes == []
    assert ds.meta["file"] == "my data.npz"
    p1 = uploads.save_import(
        ds, tmp_path / "imports", "my data.npz", uploads.digest(data)
    )
    p2 = uploads.save_import(
        ds, tmp_path / "imports", "my data.npz", uploads.digest(data)
    )
    assert p1 == p2 and p1.name.startswith("my-data-")
    src = sources.import_sources(tmp_path / "imports")[0]
    assert sources.load(src).size == 4 and sources.snapshots(src) == [0]


def test_upload_hostile_and_malformed_files(tmp_path):
    evil = pickle.dumps({"state": _Evil(), "config": {}, "es_config": {}})
    with pytest.raises(uploads.UploadError, match="posix.system|os.system|system"):
        uploads.load_bytes("evil.pkl", evil)
    assert not (tmp_path / "pwned").exists()
    import os

    assert not os.path.exists("/tmp/hades-dashboard-pwned")
    with pytest.raises(uploads.UploadError, match="not a readable|not a HaDES"):
        uploads.load_bytes("junk.npz", b"PK\x03\x04 this is not a zip")
    with pytest.raises(uploads.UploadError, match="only .npz"):
        uploads.load_bytes("script.py", b"print('hi')")
    with pytest.raises(uploads.UploadError, match="empty"):
        uploads.load_bytes("empty.npz", b"")
    with pytest.raises(uploads.UploadError, match="limit"):
        uploads.load_bytes("big.npz", b"0" * (uploads.MAX_UPLOAD_BYTES + 1))
    # An npz that hides a pickled object array is refused (allow_pickle=False)
    obj = tmp_path / "obj.npz"
    np.savez(
        obj,
        states=np.array([{"a": 1}], dtype=object),
        labels=np.zeros(1),
        meta=np.array("{}"),
    )
    with pytest.raises(uploads.UploadError):
        uploads.load_bytes("obj.npz", obj.read_bytes())
    # A zip bomb-like npz with the wrong members
    zpath = tmp_path / "z.npz"
    with zipfile.ZipFile(zpath, "w") as z:
        z.writestr("other.npy", b"\x93NUMPY" + b"\0" * 100)
    with pytest.raises(uploads.UploadError):
        uploads.load_bytes("z.npz", zpath.read_bytes())
    assert uploads.safe_name("../../etc/passwd.npz") == "passwd"


def test_tables_and_heatmap_inputs():
    ds = _dataset()
    cols = tables.dataset_table(ds)
    assert cols["pair"] == [0, 1, 2, 3]
    assert cols["label"] == ["push left", "push right", "push left", "push right"]
    assert "theta" in cols
    assert tables.label_matrix(ds).shape == (4, 2)
    values, note = tables.state_matrix(ds, raw=True)
    assert values.shape == (4, 4) and "raw" in note
    fig = charts.states_heatmap(
        values,
        tables.feature_names(ds),
        tables.label_matrix(ds),
        tables.label_names(ds),
    )
    assert list(fig.data[0].x) == ["x", "x_dot", "theta", "theta_dot"]


def test_demo_assets_are_small_and_complete():
    DEMO_DIR = sources.demo_dir()

    manifest = sources.demo_manifest(DEMO_DIR)
    items = manifest.get("items") or {}
    assert {"cartpole", "breakout", "hopper"} <= set(items)
    total = sum(f.stat().st_size for f in DEMO_DIR.rglob("*") if f.is_file())
    assert total < 5 * 2**20
    for item in items.values():
        d = DEMO_DIR / item["dir"]
        for f in (
            "config.json",
            "status.json",
            "metrics.jsonl",
            "dataset.npz",
            "eval.json",
            "rollout.mp4",
        ):
            assert (d / f).is_file(), d / f
        assert (d / "rollout.mp4").stat().st_size < 2**20
        src = sources.Source("demo", str(d))
        gens = sources.snapshots(src)
        assert len(gens) >= 2
        ds = sources.load(src, gens[0])
        assert ds.env == item["env"]
        assert json.loads((d / "eval.json").read_text())["inits"] >= 2
    assert (DEMO_DIR / items["hopper"]["dir"] / "states.png").is_file()


def test_manager_is_one_per_root(tmp_path, monkeypatch):
    from dashboard import state

    monkeypatch.setenv("HADES_RUNS", str(tmp_path / "a"))
    m1 = state.manager()
    assert state.manager() is m1 and state.store().root == tmp_path / "a"
    monkeypatch.setenv("HADES_RUNS", str(tmp_path / "b"))
    assert state.manager() is not m1
    monkeypatch.delenv("HADES_RUNS")
    from engine.runs import default_root

    assert state.runs_root() == default_root()


def test_background_compute_yields_cpu_to_the_ui():
    import os
    import threading

    from dashboard import state

    if not hasattr(os, "setpriority"):
        pytest.skip("no per-thread priorities on this system")
    seen = {}

    def job():
        state.yield_cpu_to_ui({"kind": "status"})
        seen["nice"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    t = threading.Thread(target=job)
    t.start()
    t.join()
    assert seen["nice"] >= state.COMPUTE_NICE
    # The calling (UI) thread keeps its priority
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) < (
        state.COMPUTE_NICE
    )


def test_live_polling_follows_the_chunk_time():
    assert m.poll_seconds({"status": "compiling"}, 5, lo=2.0) == 2.0
    running = {"status": "running", "seconds_per_generation": 0.25}
    assert m.poll_seconds(running, 5, lo=1.0) == pytest.approx(1.25)
    assert m.poll_seconds(running, 5, lo=2.0) == 2.0
    slow = {"status": "running", "seconds_per_generation": 8.0}
    assert m.poll_seconds(slow, 2, lo=2.0, hi=5.0) == 5.0  # < 1 generation behind


def test_compute_nice_setting(monkeypatch):
    """HADES_COMPUTE_NICE=0 leaves the compute threads' priority alone; a bad
    value falls back to the default."""
    import os
    import threading

    from dashboard import state

    if not hasattr(os, "setpriority"):
        pytest.skip("no per-thread priorities on this system")
    monkeypatch.setenv("HADES_COMPUTE_NICE", "oops")
    assert state.compute_nice() == state.COMPUTE_NICE
    monkeypatch.setenv("HADES_COMPUTE_NICE", "0")
    seen = {}

    def job():
        before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        state.yield_cpu_to_ui({"kind": "status"})
        seen["same"] = before == os.getpriority(
            os.PRIO_PROCESS, threading.get_native_id()
        )

    t = threading.Thread(target=job)
    t.start()
    t.join()
    assert seen["same"]
