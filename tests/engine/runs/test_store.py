"""Run store (engine/runs): layout round trip, index queries and rebuild, CLI,
launch checks, one writer per run, and torn-line-free metrics reads."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT

from engine import presets
from engine.config import HadesConfig
from engine.outer import METRIC_NAMES
from engine.runs import RunError, Runner, RunStore, default_root
from engine.runs import cli as runs_cli
from engine.runs import store as store_mod
from engine.runs.lock import RunLock, read_lock
from engine.runs.store import append_lines

REPO = ROOT
TINY = {
    "outer.population": 8, "outer.generations": 10000, "outer.chunk": 2,
    "inner.steps": 10, "inner.width": 16, "fitness.num_steps": 50,
    "fitness.num_envs": 2, "outer.eval_every": 2,
}  # fmt: skip


def tiny_cfg(extra=None, env="CartPole-v1"):
    """The tests' config: runs are bounded with run(generations=...)."""
    return presets.make("quick", env, 4, 0).with_overrides({**TINY, **(extra or {})})


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    runner = Runner.create(tiny_cfg(), root=root, name="first")
    events = []
    summary = runner.run(progress_fn=events.append, generations=6)
    return root, runner, summary, events


def test_default_root(monkeypatch, tmp_path):
    monkeypatch.setenv("HADES_HOME", str(tmp_path))
    assert default_root() == tmp_path / "runs"
    monkeypatch.delenv("HADES_HOME")
    assert default_root() == Path("~/.hades/runs").expanduser()


def test_store_round_trip(finished):
    root, runner, summary, events = finished
    store = RunStore(root)
    run_dir = root / runner.run_id
    assert summary["status"] == "finished" and summary["generations"] == 6
    assert set(summary) >= {
        "run_dir",
        "run_id",
        "generations",
        "best_fitness",
        "mean_dataset_return",
        "seconds",
        "status",
    }
    # Run id is generated, the name only a label
    assert "first" not in runner.run_id
    assert store.resolve(runner.run_id[:17]) == run_dir
    assert store.resolve("first") == run_dir
    assert store.resolve(str(run_dir)) == run_dir.resolve()
    # config.json: frozen config, versions, devices, seed
    meta = json.loads((run_dir / "config.json").read_text())
    assert HadesConfig.from_dict(meta["config"]) == tiny_cfg()
    assert meta["seed"] == 0 and meta["name"] == "first" and meta["parent"] is None
    assert "jax" in meta["versions"] and meta["devices"]["backend"] == "cpu"
    # status.json
    st = store.read_status(runner.run_id)
    assert st["status"] == "finished" and st["generation"] == 6
    assert not st["alive"] and st["best_fitness"] == summary["best_fitness"]
    # metrics.jsonl: generation rows and event rows
    rows = store.read_metrics(runner.run_id)
    gens = [r for r in rows if "event" not in r]
    assert [r["generation"] for r in gens] == [1, 2, 3, 4, 5, 6]
    for r in gens:
        assert set(METRIC_NAMES) <= set(r)
        assert r["seconds_per_generation"] > 0 and r["time"] > 0
    assert [r["generation"] for r in gens if "mean_dataset_return" in r] == [2, 4, 6]
    assert [r["event"] for r in rows if "event" in r] == ["start", "finish"]
    assert store.read_metrics(runner.run_id, since_line=len(rows) - 1) == rows[-1:]
    # checkpoints: no pickle, ES state + key + generation
    ckpts = store.checkpoints(runner.run_id)
    assert [g for g, _ in ckpts] == [2, 4, 6]
    with np.load(ckpts[-1][1], allow_pickle=False) as z:
        assert {"state/mean", "generation", "run_key", "meta"} <= set(z.files)
        assert int(z["generation"]) == 6
    # dataset.npz == the ES mean rebuilt from the last checkpoint
    ds = store.load_dataset(runner.run_id)
    ds6 = store.load_dataset(runner.run_id, generation=6)
    assert np.array_equal(ds.states, ds6.states)
    assert ds.meta["run_id"] == runner.run_id and ds.meta["generation"] == 6
    with pytest.raises(RunError, match="keeps no dataset of generation 5"):
        store.load_dataset(runner.run_id, generation=5)
    assert (run_dir / "media").is_dir() and not (run_dir / "lock").exists()
    info = store.get(runner.run_id)
    assert info["checkpoints"] == [2, 4, 6] and info["has_dataset"]
    # progress events
    chunk_events = [e for e in events if e["kind"] == "chunk"]
    assert [e["generation"] for e in chunk_events] == [2, 4, 6]
    for e in events:
        assert set(e) >= {
            "status",
            "generation",
            "total_generations",
            "metrics",
            "mean_dataset_return",
            "seconds_per_generation",
            "eta_seconds",
            "compile_seconds",
            "compiled",
        }
    assert events[-1]["status"] == "finished"


