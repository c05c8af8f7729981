"""What a Ray worker runs for one run: it refuses a runs root it cannot see, and
its XLA CPU devices follow the run's claim, not the flags of whoever started Ray."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from engine.runs import RunStore
from engine.runs.errors import RunError
from engine.sweeps.task import execute_run
from tests.conftest import ROOT


def test_a_worker_that_cannot_see_the_runs_root_says_so(tmp_path):
    root = tmp_path / "not-mounted-here"
    with pytest.raises(RunError, match="shared filesystem that every Ray node"):
        execute_run("20260101-000000-abcdef", str(root))
    assert not root.exists()  # nothing created in its place
    root.mkdir()
    with pytest.raises(RunError, match="has no run 20260101-000000-abcdef on node"):
        execute_run("20260101-000000-abcdef", str(root))


def test_devices_follow_the_claim_not_the_inherited_flags():
    # A driver that ran engine.setup() on 2 cores exports this to Ray's workers
    code = (
        "import jax, engine\n"
        "from engine.sweeps.task import _drop_inherited_device_flags\n"
        "_drop_inherited_device_flags()\n"
        "engine.setup(cpu_devices=1)\n"
        "print(jax.device_count())\n"
    )
    inherited = (
        "--xla_cpu_enable_concurrency_optimized_scheduler=false "
        "--xla_force_host_platform_device_count=2 --xla_cpu_multi_thread_eigen=false"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XLA_FLAGS": inherited}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-1] == "1"


def test_sigterm_to_a_sweep_executing_here_stops_its_run_at_a_chunk(tmp_path):
    """--ray none executes the runs in the driver: the first SIGTERM stops the run
    executing at its next chunk boundary (checkpoint, stopped) and starts no
    other."""
    root = tmp_path / "runs"
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env.update(PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", HADES_CPU_DEVICES="1")
    tiny = ["--set", "outer.population=8", "--set", "outer.chunk=2"]
    tiny += ["--set", "inner.width=16", "--set", "inner.steps=10"]
    tiny += ["--set", "fitness.num_envs=2", "--set", "fitness.num_steps=50"]
    cmd = [sys.executable, "-m", "engine.cli", "sweep", "--env", "CartPole-v1"]
    cmd += ["--seeds", "0-1", "--ray", "none", "--runs", str(root), *tiny]
    long = cmd + ["--set", "outer.generations=100000", "--set", "outer.eval_every=1000"]
    proc = subprocess.Popen(
        long, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    store = RunStore(root)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            rows = [store.read_status(r["run_id"]) for r in store.list()]
            if any((st.get("generation") or 0) >= 4 for st in rows):
                break
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, out + err
    assert "stopping the run at the end of this chunk" in err
    statuses = {r["run_id"]: store.read_status(r["run_id"]) for r in store.list()}
    stopped = [st for st in statuses.values() if st["status"] == "stopped"]
    assert len(stopped) == 1 and stopped[0]["message"] == "interrupted", statuses
    assert stopped[0]["checkpoint_generation"] == stopped[0]["generation"] >= 4
    # The other run never started (it reads failed: its driver is gone; `hades
    # sweep resume` executes it)
    others = [st for st in statuses.values() if st["status"] != "stopped"]
    assert [(st["recorded_status"], st["generation"]) for st in others] == [
        ("queued", 0)
    ]
