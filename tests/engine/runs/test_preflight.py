"""Before a run: the estimate is printed, and a run above an hour on a CPU asks for
--yes in a terminal (and only warns elsewhere)."""

from __future__ import annotations

import io
import os
import pty
import select
import signal
import subprocess
import sys
import time

import jax
import pytest
from conftest import ROOT

from engine import presets
from engine.runs import RunError, RunStore
from engine.runs.preflight import LONG_RUN_SECONDS, check_run_length

pytestmark = pytest.mark.skipif(
    jax.default_backend() != "cpu", reason="the long-run warning is for CPUs"
)


def test_estimate_line_and_the_long_run_rule(tmp_path):
    store = RunStore(tmp_path / "runs")
    quick = presets.make("quick", "CartPole-v1", 4, 0)
    out = io.StringIO()
    p = check_run_length(quick, store, out=out, is_interactive=True)
    assert p.total_seconds < LONG_RUN_SECONDS
    line = out.getvalue()
    assert line.startswith("estimate: ~") and "per generation on cpu" in line
    assert f"{quick.outer.generations} generations" in line and "warning" not in line
    paper = presets.make("paper", "hopper", 4, 0)
    # In a terminal: refused until --yes
    out = io.StringIO()
    with pytest.raises(RunError, match="pass --yes"):
        check_run_length(paper, store, out=out, is_interactive=True)
    assert "--preset quick" in out.getvalue() and "GPU" in out.getvalue()
    out = io.StringIO()
    assert check_run_length(paper, store, yes=True, out=out, is_interactive=True)
    # Without a terminal: the warning, then the run starts
    out = io.StringIO()
    p = check_run_length(paper, store, out=out, is_interactive=False)
    assert p.long_on_cpu and "starting anyway" in out.getvalue()
    # A resume estimates the generations left
    few = check_run_length(paper, store, generations=1, out=io.StringIO())
    assert few.generations == 1 and few.total_seconds < p.total_seconds


def _env():
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def test_long_cpu_run_in_a_terminal_needs_yes(tmp_path):
    runs = tmp_path / "runs"
    master, slave = pty.openpty()  # hades in a pseudo-terminal
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "distill", "--env", "hopper",
         "--preset", "paper", "--runs", str(runs)],
        cwd=ROOT, env=_env(), stdin=slave, stdout=slave, stderr=slave,
    )  # fmt: skip
    os.close(slave)
    out = b""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        r, _, _ = select.select([master], [], [], 1.0)
        if r:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    os.close(master)
    rc = proc.wait(timeout=60)
    text = out.decode(errors="replace")
    assert rc == 2, text
    assert "this run would take about" in text and "--preset quick" in text
    assert "pass --yes" in text and "Traceback" not in text
    assert not runs.exists() or not [p for p in runs.iterdir() if p.is_dir()]


def test_long_cpu_run_without_a_terminal_warns_and_starts(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "distill", "--env", "CartPole-v1",
         "--generations", "100000", "--runs", str(tmp_path / "runs")],
        cwd=ROOT, env=_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        first = proc.stdout.readline()  # "run <id> in <dir>": it started
        assert first.startswith("run "), first
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=300)
    assert "this run would take about" in err and "starting anyway" in err
    assert proc.returncode in (0, 130)