def test_index_queries_and_rebuild(finished):
    root, runner, _, _ = finished
    store = RunStore(root)
    other = Runner.create(tiny_cfg(env="Acrobot-v1"), root=root, name="acro")
    other.reserve()
    other.cancel("never run")  # status stopped
    all_rows = store.list()
    assert {r["id"] for r in all_rows} >= {runner.run_id, other.run_id}
    assert [r["id"] for r in store.list(env="Acrobot-v1")] == [other.run_id]
    assert [r["id"] for r in store.list(status="finished")] == [runner.run_id]
    by_fit = store.list(sort="best_fitness")
    assert by_fit[0]["id"] == runner.run_id and by_fit[-1]["best_fitness"] is None
    row = store.list(env="CartPole-v1")[0]
    assert row["strategy"] == "Open_ES" and row["population"] == 8
    assert row["size"] == 4 and row["seed"] == 0 and row["status"] == "finished"
    assert row["mean_dataset_return"] == finished[2]["mean_dataset_return"]
    with pytest.raises(RunError, match="sort"):
        store.list(sort="nope")
    # Rebuild: drop the index, then reindex gives the same table
    keys = ("id", "name", "env", "status", "best_fitness", "mean_dataset_return")
    before = sorted(tuple(r[k] for k in keys) for r in store.list())
    for p in root.glob("index.sqlite*"):
        p.unlink()
    assert store.reindex() == len(before)
    assert sorted(tuple(r[k] for k in keys) for r in store.list()) == before
    # A directory the index does not know yet is picked up by list()
    store.index.delete(other.run_id)
    assert other.run_id in {r["id"] for r in store.list()}
    store.delete(other.run_id)
    assert other.run_id not in {r["id"] for r in store.list()}
    assert not (root / other.run_id).exists()


