"""`hades control` against a run that another process executes, through the store."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import pytest

from engine.runs import RunStore
from engine.runs.checkpoint import list_checkpoints
from engine.runs.runner import write_config_file
from tests.conftest import tiny_cartpole

ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def hades(*args, root, check_rc: int | None = 0) -> subprocess.CompletedProcess:
    out = subprocess.run(
        [sys.executable, "-m", "engine.cli", *args, "--runs", str(root)],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
    )
    if check_rc is not None:
        assert out.returncode == check_rc, out.stdout + out.stderr
    return out


def _wait(pred, timeout: float = 120.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return False


def _gen_rows(store, run_id):
    return [r for r in store.read_metrics(run_id) if "event" not in r]


@pytest.fixture
def long_run(tmp_path):
    """A `hades distill`-like process (the worker module) running a long config."""
    cfg = tmp_path / "cfg.json"
    write_config_file(tiny_cartpole(**{"outer.generations": 100000}), cfg)
    root = tmp_path / "runs"
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine.runs.worker", str(cfg), str(root), "--quiet"],
        stdout=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    run_id = proc.stdout.readline().split()[1]
    store = RunStore(root)
    assert _wait(lambda: store.read_status(run_id).get("generation", 0) >= 2)
    yield proc, store, run_id
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_control_set_pause_continue_stop_then_resume(long_run):
    proc, store, run_id = long_run
    root = store.root
    out = hades("control", run_id, "set", "lr=0.02", "sigma=0.05", root=root)
    assert "applied lr=0.02 sigma=0.05" in out.stdout  # what the run acknowledged
    assert _wait(
        lambda: any(r["lr"] == pytest.approx(0.02) for r in _gen_rows(store, run_id))
    )
    assert all(
        r["sigma"] == pytest.approx(0.05)
        for r in _gen_rows(store, run_id)
        if r["lr"] == pytest.approx(0.02)
    )
    out = hades("control", run_id, "pause", root=root)
    assert "paused" in out.stdout
    st = store.read_status(run_id)
    assert st["status"] == "paused" and st["alive"]
    n = len(_gen_rows(store, run_id))
    time.sleep(1.0)
    assert len(_gen_rows(store, run_id)) == n  # nothing computes while paused
    # The heartbeat goes on while paused (every `heartbeat_interval`, 2 s)
    assert _wait(lambda: store.read_status(run_id)["heartbeat"] > st["heartbeat"], 10)
    assert len(_gen_rows(store, run_id)) == n
    out = hades("control", run_id, "continue", root=root)
    assert "running" in out.stdout
    assert _wait(lambda: len(_gen_rows(store, run_id)) > n)
    out = hades("control", run_id, "stop", root=root)
    assert proc.wait(timeout=120) == 0
    st = store.read_status(run_id)
    assert st["status"] == "stopped" and st["checkpoint_generation"] == st["generation"]
    gen = st["generation"]
    # The stopped run continues from its checkpoint (to a total a bit further on)
    out = hades("resume", run_id, "--generations", str(gen + 2), "--json", root=root)
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["status"] == "finished" and summary["generations"] == gen + 2
    resumed = [r for r in store.read_metrics(run_id) if r.get("event") == "resume"]
    assert resumed[-1]["generation"] == gen and resumed[-1]["from"] == "checkpoint"


def test_control_bad_input_leaves_the_run_untouched(long_run):
    proc, store, run_id = long_run
    root = store.root
    before = store.read_config(run_id)
    for args, words in (
        (("set", "foo=1"), "unknown knob foo"),
        (("set", "lr=nan"), "must be finite"),
        (("set", "lr=inf"), "must be finite"),
        (("set", "sigma=-0.1"), "must be finite and > 0"),
        (("set", "lr"), "use knob=value"),
        (("set", "temperature=2"), "SNES only"),
        (("set",), "needs knob=value"),
        (("pause", "lr=1"), "takes no values"),
    ):
        out = hades("control", run_id, *args, root=root, check_rc=2)
        assert words in out.stderr, (args, out.stderr)
        assert (
            len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
        )
    out = hades("control", run_id, "jump", root=root, check_rc=2)  # argparse
    assert "invalid choice" in out.stderr
    assert not (store.resolve(run_id) / "control.json").exists()  # nothing sent
    assert store.read_config(run_id) == before
    st = store.read_status(run_id)
    assert st["status"] == "running" and st["lr"] == pytest.approx(0.05)
    # SIGTERM stops it at the next chunk boundary, like `hades control RUN stop`.
    proc.terminate()
    assert proc.wait(timeout=120) == 130
    st = store.read_status(run_id)
    assert st["status"] == "stopped" and st["message"] == "interrupted", st
    ckpts = list_checkpoints(store.resolve(run_id) / "checkpoints")
    assert ckpts and ckpts[-1][0] == st["generation"]  # a checkpoint where it stopped


def test_control_refuses_finished_missing_and_corrupt_runs(tmp_path, tiny_cfg):
    from engine.runs import Runner

    root = tmp_path / "runs"
    runner = Runner.create(tiny_cfg, root=root)
    assert runner.run()["status"] == "finished"
    out = hades("control", runner.run_id, "pause", root=root, check_rc=2)
    assert "is not active (finished)" in out.stderr and "Traceback" not in out.stderr
    out = hades("control", "no-such-run", "stop", root=root, check_rc=2)
    assert "no-such-run" in out.stderr and len(out.stderr.splitlines()) == 1
    corrupt = Runner.create(tiny_cfg, root=root)
    (corrupt.run_dir / "status.json").write_text("{not json")
    out = hades("control", corrupt.run_id, "stop", root=root, check_rc=2)
    assert "is not active" in out.stderr and "unreadable" in out.stderr
    assert not (corrupt.run_dir / "control.json").exists()


def test_stale_lock_of_another_host_is_taken_over_by_heartbeat(tmp_path, tiny_cfg):
    """A run executed on another machine (sharing the runs folder) whose heartbeat
    stopped: its lock is stale after the stated age; a fresh one is never taken."""
    from engine.runs import Runner
    from engine.runs.store import read_json, write_json

    root = tmp_path / "runs"
    runner = Runner.create(tiny_cfg, root=root, stale_min=30.0)
    assert runner.run(generations=2)["status"] == "finished"
    assert socket.gethostname() != "gpu-box-7"
    lock = {"pid": 4242, "host": "gpu-box-7", "start_time": 1, "acquired": time.time()}
    (runner.run_dir / "lock").write_text(json.dumps(lock))
    st = read_json(runner.run_dir / "status.json")
    st.update(status="running", host="gpu-box-7", pid=4242, chunk_seconds=0.5)
    st.update(heartbeat=time.time() - 5, stale_min=30.0)  # fresh: alive
    write_json(runner.run_dir / "status.json", st)
    assert RunStore(root).read_status(runner.run_id)["alive"]
    out = hades("resume", runner.run_id, "--generations", "4", root=root, check_rc=2)
    assert "being written by pid 4242 on gpu-box-7" in out.stderr
    st.update(heartbeat=time.time() - 120)  # silent for 120 s > max(10 x 0.5, 30)
    write_json(runner.run_dir / "status.json", st)
    assert not RunStore(root).read_status(runner.run_id)["alive"]
    out = hades("resume", runner.run_id, "--generations", "4", root=root)
    assert "took over run" in out.stderr and "pid 4242 on gpu-box-7" in out.stderr
    assert "heartbeat is 12" in out.stderr and "30 s" in out.stderr
    assert RunStore(root).read_status(runner.run_id)["status"] == "finished"


def test_importing_the_engine_changes_no_environment_variable():
    code = (
        "import os; a=dict(os.environ); import engine.outer, engine.runs; "
        "print(a == dict(os.environ))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "True", out.stderr
