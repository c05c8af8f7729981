"""`hades sweep --ray ADDRESS` joins an existing cluster: a `ray start --head`
bound to 127.0.0.1, reached by its GCS address (host:port) and by Ray Client
(ray://host:port). The cluster outlives the sweeps; each sweep only disconnects."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

from engine.runs import RunStore
from tests.conftest import ROOT

# One local Ray instance at a time: under `pytest -n 2` these share one worker.
pytestmark = pytest.mark.xdist_group("ray")

pytest.importorskip("ray", reason="Ray is in the test extra: pip install -e .[test]")

TINY = [
    "--set", "outer.population=8",
    "--set", "outer.generations=4",
    "--set", "outer.chunk=2",
    "--set", "outer.eval_every=2",
    "--set", "inner.width=16",
    "--set", "inner.steps=10",
    "--set", "fitness.num_envs=2",
    "--set", "fitness.num_steps=50",
]  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def cluster():
    """A one-node Ray cluster on 127.0.0.1 with 2 CPUs, as `ray start` makes one."""
    ray_cli = shutil.which("ray") or pytest.skip("the ray command is not installed")
    port, client_port = free_port(), free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "HADES_CPU_DEVICES": "1",
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",  # keep the node on loopback
        "RAY_USAGE_STATS_ENABLED": "0",
    }
    env.pop("RAY_ADDRESS", None)
    env.pop("XLA_FLAGS", None)  # this process's engine.setup() flags
    head = subprocess.Popen(
        [ray_cli, "start", "--head", "--block", "--node-ip-address=127.0.0.1"]
        + [f"--port={port}", f"--ray-client-server-port={client_port}"]
        + ["--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while not (reachable(port) and reachable(client_port)):
            assert head.poll() is None, "ray start --head exited"
            assert time.monotonic() < deadline, "the Ray head did not come up"
            time.sleep(0.5)
        yield {"gcs": f"127.0.0.1:{port}", "client": f"ray://127.0.0.1:{client_port}"}
    finally:
        head.send_signal(signal.SIGTERM)  # --block: stops the node's processes
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait()


@pytest.mark.parametrize("kind", ["gcs", "client"])
def test_sweep_on_an_existing_cluster(cluster, kind, tmp_path):
    root = tmp_path / "runs"
    # `ray start` turned Ray's token authentication on (~/.ray/auth_token): a
    # driver joining it says so, as Ray's documentation asks
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAY_AUTH_MODE": "token"}
    out = subprocess.run(
        [sys.executable, "-m", "engine.cli", "sweep", "--seeds", "0-1", *TINY]
        + ["--ray", cluster[kind], "--runs", str(root), "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert set(res["statuses"].values()) == {"finished"}
    store = RunStore(root)
    for rid in res["runs"]:
        assert store.read_status(rid)["executor"] == "ray"
    assert reachable(int(cluster["gcs"].rsplit(":", 1)[1]))  # the cluster lives on
