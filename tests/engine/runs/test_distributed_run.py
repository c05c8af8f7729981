"""One run over two processes (jax.distributed, CPU collectives over gloo on
127.0.0.1), against the same run in one process with two devices.

Real `hades` processes: each process of the distributed run has one CPU device
(HADES_CPU_DEVICES=1); the reference has two (HADES_CPU_DEVICES=2).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from engine.runs import RunStore
from engine.runs.control import send
from tests.conftest import ROOT

TINY = {
    "outer.population": 8,
    "outer.generations": 8,
    "outer.chunk": 2,
    "outer.eval_every": 2,
    "inner.width": 16,
    "inner.steps": 10,
    "fitness.num_envs": 2,
    "fitness.num_steps": 50,
}
DISTILL = ["distill", "--env", "CartPole-v1", "--size", "4", "--seed", "0"]
for _k, _v in TINY.items():
    DISTILL += ["--set", f"{_k}={_v}"]


def _env(devices: int) -> dict:
    """The test process's environment less its own XLA flags (conftest's setup
    wrote this process's device count there; HADES_CPU_DEVICES decides here)."""
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    return {
        **env,
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": str(ROOT),
        "HADES_CPU_DEVICES": str(devices),
        "HADES_JAX_CACHE": "0",
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args, process_id=None, port=None, devices=1, n=2) -> subprocess.Popen:
    """`hades ARGS` (as process `process_id` of `n` when given)."""
    cmd = [sys.executable, "-m", "engine.cli", *args, "--json"]
    if process_id is not None:
        cmd += ["--distributed", "--coordinator", f"127.0.0.1:{port}"]
        cmd += ["--num-processes", str(n), "--process-id", str(process_id)]
        cmd += ["--heartbeat-timeout", "30"]
    return subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=_env(devices),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def two_processes(args_leader, args_follower=None):
    port = free_port()
    lead = start(args_leader, 0, port)
    follow = start(args_follower or args_leader, 1, port)
    return lead, follow


def finish(proc, timeout=600) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"hung: {err[-2000:]}") from None
    return proc.returncode, out, err


