"""`hades study size-sweep ... --ray local`: the study's runs are created first,
executed as Ray tasks (in Ray workers, not the study's process), then analysed."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from engine.runs import RunStore
from tests.conftest import ROOT

# One local Ray instance at a time: under `pytest -n 2` these share one worker.
pytestmark = pytest.mark.xdist_group("ray")

pytest.importorskip("ray", reason="Ray is in the test extra: pip install -e .[test]")

TINY = [
    "--sizes", "1,2",
    "--generations", "4",
    "--population", "8",
    "--eval-inits", "2",
    "--set", "inner.width=16",
    "--set", "inner.steps=10",
    "--set", "fitness.num_envs=2",
    "--set", "fitness.num_steps=50",
    "--set", "outer.chunk=2",
    "--set", "outer.eval_every=2",
]  # fmt: skip


def test_size_sweep_runs_execute_on_ray(tmp_path):
    root = tmp_path / "runs"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HADES_CPU_DEVICES": "1"}
    env.pop("XLA_FLAGS", None)  # this process's engine.setup() flags
    out = subprocess.run(
        [sys.executable, "-m", "engine.cli", "study", "size-sweep", *TINY]
        + ["--ray", "local", "--local-cpus", "2", "--runs", str(root), "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=800,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["sizes"] == [1, 2] and len(res["final_return"]) == 2
    assert "execute runs 0/2" in out.stderr  # all created before any executed
    assert out.stderr.count("on Ray") == 2
    store = RunStore(root)
    rows = store.list(study=res["study_id"])
    assert sorted(r["id"] for r in rows) == sorted(res["runs"])
    for rid in res["runs"]:
        st = store.read_status(rid)
        assert st["status"] == "finished"
        assert st["executor"] == "ray"  # a Ray worker ran it, then the study read it
