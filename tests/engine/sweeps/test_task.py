"""What a Ray worker runs for one run: it refuses a runs root it cannot see, and
its XLA CPU devices follow the run's claim, not the flags of whoever started Ray."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

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
