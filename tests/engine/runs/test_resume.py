"""Crash safety and resume (engine/runs): stop/resume is bit-identical, a kill -9 of
a headless run loses at most the generations since its last checkpoint, is read
as `failed: process died`, and resumes to the same result."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
from conftest import ROOT

from engine import presets
from engine.runs import Control, Runner, RunStore
from engine.runs import checkpoint as ckpt_lib
from engine.runs.cli import main as runs_main

REPO = ROOT
TINY = {
    "outer.population": 8, "outer.generations": 10000, "outer.chunk": 2,
    "inner.steps": 10, "inner.width": 16, "fitness.num_steps": 50,
    "fitness.num_envs": 2, "outer.eval_every": 2,
}  # fmt: skip


def tiny_cfg(extra=None):
    """The tests' config: runs are bounded with run(generations=...)."""
    return presets.make("quick", "CartPole-v1", 4, 0).with_overrides(
        {**TINY, **(extra or {})}
    )


def _arrays(path):
    flat = ckpt_lib.read(path)
    flat.pop("meta")
    return flat


def _same_arrays(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype, k
        assert np.array_equal(a[k], b[k]), k


def test_stop_then_resume_is_bit_identical(tmp_path):
    store = RunStore(tmp_path)
    straight = Runner.create(tiny_cfg(), root=tmp_path, name="straight")
    assert straight.run(generations=6)["status"] == "finished"

    stopped = Runner.create(tiny_cfg(), root=tmp_path, name="stopped")
    control = Control()

    def progress(ev):
        if ev["kind"] == "chunk" and ev["generation"] == 2:
            control.stop()

    first = stopped.run(progress_fn=progress, control=control, generations=6)
    assert first["status"] == "stopped" and first["generations"] == 2
    assert store.read_status(stopped.run_id)["status"] == "stopped"
    assert [g for g, _ in store.checkpoints(stopped.run_id)] == [2]
    second = Runner.open(stopped.run_id, root=tmp_path).run()
    assert second["status"] == "finished" and second["generations"] == 6

    a, b = store.load_dataset(straight.run_id), store.load_dataset(stopped.run_id)
    assert np.array_equal(a.states, b.states) and np.array_equal(a.labels, b.labels)
    _same_arrays(
        _arrays(store.checkpoints(straight.run_id)[-1][1]),
        _arrays(store.checkpoints(stopped.run_id)[-1][1]),
    )
    # The metrics are those of the straight run, one row per generation
    strip = ("time", "seconds_per_generation", "compiled")
    rows = [
        [
            {k: v for k, v in r.items() if k not in strip}
            for r in store.read_metrics(run)
            if "event" not in r
        ]
        for run in (straight.run_id, stopped.run_id)
    ]
    assert rows[0] == rows[1]
    # A finished run can be extended
    more = Runner.open(stopped.run_id, root=tmp_path).run(generations=8)
    assert more["generations"] == 8 and more["status"] == "finished"


def test_kill9_of_headless_run_then_resume(tmp_path):
    root = tmp_path / "runs"
    cfg_file = tmp_path / "config.json"
    cfg_file.write_text(tiny_cfg().to_json())
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    log = open(tmp_path / "worker.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "engine.runs.worker",
            str(cfg_file),
            str(root),
            "--name",
            "victim",
            "--quiet",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=tmp_path,
    )
    store = RunStore(root)
    try:
        deadline = time.monotonic() + 120
        run_id = None
        while time.monotonic() < deadline and proc.poll() is None:
            runs = store.run_dirs()
            if runs:
                run_id = runs[0].name
                if len(store.checkpoints(run_id)) >= 3:
                    break
            time.sleep(0.05)
        assert run_id is not None and proc.poll() is None, (
            tmp_path / "worker.log"
        ).read_text()
        # A reader in another process sees the live run from disk
        live = store.read_status(run_id)
        assert live["status"] == "running" and live["alive"]
        assert live["pid"] == proc.pid
        assert len(store.read_metrics(run_id)) > 1
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()

    # Dead writer: read as failed, process died, resumable
    st = store.read_status(run_id)
    assert st["status"] == "failed" and st["message"] == "process died"
    assert st["recorded_status"] in ("running", "compiling") and st["resumable"]
    assert store.list()[0]["status"] == "failed"
    ckpts = store.checkpoints(run_id)
    last_gen, last_path = ckpts[-1]
    rows = store.read_metrics(run_id)
    done = max(r["generation"] for r in rows if "event" not in r)
    assert done - last_gen <= 2  # at most the chunk since the last checkpoint
    # Resume from the checkpoint before the last one and run to the last one:
    # the state must equal what the killed process wrote there.
    reference = _arrays(last_path)
    last_path.unlink()
    resumed_from = ckpts[-2][0]
    summary = Runner.open(run_id, root=root).run(generations=last_gen)
    assert summary["status"] == "finished" and summary["generations"] == last_gen
    assert summary["stale_lock"]["pid"] == proc.pid
    _same_arrays(reference, _arrays(store.checkpoints(run_id)[-1][1]))
    rows = store.read_metrics(run_id)
    resume = [r for r in rows if r.get("event") == "resume"][-1]
    assert resume["generation"] == resumed_from and resume["from"] == "checkpoint"
    gens = [r["generation"] for r in rows if "event" not in r]
    assert gens == list(range(1, last_gen + 1))  # no duplicates, no gaps
    # And it goes on with `hades resume` (the CLI entry)
    code = runs_main(
        [
            "resume",
            run_id,
            "--runs",
            str(root),
            "--generations",
            str(last_gen + 2),
            "--json",
            "--quiet",
        ]
    )
    assert code == 0
    assert store.read_status(run_id)["generation"] == last_gen + 2
    ds = json.loads((root / run_id / "status.json").read_text())
    assert ds["status"] == "finished"