def test_cli_commands(finished, tmp_path, capsys):
    root, runner, _, _ = finished
    rid = runner.run_id
    assert runs_cli.main(["runs", "list", "--json", "--runs", str(root)]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert rid in [r["id"] for r in listed]
    assert runs_cli.main(["runs", "list", "--runs", str(root)]) == 0
    assert rid in capsys.readouterr().out
    assert runs_cli.main(["runs", "show", rid[:17], "--runs", str(root)]) == 0
    assert "finished" in capsys.readouterr().out
    assert runs_cli.main(["runs", "show", rid, "--json", "--runs", str(root)]) == 0
    assert json.loads(capsys.readouterr().out)["status"]["status"] == "finished"
    out = tmp_path / "run.zip"
    assert (
        runs_cli.main(["runs", "export", rid, "--out", str(out), "--runs", str(root)])
        == 0
    )
    names = set(zipfile.ZipFile(out).namelist())
    assert {
        f"{rid}/config.json",
        f"{rid}/metrics.jsonl",
        f"{rid}/dataset.npz",
        f"{rid}/status.json",
        f"{rid}/checkpoints/ckpt_00000006.npz",
    } <= names
    assert f"{rid}/checkpoints/ckpt_00000002.npz" not in names  # last only
    assert runs_cli.main(["runs", "reindex", "--runs", str(root)]) == 0
    assert runs_cli.main(["runs", "show", "nope", "--runs", str(root)]) == 2
    assert "no run" in capsys.readouterr().err
    spare = Runner.create(tiny_cfg(), root=root)
    spare.reserve()
    spare.cancel()
    assert runs_cli.main(["runs", "delete", spare.run_id, "--runs", str(root)]) == 0
    assert not spare.run_dir.exists()


def test_launch_checks_unwritable_and_full(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(RunError, match="cannot be created"):
        Runner.create(tiny_cfg(), root=blocker / "runs")
    root = tmp_path / "runs"

    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(store_mod.os, "fsync", no_space)
        with pytest.raises(RunError, match="is full"):
            Runner.create(tiny_cfg(), root=root)
    with monkeypatch.context() as m:
        usage = store_mod.shutil.disk_usage(tmp_path)._replace(free=1024)
        m.setattr(store_mod.shutil, "disk_usage", lambda p: usage)
        with pytest.raises(RunError, match="MiB free"):
            Runner.create(tiny_cfg(), root=root)
    assert RunStore(root).list() == []  # nothing half-created
    # A resume checks again before it touches the run
    runner = Runner.create(tiny_cfg(), root=root)
    with monkeypatch.context() as m:
        usage = store_mod.shutil.disk_usage(tmp_path)._replace(free=1024)
        m.setattr(store_mod.shutil, "disk_usage", lambda p: usage)
        with pytest.raises(RunError, match="MiB free"):
            Runner.open(runner.run_id, root=root).run(generations=2)
    assert RunStore(root).read_status(runner.run_id)["recorded_status"] == "queued"


def test_second_writer_refused(tmp_path):
    runner = Runner.create(tiny_cfg(), root=tmp_path)
    # Another thread of this process holds it
    with RunLock(runner.run_dir), pytest.raises(RunError, match="second writer"):
        Runner.open(runner.run_id, root=tmp_path).run(generations=2)
    # Another process holds it
    code = (
        "import sys, time\nfrom engine.runs.lock import RunLock\n"
        "RunLock(sys.argv[1]).acquire()\nprint('locked', flush=True)\n"
        "time.sleep(120)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(runner.run_dir)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(RunError, match=f"pid {proc.pid}"):
            Runner.open(runner.run_id, root=tmp_path).run(generations=2)
    finally:
        proc.kill()
        proc.wait()
    # Its lock is now stale: detected, reported, taken over
    assert read_lock(runner.run_dir)["pid"] == proc.pid
    lock = RunLock(runner.run_dir).acquire()
    assert lock.stale["pid"] == proc.pid
    lock.release()
    assert not (runner.run_dir / "lock").exists()


def test_readers_never_see_torn_lines(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.touch()
    n_rows = 400
    rng = np.random.default_rng(0)
    sizes = rng.integers(1, 40000, n_rows)
    errors, seen = [], [0, 0]
    done = threading.Event()

    def writer():
        for i in range(0, n_rows, 4):
            append_lines(
                path,
                [
                    {"i": j, "n": int(sizes[j]), "pad": "x" * int(sizes[j])}
                    for j in range(i, i + 4)
                ],
            )
        done.set()

    def reader(k):
        last = 0
        while True:
            finished = done.is_set()
            try:
                rows = store_mod.read_metrics_file(path)
            except Exception as e:  # a torn line that breaks parsing
                errors.append((k, repr(e)))
                return
            for j, r in enumerate(rows):
                if r.get("i") != j or len(r.get("pad", "")) != r.get("n"):
                    errors.append((k, j, str(r)[:80]))
                    return
            if len(rows) < last:
                errors.append((k, "shrank"))
                return
            last = len(rows)
            seen[k] += 1
            if finished:
                if len(rows) != n_rows:
                    errors.append((k, "missing rows", len(rows)))
                return

    threads = [threading.Thread(target=reader, args=(k,)) for k in (0, 1)]
    threads.append(threading.Thread(target=writer))
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert min(seen) > 1
    # A torn tail (writer killed mid-line) is never returned
    with open(path, "ab") as f:
        f.write(b'{"i": 400, "n": 3, "pad": "xx')
    assert len(store_mod.read_metrics_file(path)) == n_rows
