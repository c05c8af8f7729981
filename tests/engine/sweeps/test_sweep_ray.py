"""`hades sweep` on a real local Ray instance (127.0.0.1 only, 2 CPUs): a worker
killed with -9 mid-run is retried and resumes, and the datasets equal those of the
same runs executed one after another; Ctrl-C of the driver, then `hades sweep
resume`, redoes nothing that had finished; bad input creates nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from engine.runs import RunStore
from engine.sweeps import record
from tests.conftest import ROOT

# One local Ray instance at a time: under `pytest -n 2` these share one worker.
pytestmark = pytest.mark.xdist_group("ray")

pytest.importorskip("ray", reason="Ray is in the test extra: pip install -e .[test]")

TINY = [
    "--set", "outer.population=8",
    "--set", "outer.chunk=2",
    "--set", "outer.eval_every=2",
    "--set", "inner.width=16",
    "--set", "inner.steps=10",
    "--set", "fitness.num_envs=2",
    "--set", "fitness.num_steps=50",
]  # fmt: skip
GENS = 40  # long enough to catch a run mid-way after its compilation
RAY = ["--ray", "local", "--local-cpus", "2", "--cpus-per-run", "1"]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """The CLI's environment: this checkout first on the path (Ray workers import
    it too), one CPU device per run (the Ray tasks claim one CPU each, and the
    one-after-another reference must use as many devices: a result depends on the
    device count in its last bits), a compilation cache shared by the tests."""
    cache = tmp_path_factory.mktemp("jax-cache")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
        "HADES_JAX_CACHE": str(cache),
        "HADES_CPU_DEVICES": "1",
    }
    # This test process ran engine.setup(): its XLA_FLAGS (a device per core)
    # would win over HADES_CPU_DEVICES in the CLI processes
    env.pop("XLA_FLAGS", None)
    return env


def hades(env, *args, root, rc: int | None = 0, timeout=600):
    out = subprocess.run(
        [sys.executable, "-m", "engine.cli", *args, "--runs", str(root)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    if rc is not None:
        assert out.returncode == rc, out.stdout + out.stderr
    return out


def last_json(out) -> dict:
    return json.loads(out.stdout.strip().splitlines()[-1])


def datasets_by_slot(root: Path, sweep_id: str) -> dict[str, dict]:
    """{slot: {"states", "labels" arrays, "mean_dataset_return"}} of a sweep."""
    store = RunStore(root)
    out = {}
    for p in record.load(store, sweep_id).points:
        ds = store.load_dataset(p["run_id"])
        out[p["slot"]] = {
            "states": np.asarray(ds.states),
            "labels": np.asarray(ds.labels),
            "mean_dataset_return": ds.meta["mean_dataset_return"],
        }
    return out


def wait_for(pred, timeout=400.0, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = pred()
        if got:
            return got
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"the sweep ended early ({proc.returncode}): {err}")
        time.sleep(0.1)
    raise AssertionError("timed out")


def sweep_of(root: Path) -> record.Sweep | None:
    sweeps = record.list_sweeps(RunStore(root))
    if sweeps and all(p.get("run_id") for p in sweeps[0].points):
        return sweeps[0]
    return None


def test_killed_worker_is_retried_and_results_equal_one_after_another(env, tmp_path):
    root = tmp_path / "ray"
    grid = ["sweep", "--env", "CartPole-v1", "--size", "4", "--seeds", "0-3"]
    long = [*TINY, "--set", f"outer.generations={GENS}"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", *grid, *long, *RAY, "--json"]
        + ["--runs", str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        sweep = wait_for(lambda: sweep_of(root), proc=proc)
        store = RunStore(root)

        def mid_run():
            for rid in sweep.run_ids:
                st = store.read_status(rid)
                if (
                    st.get("status") == "running"
                    and 2 <= st.get("generation", 0) < GENS // 2
                ):
                    return rid, st
            return None

        victim, st = wait_for(mid_run, proc=proc)
        assert st["pid"] != proc.pid  # a Ray worker executes it, not the driver
        assert st.get("executor") == "ray"
        os.kill(st["pid"], signal.SIGKILL)
        out, err = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    res = json.loads(out.strip().splitlines()[-1])
    assert set(res) == {"sweep", "runs", "statuses", "seconds"}
    assert res["sweep"] == sweep.sweep_id and res["runs"] == sweep.run_ids
    assert set(res["statuses"].values()) == {"finished"}
    assert (
        len([ln for ln in err.splitlines() if ln.startswith("[") and "/4] " in ln]) == 4
    )
    assert "ETA" in err
    # The killed run went on from its checkpoint in a new worker
    events = [r for r in store.read_metrics(victim) if "event" in r]
    resumes = [e for e in events if e["event"] == "resume"]
    assert resumes and resumes[-1]["from"] == "checkpoint"
    assert resumes[-1]["generation"] >= 2 and resumes[-1]["pid"] != st["pid"]
    gens = [r["generation"] for r in store.read_metrics(victim) if "event" not in r]
    assert gens == list(
        range(1, GENS + 1)
    )  # one row per generation, none lost or doubled
    # Runs carry the sweep in the store's index
    listed = json.loads(hades(env, "runs", "list", "--json", root=root).stdout)
    assert {r["id"] for r in listed if r["sweep"] == sweep.sweep_id} == set(
        sweep.run_ids
    )
    listed = json.loads(hades(env, "sweep", "list", "--json", root=root).stdout)
    assert [(s["sweep"], s["runs"], s["statuses"]) for s in listed] == [
        (sweep.sweep_id, 4, {"finished": 4})
    ]
    status = last_json(
        hades(env, "sweep", "status", sweep.sweep_id, "--json", root=root)
    )
    assert {r["status"] for r in status["rows"]} == {"finished"}
    assert all(
        r["progress"] == 1.0 and r["mean_dataset_return"] is not None
        for r in status["rows"]
    )

    # The same four runs one after another in one process
    ref = tmp_path / "here"
    out = hades(env, *grid, *long, "--ray", "none", "--json", root=ref)
    ref_id = last_json(out)["sweep"]
    got, want = datasets_by_slot(root, sweep.sweep_id), datasets_by_slot(ref, ref_id)
    assert got.keys() == want.keys() and len(got) == 4
    for slot in want:
        for k in want[slot]:
            np.testing.assert_array_equal(got[slot][k], want[slot][k], err_msg=slot)


def test_resume_after_ctrl_c_redoes_nothing_finished(env, tmp_path):
    root = tmp_path / "runs"
    cmd = ["sweep", "--env", "CartPole-v1", "--size", "2,4", "--seeds", "0-1"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", *cmd, *TINY, *RAY, "--runs", str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    store = RunStore(root)
    try:
        sweep = wait_for(lambda: sweep_of(root), proc=proc)

        def some_finished():
            st = {r: store.read_status(r)["status"] for r in sweep.run_ids}
            return st if "finished" in st.values() else None

        wait_for(some_finished, proc=proc)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, out + err
    assert f"hades sweep resume {sweep.sweep_id}" in out
    before = {r: store.read_status(r)["status"] for r in sweep.run_ids}
    done = [r for r, s in before.items() if s == "finished"]
    assert done and len(done) < 4, before
    assert "interrupted: stopping" in out
    for r, s in before.items():
        events = [e for e in store.read_metrics(r) if "event" in e]
        if s == "stopped":  # it was between chunks: checkpoint, then stopped
            assert events[-1]["event"] == "stop", events
            # stopped through the store ("message"), or by Ray's cancel of a task
            # that was just starting ("reason")
            last = events[-1]
            assert "interrupted" in (last.get("message"), last.get("reason")), last
        elif s != "finished":  # never started, or killed inside a compilation
            assert store.read_status(r)["message"] == "process died"
    files = {
        r: (store.paths(r).metrics.read_bytes(), store.paths(r).dataset.read_bytes())
        for r in done
    }
    status_files = {r: store.paths(r).status.read_bytes() for r in done}

    out = hades(env, "sweep", "resume", sweep.sweep_id, "--json", root=root)
    res = last_json(out)
    assert res["runs"] == sweep.run_ids
    assert set(res["statuses"].values()) == {"finished"}
    for r in done:  # untouched: no row, event, status or dataset rewritten
        assert (
            store.paths(r).metrics.read_bytes(),
            store.paths(r).dataset.read_bytes(),
        ) == files[r]
        assert store.paths(r).status.read_bytes() == status_files[r]
        assert f"run {r}: finished" in out.stderr
    assert f"{4 - len(done)} of 4 runs to execute" in out.stderr


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--env", "CartPole-v1,NoSuchEnv-v0"], "unknown environment 'NoSuchEnv-v0'"),
        (["--seeds", "3-1"], "--seeds 3-1: the range 3-1 ends below its start"),
        (["--set", "outer.lr=0.1,fast"], "outer.lr='fast' is invalid"),
        (["--ray", "127.0.0.1:1"], "cannot reach the Ray cluster at 127.0.0.1:1"),
        (["--ray", "ray://127.0.0.1:1"], "cannot reach the Ray cluster"),
        (["--ray", "nowhere"], "use local, none, auto"),
    ],
)
def test_bad_input_is_one_line_and_creates_nothing(env, tmp_path, args, says):
    root = tmp_path / "runs"
    out = hades(env, "sweep", *args, *TINY, root=root, rc=2, timeout=120)
    assert says in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert "Traceback" not in out.stderr
    assert not RunStore(root).list() and not record.list_sweeps(RunStore(root))