def last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def result(run_dir) -> tuple[dict, list[dict]]:
    """The run's dataset arrays and its per-generation metric values (no times)."""
    with np.load(Path(run_dir) / "dataset.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files if z[k].dtype.kind in "fiub"}
    keep = ("fitness", "best_fitness", "sigma", "lr", "bc_loss", "nan_count")
    rows = [
        {k: v for k, v in r.items() if k.startswith(keep) or k == "generation"}
        | {"mean_dataset_return": r.get("mean_dataset_return")}
        for r in RunStore(Path(run_dir).parent).read_metrics(Path(run_dir).name)
        if "event" not in r
    ]
    return arrays, rows


def assert_same(a, b) -> None:
    (arrays_a, rows_a), (arrays_b, rows_b) = a, b
    assert arrays_a.keys() == arrays_b.keys()
    for k in arrays_a:
        assert arrays_a[k].dtype == arrays_b[k].dtype
        assert np.array_equal(arrays_a[k], arrays_b[k]), k  # bit for bit
    assert rows_a == rows_b


def wait_for(pred, timeout=300.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return False


def only_run(root: Path) -> Path:
    runs = [p for p in root.iterdir() if (p / "config.json").is_file()]
    assert len(runs) == 1, runs
    return runs[0]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The tiny run in one process with two CPU devices."""
    root = tmp_path_factory.mktemp("reference")
    rc, out, err = finish(start([*DISTILL, "--runs", str(root)], devices=2))
    assert rc == 0, err[-3000:]
    return result(last_json(out)["run_dir"])


def _status(root: Path) -> dict:
    if not root.is_dir():
        return {}
    runs = [p for p in root.iterdir() if (p / "status.json").is_file()]
    return RunStore(root).read_status(runs[0].name) if runs else {}


@pytest.mark.slow
def test_two_processes_equal_one_process_with_two_devices(tmp_path, reference):
    root, elsewhere = tmp_path / "runs", tmp_path / "follower-runs"
    lead, follow = two_processes(
        [*DISTILL, "--runs", str(root)], [*DISTILL, "--runs", str(elsewhere)]
    )
    rc1, out1, err1 = finish(follow)
    rc0, out0, err0 = finish(lead)
    assert (rc0, rc1) == (0, 0), err0[-3000:] + err1[-3000:]
    summary, followed = last_json(out0), last_json(out1)
    assert summary["status"] == "finished" and summary["generations"] == 8
    assert followed["run_id"] == summary["run_id"] and followed["replicas_agree"]
    assert_same(result(summary["run_dir"]), reference)
    # Only process 0 wrote the store: the follower's own runs root was never made,
    # and the run records the leader as its one writer.
    assert not elsewhere.exists()
    assert only_run(root).name == summary["run_id"]
    st = RunStore(root).read_status(summary["run_id"])
    assert st["pid"] == lead.pid
    assert st["distributed"]["processes"] == 2 and st["distributed"]["agree"]
    digests = st["distributed"]["state_digests"]
    assert digests == [followed["state_digest"]] * 2


@pytest.mark.slow
def test_kill_a_process_the_run_fails_with_the_reason_and_resume_finishes(
    tmp_path, reference
):
    root = tmp_path / "runs"
    lead, follow = two_processes([*DISTILL, "--runs", str(root)])
    try:
        # "compiling" is written before the first chunk: a pause sent now holds
        # the run after that chunk, at generation 2 (a checkpoint).
        assert wait_for(lambda: _status(root).get("status") == "compiling")
        run_dir = only_run(root)
        send(run_dir, "pause")
        assert wait_for(lambda: _status(root).get("status") == "paused")
        assert _status(root)["generation"] == 2
        follow.kill()  # SIGKILL: no goodbye
        t0 = time.monotonic()
        rc0, out0, err0 = finish(lead, timeout=120)
        seconds = time.monotonic() - t0
    finally:
        for p in (lead, follow):
            if p.poll() is None:
                p.kill()
    assert rc0 == 1
    assert seconds < 60  # bounded: the next collective fails, no hang
    last = err0.strip().splitlines()[-1]
    assert last.startswith("hades: process 0 of 2 lost another process"), last
    st = RunStore(root).read_status(run_dir.name)
    assert st["status"] == "failed" and not st["alive"]
    assert "lost another process of the distributed run" in st["message"]
    assert f"hades resume {run_dir.name} --distributed" in st["message"]
    assert st["checkpoint_generation"] == 2

    resume = ["resume", run_dir.name, "--runs", str(root)]
    lead, follow = two_processes(resume)
    rc1, out1, err1 = finish(follow)
    rc0, out0, err0 = finish(lead)
    assert (rc0, rc1) == (0, 0), err0[-3000:] + err1[-3000:]
    assert last_json(out0)["status"] == "finished"
    assert last_json(out1)["generations"] == 8
    # Resumed from generation 2 and bit-identical to the uninterrupted run.
    events = RunStore(root).read_metrics(run_dir.name)
    assert [e.get("generation") for e in events if e.get("event") == "resume"] == [2]
    assert_same(result(run_dir), reference)


@pytest.mark.slow
def test_kill_process_0_the_other_stops_and_the_run_reads_failed(tmp_path):
    root = tmp_path / "runs"
    long = [*DISTILL, "--set", "outer.generations=100000", "--runs", str(root)]
    lead, follow = two_processes(long)
    try:
        assert wait_for(lambda: _status(root).get("generation", 0) >= 4)
        lead.kill()  # the writer and the coordination service go at once
        t0 = time.monotonic()
        rc1, _, err1 = finish(follow, timeout=120)
        seconds = time.monotonic() - t0
    finally:
        for p in (lead, follow):
            if p.poll() is None:
                p.kill()
    assert rc1 == 1 and seconds < 60
    last = err1.strip().splitlines()[-1]
    assert last.startswith("hades: process 1 of 2 lost another process"), last
    # Nobody is left to write the reason: the store reads the dead writer.
    st = _status(root)
    assert st["status"] == "failed" and st["message"] == "process died"
    assert st["resumable"] and not st["alive"]


@pytest.mark.parametrize("target", [0, 1])
def test_ctrl_c_on_one_process_stops_every_process_at_one_chunk(tmp_path, target):
    """A signal to any process stops the whole run at the next chunk boundary:
    process 0 stops as a single-process run does and tells the others; another
    process says so in the exchange before that chunk. Both shut down together."""
    root = tmp_path / "runs"
    long = [*DISTILL, "--set", "outer.generations=100000", "--runs", str(root)]
    procs = two_processes(long)
    try:
        assert wait_for(lambda: _status(root).get("generation", 0) >= 4)
        procs[target].send_signal(signal.SIGINT)
        rc1, out1, err1 = finish(procs[1], timeout=120)
        rc0, out0, err0 = finish(procs[0], timeout=120)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    want = (130, 0) if target == 0 else (0, 130)
    assert (rc0, rc1) == want, err0[-3000:] + err1[-3000:]
    if target == 1:
        assert "process 1 of 2: stopping the run at the end of this chunk" in err1
    lead_sum, follow_sum = last_json(out0), last_json(out1)
    assert lead_sum["status"] == follow_sum["status"] == "stopped"
    assert lead_sum["generations"] == follow_sum["generations"] >= 4
    st = _status(root)
    reason = "interrupted" if target == 0 else "interrupted (process 1)"
    assert st["status"] == "stopped" and st["message"] == reason
    assert st["checkpoint_generation"] == lead_sum["generations"]
    assert st["distributed"]["agree"]  # the same ES state on both processes


@pytest.mark.slow
def test_live_control_reaches_every_process_at_the_same_chunk(tmp_path, reference):
    root = tmp_path / "runs"
    lead, follow = two_processes([*DISTILL, "--runs", str(root)])
    try:
        assert wait_for(lambda: _status(root).get("status") == "compiling")
        run_dir = only_run(root)
        send(run_dir, "pause")
        assert wait_for(lambda: _status(root).get("status") == "paused")
        time.sleep(2.0)  # the followers wait through several rounds
        send(run_dir, "set", {"lr": 0.02, "sigma": 0.05})
        send(run_dir, "continue")
        rc1, out1, err1 = finish(follow)
        rc0, out0, err0 = finish(lead)
    finally:
        for p in (lead, follow):
            if p.poll() is None:
                p.kill()
    assert (rc0, rc1) == (0, 0), err0[-3000:] + err1[-3000:]
    events = RunStore(root).read_metrics(run_dir.name)
    control = [e for e in events if e.get("event") == "control"]
    assert [(c["generation"], c["lr"], c["sigma"]) for c in control] == [
        (2, 0.02, 0.05)
    ]
    arrays, rows = result(run_dir)
    assert [round(r["lr"], 6) for r in rows] == [0.05] * 2 + [0.02] * 6
    # Every process applied it at generation 2: their ES states agree bit for bit
    # (a process that missed it would hold another mean and another lr).
    st = RunStore(root).read_status(run_dir.name)
    assert st["distributed"]["agree"]
    assert st["distributed"]["state_digests"][1] == last_json(out1)["state_digest"]
    assert rows[:2] == reference[1][:2]  # the same run up to the change...
    assert rows[2:] != reference[1][2:]  # ...then another one


def _bad(args, devices=1) -> tuple[int, str]:
    rc, out, err = finish(start(args, devices=devices), timeout=300)
    return rc, err


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--distributed", "--num-processes", "2", "--process-id", "2"],
         "--process-id 2 with --num-processes 2: process ids go from 0 to 1"),
        (["--distributed", "--num-processes", "2", "--process-id", "1"],
         "--num-processes 2 needs --coordinator HOST:PORT"),
        (["--distributed", "--num-processes", "0"], "needs at least 1"),
        (["--distributed", "--coordinator", "head-node"], "use HOST:PORT"),
        (["--coordinator", "127.0.0.1:1234", "--num-processes", "2"],
         "--coordinator, --num-processes go with --distributed"),
    ],
)  # fmt: skip
def test_mismatched_distributed_flags_one_line_no_run(tmp_path, flags, message):
    root = tmp_path / "runs"
    env = {k: v for k, v in _env(1).items() if not k.startswith(("SLURM", "OMPI"))}
    out = subprocess.run(
        [sys.executable, "-m", "engine.cli", *DISTILL, "--runs", str(root), *flags],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hades: "), out.stderr
    assert message in lines[0]
    assert not root.exists()  # nothing was created


def test_no_coordinator_answering_and_a_taken_port_one_line(tmp_path):
    root = tmp_path / "runs"
    port = free_port()
    rc, err = _bad(
        [*DISTILL, "--runs", str(root), "--distributed", "--coordinator",
         f"127.0.0.1:{port}", "--num-processes", "2", "--process-id", "1",
         "--init-timeout", "2"]
    )  # fmt: skip
    assert rc == 2 and err.strip().count("\n") == 0
    assert "nothing answered within 2 s" in err
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        taken = s.getsockname()[1]
        rc, err = _bad(
            [*DISTILL, "--runs", str(root), "--distributed", "--coordinator",
             f"127.0.0.1:{taken}", "--num-processes", "2", "--process-id", "0"]
        )  # fmt: skip
    assert rc == 2 and "process 0 cannot listen on port" in err
    assert not root.exists()


def test_population_that_does_not_split_over_the_devices(tmp_path):
    """One process of a distributed run with 4 devices: population 6 cannot split
    evenly over them; said before any run is created."""
    root = tmp_path / "runs"
    rc, err = _bad(
        [*DISTILL, "--set", "outer.population=6", "--runs", str(root),
         "--distributed", "--coordinator", f"127.0.0.1:{free_port()}",
         "--num-processes", "1", "--process-id", "0"],
        devices=4,
    )  # fmt: skip
    assert rc == 2, err
    assert "outer.population 6 does not split over the 4 devices" in err
    assert not root.exists()


@pytest.mark.slow
def test_resume_of_an_unknown_run_stops_every_process_with_the_reason(tmp_path):
    root = tmp_path / "runs"
    lead, follow = two_processes(["resume", "no-such-run", "--runs", str(root)])
    rc0, _, err0 = finish(lead, timeout=300)
    rc1, _, err1 = finish(follow, timeout=300)
    assert (rc0, rc1) == (2, 2), err0 + err1
    assert "no-such-run" in err0.strip().splitlines()[-1]
    last = err1.strip().splitlines()[-1]
    assert last.startswith("hades: process 1 of 2: process 0 did not start the run")
    assert "no-such-run" in last


@pytest.mark.slow
def test_a_brax_env_over_two_processes_equals_one_process(tmp_path):
    """Brax builds its model on `jax.devices()[0]`, process 0's device: the other
    process must build it on its own (`engine.envs.brax_env`)."""
    hopper = ["distill", "--env", "hopper", "--size", "4", "--preset", "bench-hopper"]
    for k, v in {
        "outer.population": 4,
        "outer.generations": 4,
        "outer.chunk": 2,
        "inner.width": 16,
        "inner.steps": 5,
        "fitness.num_envs": 1,
        "fitness.num_steps": 32,
    }.items():
        hopper += ["--set", f"{k}={v}"]
    rc, out, err = finish(start([*hopper, "--runs", str(tmp_path / "ref")], devices=2))
    assert rc == 0, err[-3000:]
    reference = result(last_json(out)["run_dir"])
    lead, follow = two_processes([*hopper, "--runs", str(tmp_path / "runs")])
    rc1, out1, err1 = finish(follow)
    rc0, out0, err0 = finish(lead)
    assert (rc0, rc1) == (0, 0), err0[-3000:] + err1[-3000:]
    assert last_json(out1)["replicas_agree"]
    assert_same(result(last_json(out0)["run_dir"]), reference)
